"""Mutated event files through `reportkit import` (issue 7).

Every case ends in exit 0, or in exit 2 with one line naming the file (and the line of the bad
record); never a traceback. A failed import leaves the store exactly as it was, and
`--skip-invalid` accounts for every record: loaded or skipped with a reason. A file that DuckDB's
fast reader takes must load exactly as it does through the line-numbered pass.
"""

from __future__ import annotations

import atexit
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reportkit.cli import cli

GOOD: dict[str, Any] = {
    "event_name": "Charged",
    "ts": 20261120134501,
    "profile": {
        "identity": "u1",
        "platform": "Android",
        "profileData": {"Customer Type": "Gold", "Age": 31},
    },
    "event_props": {"Amount": 250, "Product": "Shoes", "Paid": "$D_1790000000"},
    "session_props": {"utm_source": "google"},
}
TABLES = ("meta", "event_names", "identities", "props", "events", "profile_history", "profiles")
BLANK = b" \t\r\x0b\x0c"
FUZZ = settings(
    max_examples=20,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- what a store holds, and running the command ------------------------------------------------


def snapshot(db: Path) -> dict[str, Any] | None:
    """Every row of every table (None when there is no store)."""
    if not db.exists():
        return None
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = {
            str(r[0]) for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
        }
        return {
            t: (
                [str(c[0]) for c in con.execute(f"DESCRIBE {t}").fetchall()],
                con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall(),
            )
            for t in TABLES
            if t in tables
        }
    finally:
        con.close()


def event_count(db: Path) -> int:
    snap = snapshot(db)
    return len(snap["events"][1]) if snap else 0


def run_import(file: Path, db: Path, *extra: str) -> Result:
    args = ["import", str(file), "--db", str(db), "--allow-duplicate-file", *extra]
    return CliRunner().invoke(cli, args)


_TEMPLATE: list[Path] = []


def template_store() -> Path:
    """A store holding one event, built once and copied for every case."""
    if not _TEMPLATE:
        folder = Path(tempfile.mkdtemp(prefix="reportkit-fuzz-"))
        atexit.register(shutil.rmtree, folder, True)
        base = folder / "base.jsonl"
        base.write_text(json.dumps(GOOD) + "\n")
        assert run_import(base, folder / "template.duckdb").exit_code == 0
        _TEMPLATE.append(folder / "template.duckdb")
    return _TEMPLATE[0]


def store_copy(folder: Path, name: str) -> Path:
    db = folder / name
    shutil.copyfile(template_store(), db)
    return db


@contextmanager
def base_store() -> Iterator[tuple[Path, Path]]:
    """A folder with a store that already holds an event, and that store's path."""
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp), store_copy(Path(tmp), "store.duckdb")


def check_outcome(result: Result, file: Path, db: Path, before: Any) -> int | None:
    """The invariants of one import; the number of events loaded, or None when it failed."""
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        lines = result.stderr.splitlines()
        assert len(lines) == 1, result.stderr
        assert re.fullmatch(rf"error: {re.escape(str(file))}(:\d+)?: \S.*", lines[0]), lines[0]
        assert snapshot(db) == before
        return None
    assert result.exit_code == 0, result.output
    match = re.search(r"loaded (\d+) events", result.stdout)
    assert match, result.stdout
    return int(match.group(1))


def skipped_count(result: Result) -> int:
    match = re.search(r"skipped (\d+) invalid records", result.stderr)
    return int(match.group(1)) if match else 0


# -- JSON Lines mutations -----------------------------------------------------------------------

hostile_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [
            "",
            "$D_",
            "$D_-1",
            "$D_99999999999999999999999",
            "20261120134501",
            "2026-11-20",
            "x" * 5000,
            "\x00",
            "\u2028",
            "{{ 7*7 }}",
        ]
    ),
    st.text(max_size=20),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
key_paths = st.sampled_from(
    [
        ("event_name",),
        ("ts",),
        ("profile",),
        ("profile", "identity"),
        ("profile", "objectId"),
        ("profile", "platform"),
        ("profile", "profileData"),
        ("profile", "profileData", "Customer Type"),
        ("profile", "demographics"),
        ("event_props",),
        ("event_props", "Amount"),
        ("event_props", "Paid"),
        ("session_props",),
    ]
)


def deep(depth: int) -> bytes:
    return b'{"event_name": "Deep", "ts": 1790000000, "profile": {"identity": "d"},' + (
        b'"event_props": {"x": ' + b"[" * depth + b"]" * depth + b"}}"
    )


@st.composite
def changed_record(draw: st.DrawFn) -> bytes:
    record = json.loads(json.dumps(GOOD))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(key_paths)
        parent = record
        for key in path[:-1]:
            if not isinstance(parent.get(key), dict):
                parent[key] = {}
            parent = parent[key]
        if draw(st.booleans()):
            parent.pop(path[-1], None)
        else:
            parent[path[-1]] = draw(hostile_values)
        if draw(st.booleans()):
            record["event_props"] = {draw(st.text(max_size=8)): draw(hostile_values)}
    return json.dumps(record, ensure_ascii=draw(st.booleans())).encode()


@st.composite
def mangled_bytes(draw: st.DrawFn) -> bytes:
    line = json.dumps(GOOD, ensure_ascii=False).encode()
    at = draw(st.integers(0, len(line)))
    how = draw(st.sampled_from(["cut", "insert", "replace"]))
    junk = draw(
        st.one_of(
            st.binary(min_size=1, max_size=4),
            st.sampled_from([b"\x00", b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xef\xbb\xbf"]),
        )
    )
    if how == "cut":
        return line[:at]
    if how == "insert":
        return line[:at] + junk + line[at:]
    return line[:at] + junk + line[at + len(junk) :]


json_lines = st.lists(
    st.one_of(
        st.just(json.dumps(GOOD).encode()),
        changed_record(),
        mangled_bytes(),
        st.sampled_from([b"", b"   ", b"\t\r", b"null", b"[]", b"42", b'"x"', b"{}", deep(300)]),
    ),
    max_size=6,
)


def record_count(data: bytes) -> int:
    """Lines that are not blank: every one is either loaded or skipped with a reason."""
    lines = data.split(b"\n")
    if lines and lines[0].startswith(b"\xef\xbb\xbf"):
        lines[0] = lines[0][3:]
    return sum(1 for line in lines if line.strip(BLANK))


@FUZZ
@given(lines=json_lines, crlf=st.booleans())
def test_mutated_json_lines_load_or_fail_cleanly(lines: list[bytes], crlf: bool) -> None:
    data = b"".join(line + (b"\r\n" if crlf else b"\n") for line in lines)
    with base_store() as (folder, db):
        file = folder / "events.jsonl"
        file.write_bytes(data)
        before = snapshot(db)
        loaded = check_outcome(run_import(file, db), file, db, before)
        if loaded is not None:
            assert loaded == record_count(data)
            assert event_count(db) == 1 + loaded

        skip_db = store_copy(folder, "skip.duckdb")
        result = run_import(file, skip_db, "--skip-invalid")
        skip_loaded = check_outcome(result, file, skip_db, None)
        assert skip_loaded is not None, "--skip-invalid never fails on a JSON Lines file"
        skipped = skipped_count(result)
        assert skip_loaded + skipped == record_count(data)
        assert event_count(skip_db) == 1 + skip_loaded
        if loaded is not None:
            assert skipped == 0
            assert snapshot(skip_db) == snapshot(db)

        # One unparsable line more sends the file through the line-numbered pass.
        exact_file = folder / "events-exact.jsonl"
        exact_file.write_bytes(data + b"{not json\n")
        exact_db = store_copy(folder, "exact.duckdb")
        result = run_import(exact_file, exact_db, "--skip-invalid")
        assert result.exit_code == 0, result.output
        assert skipped_count(result) == skipped + 1
        assert snapshot(exact_db) == snapshot(skip_db)


# -- CSV mutations ------------------------------------------------------------------------------

HEADER = [
    "event_name",
    "ts",
    "identity",
    "platform",
    "event.Amount",
    "event.Product",
    "profile.Age",
]
ROW = ["Charged", "20261120134501", "u1", "Android", "250", "Shoes", "31"]
hostile_fields = st.one_of(
    st.sampled_from(
        [
            "",
            "nan",
            "inf",
            "-1e400",
            "1e308",
            "-5",
            "abc",
            '"',
            'a"b',
            "x,y",
            "line\nbreak",
            "\x00",
            "$D_99999999999999999999999",
            "$D_1790000000",
            "2026-11-20",
            "true",
            "12:30:00",
            "0x10",
            "x" * 5000,
        ]
    ),
    st.text(max_size=12),
)


@st.composite
def csv_row(draw: st.DrawFn) -> list[str]:
    row = list(ROW)
    for _ in range(draw(st.integers(0, 3))):
        row[draw(st.integers(0, len(row) - 1))] = draw(hostile_fields)
    how = draw(st.sampled_from(["keep", "keep", "keep", "drop", "add"]))
    if how == "drop":
        row.pop()
    elif how == "add":
        row.append("extra")
    return row


def csv_bytes(rows: list[list[str]]) -> bytes:
    return "".join(_csv_line(row) for row in rows).encode("utf-8", "surrogatepass")


def _csv_line(row: list[str]) -> str:
    import csv
    import io

    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(row)
    return out.getvalue()


@st.composite
def csv_file(draw: st.DrawFn) -> bytes:
    header = list(HEADER)
    change = draw(st.sampled_from(["none"] * 8 + ["drop", "duplicate", "unknown", "bom", "empty"]))
    if change == "empty":
        return b""
    if change == "drop":
        header.remove(draw(st.sampled_from(["event_name", "ts", "identity"])))
    elif change == "duplicate":
        header[-1] = header[-2]
    elif change == "unknown":
        header[-1] = "Amount"
    lines = [csv_bytes([header])]
    for row in draw(st.lists(csv_row(), max_size=6)):
        line = csv_bytes([row])
        if draw(st.integers(0, 4)) == 0:  # damage the bytes of this line
            at = draw(st.integers(0, len(line) - 1))
            junk = draw(st.sampled_from([b"\xff", b"\x00", b'"', b"\xc3\x28", b"\r"]))
            line = line[:at] + junk + line[at:]
        lines.append(line)
    data = b"".join(lines)
    return b"\xef\xbb\xbf" + data if change == "bom" else data


@FUZZ
@given(data=csv_file())
def test_mutated_csv_loads_or_fails_cleanly(data: bytes) -> None:
    with base_store() as (folder, db):
        file = folder / "events.csv"
        file.write_bytes(data)
        before = snapshot(db)
        normal = run_import(file, db)
        loaded = check_outcome(normal, file, db, before)

        skip_db = store_copy(folder, "skip.duckdb")
        skip_before = snapshot(skip_db)
        result = run_import(file, skip_db, "--skip-invalid")
        skip_loaded = check_outcome(result, file, skip_db, skip_before)
        if skip_loaded is None:  # a problem with the whole file (its header), not a record
            assert result.stderr == normal.stderr
            assert not re.search(r":(\d+): ", result.stderr) or ":1: " in result.stderr
            return
        assert event_count(skip_db) == 1 + skip_loaded
        if loaded is not None:
            assert skipped_count(result) == 0
            assert snapshot(skip_db) == snapshot(db)

        # A record with a field too many sends the file through the line-numbered rewrite.
        exact_file = folder / "events-exact.csv"
        exact_file.write_bytes(data + b"\n" + csv_bytes([[*ROW, "extra"]]))
        exact_db = store_copy(folder, "exact.duckdb")
        exact = run_import(exact_file, exact_db, "--skip-invalid")
        assert exact.exit_code == 0, exact.output
        assert skipped_count(exact) == skipped_count(result) + 1
        assert snapshot(exact_db) == snapshot(skip_db)


# -- the real command, in its own process -------------------------------------------------------

NASTY = {
    "binary.jsonl": bytes(range(256)) * 4,
    "nul.jsonl": b'{"event_name": "A\x00", "ts": 1790000000, "profile": {"identity": "u"}}\n\x00\n',
    "latin1.csv": "event_name,ts,identity\nCafé,1790000000,u\n".encode("latin-1"),
    "ragged.csv": b"event_name,ts,identity\nA,1790000000,u\nB,1790000000,u,extra\n",
    "deep.jsonl": deep(100_000) + b"\n",
}


def test_the_command_never_shows_a_traceback() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in NASTY.items():
            file = Path(tmp) / name
            file.write_bytes(data)
            db = store_copy(Path(tmp), f"{name}.duckdb")
            before = snapshot(db)
            out = subprocess.run(
                [sys.executable, "-m", "reportkit", "import", str(file), "--db", str(db)],
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert "Traceback" not in out.stderr, out.stderr
            assert out.returncode in (0, 2), (name, out.returncode, out.stderr)
            if out.returncode == 2:
                assert re.fullmatch(rf"error: {re.escape(str(file))}(:\d+)?: \S.*\n", out.stderr)
                assert snapshot(db) == before
