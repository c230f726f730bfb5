"""Benchmark of the local engine: prints ratios side by side, asserts nothing.

    python bench/engine.py [--events 10000000]

1. builds a demo store of N events (default 10 million);
2. times one top.json query with two groups over the last 30 days, against a hand-written DuckDB
   GROUP BY on typed columns holding the same data (same process, same DuckDB), and against
   pandas value_counts on the same rows already in memory;
3. times importing 1 million JSON Lines events, each import in a fresh process so that its peak
   memory (max RSS) is its own: the clean file (DuckDB's NDJSON reader), and the same file with
   one bad last line under --skip-invalid (the line-numbered pass that locates bad records).

    python bench/engine.py --events 0     # the import part only
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any


def best(fn: Callable[[], Any], runs: int = 7) -> float:
    fn()  # warm up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--import-events", type=int, default=1_000_000)
    parser.add_argument("--import-runs", type=int, default=3)
    parser.add_argument("--child-import", nargs=2, metavar=("FILE", "SKIP_INVALID"))
    args = parser.parse_args()
    if args.child_import:
        child_import(Path(args.child_import[0]), args.child_import[1] == "1")
        return
    with tempfile.TemporaryDirectory(prefix="rk-bench-") as tmp:
        if args.events:
            bench_engine(Path(tmp), args.events)
        bench_import(Path(tmp), args.import_events, args.import_runs)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (max RSS of this process, imports not included): {peak:.0f} MB")


def bench_engine(tmp: Path, events: int) -> None:
    from reportkit.sources.demo import build_demo
    from reportkit.sources.local import LocalEngine

    end = date(2026, 11, 27)
    start = time.perf_counter()
    info = build_demo(tmp / "demo.duckdb", events=events, end=end)
    print(
        f"demo build: {info.events:,} events, {info.profiles:,} profiles in "
        f"{time.perf_counter() - start:.1f} s"
    )

    lo, hi = end - timedelta(days=29), end
    body = {
        "event_name": "Product Viewed",
        "from": int(lo.strftime("%Y%m%d")),
        "to": int(hi.strftime("%Y%m%d")),
        "groups": {
            "cat": {"property_type": "event_properties", "name": "Category"},
            "src": {"property_type": "session_properties", "name": "utm_source"},
        },
    }
    engine = LocalEngine(tmp / "demo.duckdb")
    con = engine.connection
    cols = dict(
        con.execute(
            "SELECT name, col FROM props WHERE name IN ('Category', 'utm_source')"
        ).fetchall()
    )
    con.execute(
        f"""CREATE TABLE baseline AS SELECT e.eid, e.day,
            e.{cols["Category"]} AS category, e.{cols["utm_source"]} AS utm_source
            FROM events e ORDER BY eid, day"""
    )
    eid = con.execute("SELECT eid FROM event_names WHERE name = 'Product Viewed'").fetchone()[0]

    def hand_written() -> list[Any]:
        cur = con.cursor()
        out = [
            cur.execute(
                f"SELECT {c}, count(*) AS n FROM baseline WHERE eid = {eid}"
                " AND day BETWEEN ? AND ? GROUP BY 1 ORDER BY n DESC, 1 LIMIT 10",
                [lo, hi],
            ).fetchall()
            for c in ("category", "utm_source")
        ]
        cur.close()
        return out

    import pandas as pd

    frame = con.execute("SELECT * FROM baseline").df()
    frame["category"] = frame["category"].astype(object)
    frame["utm_source"] = frame["utm_source"].astype(object)

    def with_pandas() -> list[Any]:
        sel = frame[
            (frame["eid"] == eid)
            & (frame["day"] >= pd.Timestamp(lo))
            & (frame["day"] <= pd.Timestamp(hi))
        ]
        return [sel[c].value_counts(dropna=False).head(10) for c in ("category", "utm_source")]

    status, answer = engine.answer("/1/counts/top.json", body)
    assert status == 200, answer
    t_engine = best(lambda: engine.answer("/1/counts/top.json", body))
    t_hand = best(hand_written)
    t_pandas = best(with_pandas, runs=3)
    print(f"top.json, 2 groups, 30 days, {events:,} events in the store:")
    print(f"  reportkit engine     {t_engine * 1000:8.1f} ms   1.00x")
    print(
        f"  hand-written DuckDB  {t_hand * 1000:8.1f} ms   engine/hand = {t_engine / t_hand:.2f}x"
    )
    print(
        f"  pandas value_counts  {t_pandas * 1000:8.1f} ms   pandas/engine = "
        f"{t_pandas / t_engine:.1f}x"
    )
    engine.close()


def write_events(path: Path, count: int) -> None:
    rnd = random.Random(1)
    with path.open("w") as f:
        for i in range(count):
            f.write(
                json.dumps(
                    {
                        "event_name": rnd.choice(["Charged", "App Launched", "Product Viewed"]),
                        "ts": 1_790_000_000 + i * 7,
                        "profile": {
                            "identity": f"u{rnd.randrange(50_000)}",
                            "platform": "Android",
                            "profileData": {"Customer Type": rnd.choice(["Gold", "Silver"])},
                        },
                        "event_props": {
                            "Amount": rnd.randrange(1000),
                            "Product": rnd.choice("ABCDE"),
                        },
                        "session_props": {"utm_source": rnd.choice(["google", "direct"])},
                    }
                )
                + "\n"
            )


def child_import(path: Path, skip_invalid: bool) -> None:
    """One import into a new store; prints seconds, events loaded and this process's max RSS."""
    from reportkit.store.importer import import_events

    with tempfile.TemporaryDirectory(prefix="rk-import-") as tmp:
        start = time.perf_counter()
        summary = import_events(Path(tmp) / "import.duckdb", [path], skip_invalid=skip_invalid)
        seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "loaded": summary.loaded, "rss_mb": _peak_rss_mb()}))


def _peak_rss_mb() -> float:
    """This process's own peak RSS. (ru_maxrss would carry the parent's peak across exec.)"""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_import(path: Path, skip_invalid: bool, runs: int) -> tuple[list[float], float, int]:
    times, rss, loaded = [], 0.0, 0
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, __file__, "--child-import", str(path), "1" if skip_invalid else "0"],
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        times.append(result["seconds"])
        rss = max(rss, result["rss_mb"])
        loaded = result["loaded"]
    return times, rss, loaded


def bench_import(tmp: Path, count: int, runs: int) -> None:
    clean = tmp / "events.jsonl"
    write_events(clean, count)
    dirty = tmp / "dirty.jsonl"
    shutil.copyfile(clean, dirty)
    with dirty.open("a") as f:
        f.write("{not json\n")
    size = clean.stat().st_size / 1e6
    fast, fast_rss, loaded = run_import(clean, False, runs)
    exact, exact_rss, _ = run_import(dirty, True, max(1, runs - 1))
    print(f"import: {loaded:,} JSON Lines events ({size:.0f} MB), each run in a fresh process:")
    print(
        f"  clean file (DuckDB NDJSON reader)     min {min(fast):5.1f} s  median "
        f"{statistics.median(fast):5.1f} s  {loaded / min(fast):9,.0f} events/s"
        f"  peak RSS {fast_rss:5.0f} MB"
    )
    print(
        f"  one bad line, --skip-invalid          min {min(exact):5.1f} s  median "
        f"{statistics.median(exact):5.1f} s  {loaded / min(exact):9,.0f} events/s"
        f"  peak RSS {exact_rss:5.0f} MB   ({min(exact) / min(fast):.1f}x the clean file)"
    )


if __name__ == "__main__":
    main()
