"""One read of a JSON Lines file: a header that fixes the schema DuckDB's reader detects.

DuckDB's `read_json`, left to detect a file's schema, refuses a record holding a key its schema
lacks ("has unknown key"), but it detects types from a sample and converts later values to
them (1.5 becomes 2 in a BIGINT column, true becomes 1). Given a schema instead, it converts
nothing it should not, but drops unknown keys without a word. A header of two records written
before the file's own records settles both: every key a sample of the file shows, with a string
in one record and a number in the other, so that the reader detects every value as JSON (whose
text keeps its type) and every container as a struct, and then reads the file's records with its
check that no key is unknown. A key the sample missed makes the read fail, and the file is read
the two-read way instead.

The reader checks unknown keys only where it reads every column whole, so the stage's SQL
refers to every top-level column and to each container as a whole (see `jsonlines`).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

# A top-level key only the header's records hold (the stage drops the records that have it),
# and a key every container gets in the header, so that each is detected as a struct even when
# the sample shows none of its keys. The stage checks that no record of the file holds either.
MARK = "reportkit header"
HOLE = "reportkit hole"
HEADER_RECORDS = 2

_HEAD = 1 << 20  # the first MiB of the file ...
_WINDOWS = 64  # ... and this many windows spread over the rest ...
_WINDOW = 32 << 10  # ... of 32 KiB each
_BOM = b"\xef\xbb\xbf"


def write_sample(file: Path, target: Path) -> None:
    """Whole lines from the head of `file` and from windows spread evenly over the rest: the
    keys a file holds anywhere show up in them, short of rare ones."""
    size = file.stat().st_size
    with file.open("rb") as source, target.open("wb") as out:
        head = source.read(_HEAD)
        if len(head) == size:
            out.write(head)
            return
        out.write(head[: head.rfind(b"\n") + 1])
        step = (size - _HEAD) // _WINDOWS
        for i in range(_WINDOWS):
            source.seek(_HEAD + i * step)
            window = source.read(_WINDOW)
            start = window.find(b"\n") + 1  # the first line may start before the window
            end = window.rfind(b"\n") + 1
            if 0 < start < end:
                out.write(window[start:end])


def header(
    top: Sequence[str],
    profile: Sequence[str],
    containers: Mapping[str, Sequence[str]],
    profile_containers: Mapping[str, Sequence[str]],
    text: Collection[tuple[str, str]],
) -> bytes:
    """The header's records: `top` are the keys of a record that are not containers, `profile`
    the keys of a profile that are not containers; each container with its keys. Every value
    is detected as JSON but those in `text`, (where, key) pairs (where: "" for a record's keys,
    "profile" for a profile's, else the container), detected as text: strings in both."""

    def record(index: int) -> dict[str, object]:
        def leaves(where: str, keys: Sequence[str]) -> dict[str, object]:
            return {k: ("a", "b" if (where, k) in text else 0)[index] for k in keys}

        def box(where: str, keys: Sequence[str]) -> dict[str, object]:
            return {**leaves(where, keys), HOLE: ("a", 0)[index]}

        inner = leaves("profile", profile)
        inner.update({c: box(c, ks) for c, ks in profile_containers.items()})
        return {
            MARK: ("a", 0)[index],
            **leaves("", top),
            "profile": inner,
            **{c: box(c, ks) for c, ks in containers.items()},
        }

    lines = [json.dumps(record(index), ensure_ascii=False) for index in (0, 1)]
    return ("\n".join(lines) + "\n").encode("utf-8")


def write_headed(file: Path, head: bytes, target: Path) -> None:
    """`head`, then the file's bytes (without a byte order mark, which only a file's first
    line may carry)."""
    with file.open("rb") as source, target.open("wb") as out:
        out.write(head)
        out.flush()
        offset = len(_BOM) if source.read(len(_BOM)) == _BOM else 0
        size = os.fstat(source.fileno()).st_size
        try:  # in the kernel, without passing the bytes through this process
            while offset < size:
                copied = os.copy_file_range(source.fileno(), out.fileno(), size - offset, offset)
                if not copied:
                    break
                offset += copied
        except (AttributeError, OSError):  # not Linux, or a file system that cannot
            source.seek(offset)
            shutil.copyfileobj(source, out, 1 << 20)
            offset = size
    if offset < size:
        raise OSError(f"{file}: changed while it was read")


_FOLDER = "reportkit-import-"


def scratch_folder(beside: str) -> tempfile.TemporaryDirectory[str]:
    """A folder in `beside` for a headed copy, named with this process's id. Folders that
    processes no longer running left there (an import killed outright cannot remove its copy)
    are removed first."""
    for path in Path(beside).glob(f"{_FOLDER}*-*"):
        pid = path.name.removeprefix(_FOLDER).split("-", 1)[0]
        if pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(path, ignore_errors=True)
    return tempfile.TemporaryDirectory(prefix=f"{_FOLDER}{os.getpid()}-", dir=beside)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # another user's, or not a pid: not ours to remove
    return True
