"""The same 12-query report on the local engine, DuckDB over Parquet and Spark local, as ratios
side by side, and what a backfill of 52 weekly reports costs each way, the CleverTap API included.

The report: 4 events x 3 windows (last 7, 30 and 90 days) x 3 groups (city, OS, customer type),
12 top.json requests (the report of bench/api.py). Steps:

1. build a demo store of --events events over 100 days (default 1 million; the issue's figure is 10 million:
   `--events 10000000`) and export it with `reportkit export`;
2. answer the report once to warm each engine up, then --rounds times, and print the best wall
   time of each, with its ratio to the local engine;
3. through the CleverTap emulator at real-service pacing (--latency seconds per answer,
   --partial-polls "partial" answers, at most 3 requests in flight): time one report and
   extrapolate to 52 reports; the engines' 52 reports are extrapolated from their best time.

    python bench/warehouse.py                                   # 1M events, about 5 minutes
    python bench/warehouse.py --events 10000000 --skip-api      # the issue's size
Asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.api import END, merged_requests  # the same 12-request report
from reportkit.plan import Request
from reportkit.sources.clevertap import AccountLimiter, clevertap_source_from_env
from reportkit.sources.demo import build_demo
from reportkit.sources.emulator import start_emulator
from reportkit.sources.execute import execute
from reportkit.sources.local import LocalEngine, LocalSource
from reportkit.sources.warehouse import open_warehouse
from reportkit.store.export import export_store

WEEKS = 52


def _time(source: Any, requests: list[Request], rounds: int) -> float:
    answers = execute(requests, source, max_workers=getattr(source, "max_in_flight", 6))
    assert not answers.failures, answers.failures  # warm-up, and a check that it works
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        execute(requests, source, max_workers=getattr(source, "max_in_flight", 6))
        best = min(best, time.perf_counter() - started)
    return best


def _api(engine: LocalEngine, requests: list[Request], latency: float, polls: int) -> float:
    emulator = start_emulator(engine, latency=latency, partial_polls=polls)
    try:
        env = {
            "CLEVERTAP_ACCOUNT_ID": "BENCH",
            "CLEVERTAP_PASSCODE": "bench-passcode",
            "CLEVERTAP_BASE_URL": emulator.url,
        }
        source = clevertap_source_from_env(
            env, poll_interval=latency, query_timeout=3600, limiter=AccountLimiter(3)
        )
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=len(requests)) as pool:
            list(pool.map(source.execute, requests))
        source.close()
        return time.perf_counter() - started
    finally:
        emulator.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency", type=float, default=10.0, help="seconds per API answer")
    parser.add_argument("--partial-polls", type=int, default=1)
    parser.add_argument("--skip-api", action="store_true", help="estimate the API run instead")
    parser.add_argument("--no-spark", action="store_true")
    args = parser.parse_args()
    requests = merged_requests()

    with tempfile.TemporaryDirectory() as tmp:
        store, folder = Path(tmp) / "bench.duckdb", Path(tmp) / "warehouse"
        started = time.perf_counter()
        info = build_demo(store, events=args.events, end=END, days=100)
        built = time.perf_counter() - started
        started = time.perf_counter()
        export_store(store, folder)
        exported = time.perf_counter() - started
        print(f"{info.events} events: demo built in {built:.1f} s, exported in {exported:.1f} s")

        engine = LocalEngine(store, read_only=True)
        engines: list[tuple[str, Any]] = [
            ("local engine (DuckDB store)", LocalSource(engine, "local")),
            ("warehouse:parquet: (DuckDB)", open_warehouse(f"parquet:{folder}")),
        ]
        if not args.no_spark:
            started = time.perf_counter()
            spark = open_warehouse(f"spark:{folder}")
            print(f"SparkSession started in {time.perf_counter() - started:.1f} s")
            engines.append(("warehouse:spark: (local[2])", spark))
        print(f"\n{len(requests)}-request report, best of {args.rounds}:", flush=True)
        base = 0.0
        for name, source in engines:  # each line as soon as it is measured: Spark takes a while
            seconds = _time(source, requests, args.rounds)
            base = base or seconds
            print(
                f"  {name:30s} {seconds:7.2f} s  {seconds / base:6.2f}x local"
                f"   {WEEKS} weekly reports: {WEEKS * seconds / 60:6.1f} min",
                flush=True,
            )

        k, latency = args.partial_polls, args.latency
        per_request = (1 + k) * latency + k * latency
        estimate = -(-len(requests) // 3) * per_request
        if args.skip_api:
            api, label = estimate, "estimated"
        else:
            api, label = _api(engine, requests, latency, k), "measured"
        print(
            f"  {'CleverTap API (emulator)':30s} {api:7.2f} s  {api / base:6.2f}x local"
            f"   {WEEKS} weekly reports: {WEEKS * api / 3600:6.1f} h ({label}; {latency:g} s"
            f" per answer, {k} partial, 3 in flight)"
        )
        for _, source in engines:
            source.close()


if __name__ == "__main__":
    main()
