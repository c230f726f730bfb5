"""Report folders swapped whole: leftovers of dead runs, the lock, and an interrupt on every line."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

import reportkit.publish.folders
import reportkit.publish.staging
from reportkit.errors import RenderError
from reportkit.language.model import OutputSpec
from reportkit.publish.folders import publish_report
from reportkit.publish.staging import clear_leftovers, locked, staging_for, sweep
from tests.report_fixtures import count_query, make_report

DAY = "2026-11-29"
HTML = OutputSpec(formats=("html",))


def whole(folder: Path) -> str:
    """The report's title, once its manifest was checked against every file there."""
    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    listed = {f["path"]: f["sha256"] for f in manifest["files"]}
    on_disk = {p.name for p in folder.iterdir()} - {"manifest.json"}
    assert on_disk == set(listed)
    for name, digest in listed.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
    return str(manifest["title"])


def hidden(parent: Path) -> list[str]:
    return sorted(name for name in os.listdir(parent) if name.startswith("."))


def test_leftovers_of_dead_runs_go_and_a_report_lost_mid_swap_comes_back(tmp_path: Path) -> None:
    final = tmp_path / DAY
    (tmp_path / f".{DAY}.old-1-1").mkdir()  # a run died between the swap's two renames
    (tmp_path / f".{DAY}.old-1-1" / "report.html").write_text("the previous report")
    (tmp_path / f".{DAY}.tmp-dead").mkdir()  # a run died while rendering
    (tmp_path / f".{DAY}.tmp-dead" / "results.json").write_text("{}")
    (tmp_path / ".keep-me").write_text("not ours")
    with staging_for(final) as live:  # a live run, building right now
        assert (final / "report.html").read_text() == "the previous report"
        assert hidden(tmp_path) == sorted([".keep-me", live.name])
        with locked(tmp_path):
            assert clear_leftovers(tmp_path) == []  # the live one stays
    assert hidden(tmp_path) == [".keep-me"]


def test_an_old_folder_beside_a_report_is_removed(tmp_path: Path) -> None:
    (tmp_path / DAY).mkdir()
    (tmp_path / f".{DAY}.old-7-7").mkdir()
    with locked(tmp_path):
        assert clear_leftovers(tmp_path) == [f".{DAY}.old-7-7"]
    assert os.listdir(tmp_path) == [DAY]


def test_waiting_for_the_lock_is_bounded(tmp_path: Path) -> None:
    with (
        locked(tmp_path),
        pytest.raises(RenderError, match="another reportkit run"),
        locked(tmp_path, wait=0.1),
    ):
        pass  # pragma: no cover
    with locked(tmp_path, wait=0.1):  # released again
        pass


# Between taking a descriptor out of a handle and closing it there is nowhere safe to stop: an
# interrupt there leaks the descriptor (and its flock) until the process ends, which for the CLI
# is a moment later. That window is left out; everything else must be interruptible.
UNINTERRUPTED = {reportkit.publish.staging._Handle.close.__code__}


def interrupt_on_line(number: int, files: set[str]) -> Callable[..., Any]:
    """A trace function that raises KeyboardInterrupt on the `number`-th line run in `files`,
    as a signal handler would there; tracing stops by itself once it has raised."""
    seen = 0

    def local(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal seen
        if event == "line":
            seen += 1
            if seen == number:
                raise KeyboardInterrupt(f"line {number}")
        return local

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        code = frame.f_code
        return local if code.co_filename in files and code not in UNINTERRUPTED else None

    return tracer


# An interrupt on the line of a `with` as it exits skips the file's close: Python's own window,
# closed by the garbage collector, which then warns. Not what this test is about.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_an_interrupt_on_any_line_of_a_publish_leaves_one_whole_report(tmp_path: Path) -> None:
    files = {reportkit.publish.staging.__file__, reportkit.publish.folders.__file__}
    report = make_report(queries=(count_query(),))
    previous = "first"
    publish_report(tmp_path, replace(report, title=previous), HTML)
    parent = tmp_path / "weekly-ecommerce"
    interrupted = 0
    for number in range(1, 10_000):
        title = f"interrupted on line {number}"
        sys.settrace(interrupt_on_line(number, files))
        try:
            publish_report(tmp_path, replace(report, title=title), HTML)
        except KeyboardInterrupt:
            interrupted += 1
        else:
            break  # the publish ran past its last line: every line was tried
        finally:
            sys.settrace(None)
        assert whole(parent / DAY) in {previous, title}, number
        sweep(tmp_path)  # what an interrupted `reportkit run` does on its way out
        assert hidden(parent) == [], number
        previous = f"after line {number}"
        publish_report(tmp_path, replace(report, title=previous), HTML)  # no lock left held
        assert whole(parent / DAY) == previous
    assert interrupted > 50  # the trace reached the lines it was meant to
