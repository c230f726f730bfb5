"""The demo generator at the edges of its dates and sizes: one line, nothing left behind."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from reportkit.cli import cli
from reportkit.errors import InvalidInput
from reportkit.sources.demo import MAX_DAYS, MAX_EVENTS, build_demo


@pytest.mark.parametrize("end", [date(2038, 1, 20), date(2040, 1, 1), date(2999, 12, 31)])
def test_a_demo_past_2038_counts_its_seconds_in_64_bits(tmp_path: Path, end: date) -> None:
    db = tmp_path / "d.duckdb"
    info = build_demo(db, events=300, days=3, end=end)
    assert info.end == end and db.is_file()
    assert not list(tmp_path.glob("*.building*"))
    con = duckdb.connect(str(db), read_only=True)
    try:
        first, last = con.execute("SELECT min(day), max(day) FROM events").fetchone() or (0, 0)
        assert (first, last) == (info.start, end)
        (profile_ts,) = con.execute("SELECT min(ts) FROM profile_history").fetchone() or (0,)
        assert profile_ts == (info.start - date(1970, 1, 1)).days * 86400
    finally:
        con.close()


@pytest.mark.parametrize(
    ("events", "days", "end", "message"),
    [
        (5_000_000_000, 10, date(2026, 1, 1), "demo events must be between 1 and 100,000,000"),
        (0, 10, date(2026, 1, 1), "demo events must be between 1 and"),
        (1000, 1_000_000, date(2026, 1, 1), f"demo days must be between 1 and {MAX_DAYS:,}"),
        (1000, 400, date(1970, 6, 1), "demo data ending on 1970-06-01 over 400 days"),
        (1000, 10, date(9999, 12, 31), "demo data ending on 9999-12-31"),
    ],
)
def test_a_demo_too_large_or_out_of_dates_is_refused_and_leaves_nothing(
    tmp_path: Path, events: int, days: int, end: date, message: str
) -> None:
    db = tmp_path / "d.duckdb"
    with pytest.raises(InvalidInput, match=f"^{message}"):
        build_demo(db, events=events, days=days, end=end)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "args", [["--events", "5000000000"], ["--events", str(MAX_EVENTS + 1)], ["--days", "1000000"]]
)
def test_the_demo_command_refuses_sizes_it_cannot_make(tmp_path: Path, args: list[str]) -> None:
    db = tmp_path / "d.duckdb"
    result = CliRunner().invoke(cli, ["demo", "--db", str(db), *args])
    assert result.exit_code == 2
    assert "Traceback" not in result.output and "is not in the range" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_run_as_of_2040_on_the_demo_source_works(tmp_path: Path) -> None:
    report = tmp_path / "r.yaml"
    report.write_text(
        "version: 1\ntitle: t\nwindow: yesterday\nqueries:\n  - {id: q, event: Charged, kind: count}\n"
    )
    state = tmp_path / "state"
    # a small demo store that already covers the day, so the run does not build the big one
    build_demo(state / "demo.duckdb", events=2000, days=5, end=date(2039, 12, 31))
    args = ["run", str(report), "--as-of", "2040-01-01", "--state-dir", str(state), "-q"]
    result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "out"), "--format", "md"])
    assert result.exit_code == 0, result.output
    assert not list(state.glob("*.building*"))
