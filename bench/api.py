"""How long a report takes over the CleverTap protocol, against the bound the concurrency limit sets.

A report of 12 queries: 4 events x 3 windows (last 7, 30 and 90 days), each asking 3 groups
(city, OS, customer type). Groups of one event and window go in one request, so the client sends
12 merged requests, at most 3 in flight. The emulator answers every request after `--latency`
seconds and `partial` `--partial-polls` times before `success`, so one request takes
    per_request = (1 + K) * latency + K * poll_interval
and 12 requests through 3 slots cannot finish before
    bound = ceil(12 / 3) * per_request.
The naive client sends one request per group (36), one at a time: 36 * per_request.

    python bench/api.py                       # latency 1 s, 2 partial polls, poll 0.05 s
    python bench/api.py --naive estimate      # skip running the 2-minute naive client
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reportkit.plan import Request
from reportkit.sources.clevertap import AccountLimiter, clevertap_source_from_env
from reportkit.sources.emulator import start_emulator

EVENTS = ("App Launched", "Product Viewed", "Added To Cart", "Charged")
WINDOWS = (7, 30, 90)
GROUPS = {
    "city": {"property_type": "geo_fields", "name": "City", "top_n": 10, "order": "desc"},
    "os": {"property_type": "technographics", "name": "OS", "top_n": 10, "order": "desc"},
    "customer": {
        "property_type": "profile_fields",
        "name": "Customer Type",
        "top_n": 10,
        "order": "desc",
    },
}
END = date(2026, 11, 30)


def _body(event: str, days: int, groups: dict[str, Any]) -> dict[str, Any]:
    start = END - timedelta(days=days - 1)
    return {
        "event_name": event,
        "from": int(start.strftime("%Y%m%d")),
        "to": int(END.strftime("%Y%m%d")),
        "groups": groups,
    }


def merged_requests() -> list[Request]:
    return [Request("/1/counts/top.json", _body(e, d, GROUPS)) for e in EVENTS for d in WINDOWS]


def naive_requests() -> list[Request]:
    return [
        Request("/1/counts/top.json", _body(e, d, {k: v}))
        for e in EVENTS
        for d in WINDOWS
        for k, v in GROUPS.items()
    ]


def _engine(tmp: Path) -> tuple[Any, str]:
    try:
        from reportkit.sources.demo import build_demo
        from reportkit.sources.local import LocalEngine
    except ImportError:

        class Fixed:
            def answer(self, endpoint: str, body: Any) -> tuple[int, dict[str, Any]]:
                return 200, {"status": "success", **{k: {"STR": {"x": 1}} for k in body["groups"]}}

        return Fixed(), "fixed bodies (the local engine is not on this branch)"
    path = tmp / "bench.duckdb"
    build_demo(path, events=50_000, end=END, days=120)
    return LocalEngine(path, read_only=True), "LocalEngine over 50k demo events"


def _run(url: str, requests: list[Request], *, parallel: int, poll: float) -> tuple[float, int]:
    env = {
        "CLEVERTAP_ACCOUNT_ID": "BENCH",
        "CLEVERTAP_PASSCODE": "bench-passcode",
        "CLEVERTAP_BASE_URL": url,
    }
    source = clevertap_source_from_env(
        env, poll_interval=poll, query_timeout=600, limiter=AccountLimiter(3)
    )
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        answers = list(pool.map(source.execute, requests))
    elapsed = time.perf_counter() - started
    assert all(a.get("status") == "success" for a in answers)
    source.close()
    return elapsed, source.http_requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--partial-polls", type=int, default=2)
    parser.add_argument("--poll-interval", type=float, default=0.05)
    parser.add_argument("--naive", choices=("run", "estimate"), default="run")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        engine, what = _engine(Path(tmp))
        emulator = start_emulator(engine, latency=args.latency, partial_polls=args.partial_polls)
        try:
            k = args.partial_polls
            per_request = (1 + k) * args.latency + k * args.poll_interval
            merged = merged_requests()
            naive = naive_requests()
            bound = math.ceil(len(merged) / 3) * per_request

            wall, sent = _run(emulator.url, merged, parallel=len(merged), poll=args.poll_interval)
            stats = emulator.stats
            print(f"answers from: {what}")
            print(
                f"emulator: latency {args.latency:g} s, {k} partial answers per query, "
                f"poll interval {args.poll_interval:g} s -> {per_request:.2f} s per request"
            )
            print(
                f"merged client : {len(merged)} requests ({len(naive)} groups), {sent} HTTP "
                f"requests, wall {wall:.2f} s, bound {bound:.2f} s "
                f"(ceil({len(merged)}/3) x {per_request:.2f} s), ratio {wall / bound:.3f}; "
                f"emulator max in flight {stats.max_in_flight}, 429s {stats.rejected}"
            )
            naive_sent = len(naive) * (1 + k)
            if args.naive == "run":
                emulator.reset_stats()
                naive_wall, naive_sent = _run(
                    emulator.url, naive, parallel=1, poll=args.poll_interval
                )
                label = "measured"
            else:
                naive_wall = len(naive) * per_request
                label = "estimated"
            print(
                f"naive client  : {len(naive)} requests one at a time, {naive_sent} HTTP requests, "
                f"wall {naive_wall:.2f} s ({label}), {naive_wall / wall:.1f}x the merged client"
            )
        finally:
            emulator.stop()


if __name__ == "__main__":
    main()
