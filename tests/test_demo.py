from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from reportkit.sources.demo import build_demo, ensure_demo
from reportkit.sources.local import LocalEngine

BODY = {
    "event_name": "Charged",
    "from": 20261101,
    "to": 20261110,
    "groups": {
        "p": {"property_type": "event_properties", "name": "Payment Mode"},
        "a": {"property_type": "event_properties", "name": "Amount"},
        "c": {"property_type": "profile_fields", "name": "Customer Type"},
        "s": {"property_type": "session_properties", "name": "utm_source"},
    },
}


def top(path: Path) -> dict:
    engine = LocalEngine(path, read_only=True)
    try:
        status, body = engine.answer("/1/counts/top.json", BODY)
        assert status == 200, body
        return body
    finally:
        engine.close()


def test_same_seed_same_data_and_days_agree_across_build_dates(tmp_path: Path) -> None:
    a = build_demo(tmp_path / "a.duckdb", events=20_000, seed=3, end=date(2026, 11, 20), days=60)
    b = build_demo(tmp_path / "b.duckdb", events=20_000, seed=3, end=date(2026, 11, 20), days=60)
    build_demo(tmp_path / "c.duckdb", events=20_000, seed=3, end=date(2026, 11, 27), days=60)
    assert a.events == b.events and a.start == date(2026, 9, 22)
    assert top(tmp_path / "a.duckdb") == top(tmp_path / "b.duckdb") == top(tmp_path / "c.duckdb")
    d = build_demo(tmp_path / "d.duckdb", events=20_000, seed=4, end=date(2026, 11, 20), days=60)
    assert top(tmp_path / "d.duckdb") != top(tmp_path / "a.duckdb")
    assert d.profiles == a.profiles


def test_demo_has_skew_and_missing_values(tmp_path: Path) -> None:
    build_demo(tmp_path / "a.duckdb", events=20_000, end=date(2026, 11, 20), days=60)
    body = top(tmp_path / "a.duckdb")
    assert "-1" in body["p"]["STR"] and "-1" in body["s"]["STR"]
    counts = list(body["c"]["STR"].values())
    assert counts == sorted(counts, reverse=True) and counts[0] > 3 * counts[-1]
    assert "NUMBER" in body["a"]


def test_ensure_demo_builds_when_missing_and_when_stale(tmp_path: Path) -> None:
    path = tmp_path / "demo.duckdb"
    ensure_demo(path, date(2026, 11, 30))
    assert path.is_file()
    stamp = path.stat().st_mtime_ns
    ensure_demo(path, date(2026, 11, 30))
    assert path.stat().st_mtime_ns == stamp
    ensure_demo(path, date(2026, 12, 5))
    engine = LocalEngine(path, read_only=True)
    try:
        n = engine.answer(
            "/1/counts/events.json",
            {"event_name": "App Launched", "from": 20261204, "to": 20261204},
        )
        assert n[1]["count"] > 0
    finally:
        engine.close()


def test_two_first_runs_at_once_share_one_demo_build(tmp_path: Path) -> None:
    import subprocess
    import sys

    definition = Path(__file__).resolve().parent.parent / "reports" / "charged-breakdown.yaml"

    def start(name: str) -> subprocess.Popen[str]:
        args = ["run", str(definition), "--as-of", "2026-11-30", "--format", "md", "--quiet"]
        args += ["--state-dir", str(tmp_path / "state"), "--out", str(tmp_path / name)]
        return subprocess.Popen(
            [sys.executable, "-m", "reportkit", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    runs = [start("a"), start("b")]
    for proc in runs:
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
    assert sorted(p.name for p in (tmp_path / "state").iterdir() if "demo" in p.name) == [
        "demo.duckdb"
    ]
    first = (tmp_path / "a" / "charged-breakdown" / "2026-11-29" / "results.json").read_text()
    second = (tmp_path / "b" / "charged-breakdown" / "2026-11-29" / "results.json").read_text()
    assert first.split('"generated_at"')[0] == second.split('"generated_at"')[0]


def test_any_events_over_any_days_builds(tmp_path: Path) -> None:
    """Events that do not divide evenly by the days (3,448.27... a day) once overflowed a
    decimal in the generator's SQL."""
    for events, days in ((1_000, 7), (12_345, 33), (200_000, 58)):
        path = tmp_path / f"demo-{events}-{days}.duckdb"
        info = build_demo(path, events=events, seed=7, end=date(2026, 11, 30), days=days)
        con = duckdb.connect(str(path), read_only=True)
        try:
            per_day = con.execute("SELECT count(DISTINCT day) FROM events").fetchone()
        finally:
            con.close()
        assert per_day == (days,)
        assert 0.5 * events < info.events < 2 * events
