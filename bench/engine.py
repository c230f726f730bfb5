"""Benchmark of the local engine: prints ratios side by side, asserts nothing.

    /work/venv/bin/python bench/engine.py [--events 10000000]

1. builds a demo store of N events (default 10 million);
2. times one top.json query with two groups over the last 30 days, against a hand-written DuckDB
   GROUP BY on typed columns holding the same data (same process, same DuckDB), and against
   pandas value_counts on the same rows already in memory;
3. times importing 1 million JSON Lines events; prints peak memory (max RSS).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
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
    args = parser.parse_args()

    from reportkit.importer import import_events
    from reportkit.sources.demo import build_demo
    from reportkit.sources.local import LocalEngine

    tmp = Path(tempfile.mkdtemp(prefix="rk-bench-"))
    end = date(2026, 11, 27)
    start = time.perf_counter()
    info = build_demo(tmp / "demo.duckdb", events=args.events, end=end)
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
    print(f"top.json, 2 groups, 30 days, {args.events:,} events in the store:")
    print(f"  reportkit engine     {t_engine * 1000:8.1f} ms   1.00x")
    print(
        f"  hand-written DuckDB  {t_hand * 1000:8.1f} ms   engine/hand = {t_engine / t_hand:.2f}x"
    )
    print(
        f"  pandas value_counts  {t_pandas * 1000:8.1f} ms   pandas/engine = "
        f"{t_pandas / t_engine:.1f}x"
    )
    engine.close()
    frame = frame.iloc[0:0]  # free the copy before the import benchmark

    rnd = random.Random(1)
    path = tmp / "events.jsonl"
    with path.open("w") as f:
        for i in range(args.import_events):
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
    start = time.perf_counter()
    summary = import_events(tmp / "import.duckdb", [path])
    print(
        f"import: {summary.loaded:,} JSON Lines events "
        f"({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - start:.1f} s"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (max RSS of this process): {peak:.0f} MB")


if __name__ == "__main__":
    main()
