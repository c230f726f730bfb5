"""Stale numbers: the answer cache must never serve an answer the data has since changed."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from reportkit.cli import cli
from reportkit.sources.cache import cache_namespace
from reportkit.sources.local import LocalEngine, LocalSource
from reportkit.store.importer import import_events

REPORT = """version: 1
title: t
window: {from: 2026-11-01, to: 2026-11-15}
queries:
  - {id: charged, event: Charged, kind: count}
"""


def events(path: Path, day: int, n: int, first: int = 0) -> Path:
    lines = [
        json.dumps(
            {
                "event_name": "Charged",
                "ts": 20261100120000 + day * 1_000_000,
                "profile": {"identity": f"u{first + i}"},
            }
        )
        for i in range(n)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def run_count(tmp_path: Path, store: Path) -> int:
    report = tmp_path / "r.yaml"
    report.write_text(REPORT)
    out = tmp_path / "out"
    args = ["run", str(report), "--as-of", "2026-11-30", "--source", f"local:{store}", "-q"]
    args += ["--out", str(out), "--state-dir", str(tmp_path / "state"), "--format", "md"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    data = json.loads((out / "r" / "2026-11-15" / "results.json").read_text())
    count = data["queries"]["charged"]["count"]
    assert isinstance(count, int)
    return count


def test_a_second_import_into_a_past_window_changes_the_next_runs_numbers(tmp_path: Path) -> None:
    store = tmp_path / "s.duckdb"
    import_events(store, [events(tmp_path / "a.jsonl", 10, 3)])
    assert run_count(tmp_path, store) == 3
    assert run_count(tmp_path, store) == 3  # from the cache: the window is complete
    import_events(store, [events(tmp_path / "b.jsonl", 12, 4, first=10)])
    assert run_count(tmp_path, store) == 7


def test_a_store_made_again_at_the_same_path_is_not_answered_from_the_old_ones_cache(
    tmp_path: Path,
) -> None:
    store = tmp_path / "s.duckdb"
    import_events(store, [events(tmp_path / "a.jsonl", 10, 3)])
    assert run_count(tmp_path, store) == 3
    store.unlink()
    import_events(store, [events(tmp_path / "b.jsonl", 10, 5)])  # generation 1 again
    assert run_count(tmp_path, store) == 5


def test_the_namespace_follows_every_import_and_nothing_else(tmp_path: Path) -> None:
    store = tmp_path / "s.duckdb"
    import_events(store, [events(tmp_path / "a.jsonl", 10, 1)])
    seen = []
    for _ in range(2):
        source = LocalSource(LocalEngine(store, read_only=True), f"local:{store}")
        seen.append(cache_namespace(source))
        source.close()
    import_events(store, [events(tmp_path / "b.jsonl", 11, 1, first=5)])
    source = LocalSource(LocalEngine(store, read_only=True), f"local:{store}")
    seen.append(cache_namespace(source))
    source.close()
    assert seen[0] == seen[1] != seen[2]
    assert all(s.startswith(f"local:{store}\n") for s in seen)


def test_demo_stores_of_another_seed_or_size_do_not_share_answers(tmp_path: Path) -> None:
    from reportkit.sources.demo import build_demo

    names = []
    for seed, size in ((1, 500), (2, 500), (1, 600)):
        path = tmp_path / f"d{seed}-{size}.duckdb"
        build_demo(path, events=size, seed=seed, days=5)
        engine = LocalEngine(path, read_only=True)
        names.append(engine.data_generation())
        engine.close()
    assert len(set(names)) == 3
    again = tmp_path / "again.duckdb"
    build_demo(again, events=500, seed=1, days=5)
    engine = LocalEngine(again, read_only=True)
    assert engine.data_generation() == names[0]
    engine.close()
