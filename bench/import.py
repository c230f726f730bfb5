"""Benchmark of `reportkit import` against reading the same JSON Lines file with other tools.

    python bench/import.py [--events 300000 1000000] [--runs 5] [--10m] [--workdir /tmp/x]

For each size, generates a file in the export shape (CleverTap Get Events records: five event
names with their own properties, numbers, strings, booleans, `$D_` dates, profileData and
session_props), then runs, each in a fresh process with a fresh store, alternating the tools run
by run:

- `reportkit import FILE --db STORE` (the command, as a user runs it);
- DuckDB's `CREATE TABLE raw AS SELECT * FROM read_json_auto(FILE)` into a fresh database file
  (the baseline: the ratios are against it);
- pyarrow `json.read_json` + `Table.flatten()`, and polars `read_ndjson` + `unnest` of the
  nested columns, when installed (`pip install pyarrow polars`; not reportkit dependencies).

Prints per tool the median and spread (min-max) of wall time, the median CPU time (user+sys of
the child), the peak memory (max RSS of the child) and the ratios to the raw read. The machine
is shared and noisy: compare the ratios, not the times. Asserts nothing.

`--10m` adds a 10-million-event file (about 2.8 GB, written under --workdir and deleted at the
end), the import and the raw read run once each, to show the import's memory stays bounded
(DuckDB's memory_limit). `--before DIR` times the import of another checkout too (e.g. `git
archive main | tar -x -C DIR`), to show a change side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

RAW = """
import sys, duckdb
con = duckdb.connect(sys.argv[2])
con.execute("CREATE TABLE raw AS SELECT * FROM read_json_auto(?)", [sys.argv[1]])
print(con.execute("SELECT count(*) FROM raw").fetchone()[0])
con.close()
"""
PYARROW = """
import sys
import pyarrow.json as pj
table = pj.read_json(sys.argv[1])
while any(str(t).startswith("struct") for t in table.schema.types):
    table = table.flatten()
print(table.num_rows)
"""
POLARS = """
import sys
import polars as pl
frame = pl.read_ndjson(sys.argv[1])
while any(isinstance(t, pl.Struct) for t in frame.dtypes):
    frame = frame.unnest([c for c, t in frame.schema.items() if isinstance(t, pl.Struct)])
print(frame.height)
"""


def write_events(path: Path, count: int, seed: int = 1) -> None:
    """`count` records in the shape `reportkit import` reads, the way an export writes them."""
    rnd = random.Random(seed)
    names = ["App Launched", "Product Viewed", "Added To Cart", "Charged", "Searched"]
    products = [f"P{i:04d}" for i in range(500)]
    categories = ["Books", "Games", "Garden", "Kitchen", "Toys", "Music"]
    sources = ["google", "direct", "facebook", "newsletter"]
    with path.open("w") as f:
        for i in range(count):
            name = rnd.choice(names)
            uid = rnd.randrange(100_000)
            props: dict[str, object] = {}
            if name != "App Launched":
                props["Product"] = rnd.choice(products)
                props["Category"] = rnd.choice(categories)
            if name == "Charged":
                props["Amount"] = round(rnd.uniform(5, 500), 2)
                props["Quantity"] = rnd.randrange(1, 5)
                props["Gift"] = rnd.random() < 0.1
                props["Delivery Date"] = f"$D_{1_790_000_000 + rnd.randrange(864_000)}"
            if name == "Searched":
                props["Query"] = rnd.choice(categories).lower()
            day, hour, minute, second = (
                i % 28,
                rnd.randrange(24),
                rnd.randrange(60),
                rnd.randrange(60),
            )
            record = {
                "event_name": name,
                "ts": 20261101000000 + day * 1_000_000 + hour * 10_000 + minute * 100 + second,
                "profile": {
                    "objectId": f"__{uid:08x}",
                    "identity": f"user{uid}",
                    "platform": "Android" if uid % 3 else "iOS",
                    "profileData": {
                        "Customer Type": ["Gold", "Silver", "Bronze"][uid % 3],
                        "Age": 18 + uid % 60,
                    },
                },
                "event_props": props,
                "session_props": {"utm_source": rnd.choice(sources)},
            }
            f.write(json.dumps(record, separators=(",", ":")) + "\n")


def tools(file: Path, work: Path, before: Path | None, others: bool) -> dict[str, list[str]]:
    """The command line of every tool that can run here, for `file` and a fresh `work` folder."""
    store = str(work / "store.duckdb")
    found = {
        "reportkit import": [sys.executable, "-m", "reportkit", "import", str(file), "--db", store],
        "duckdb read_json_auto": [sys.executable, "-c", RAW, str(file), store],
    }
    if before is not None:
        run = f"import sys; sys.path.insert(0, {str(before)!r}); from reportkit.cli import main; main()"
        found["reportkit import (--before)"] = [
            sys.executable,
            "-c",
            run,
            "import",
            str(file),
            "--db",
            store,
        ]
    if not others:
        return found
    for name, module, script in (
        ("pyarrow read_json+flatten", "pyarrow", PYARROW),
        ("polars read_ndjson+unnest", "polars", POLARS),
    ):
        if _installed(module):
            found[name] = [sys.executable, "-c", script, str(file)]
    return found


def _installed(module: str) -> bool:
    done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True)
    return done.returncode == 0


def run_once(argv: list[str], work: Path) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MB) of one child, in a fresh work folder."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    log = work.parent / "child.log"
    with log.open("wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{' '.join(argv[:4])} failed: {log.read_text(errors='replace')[-500:]}")
    shutil.rmtree(work, ignore_errors=True)
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def bench(
    file: Path, events: int, runs: int, work: Path, before: Path | None, others: bool
) -> None:
    commands = tools(file, work, before, others)
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in commands}
    for i in range(runs):
        order = list(commands)
        if i % 2:
            order.reverse()  # alternate, so that no tool always runs right after another
        for name in order:
            results[name].append(run_once(commands[name], work))
    size = file.stat().st_size / 1e6
    print(f"\n{events:,} events ({size:,.0f} MB), {runs} runs each, alternated:")
    print(
        f"  {'':28s} {'wall median':>11s} {'spread':>13s} {'CPU median':>10s} {'peak RSS':>9s}"
        f"   {'wall ratio':>10s} {'CPU ratio':>9s} {'RSS ratio':>9s}"
    )
    base = results["duckdb read_json_auto"]
    b_wall = statistics.median(r[0] for r in base)
    b_cpu = statistics.median(r[1] for r in base)
    b_rss = max(r[2] for r in base)
    for name, rows in results.items():
        wall = statistics.median(r[0] for r in rows)
        cpu = statistics.median(r[1] for r in rows)
        rss = max(r[2] for r in rows)
        lo, hi = min(r[0] for r in rows), max(r[0] for r in rows)
        print(
            f"  {name:28s} {wall:9.2f} s {lo:5.2f}-{hi:5.2f} s {cpu:8.2f} s {rss:6.0f} MB"
            f"   {wall / b_wall:9.2f}x {cpu / b_cpu:8.2f}x {rss / b_rss:8.2f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, nargs="+", default=[300_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--10m", dest="ten_million", action="store_true")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument(
        "--before", type=Path, help="a checkout of reportkit to time as well, e.g. the last release"
    )
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="rk-bench-import-"))
    workdir.mkdir(parents=True, exist_ok=True)
    sizes = [(n, args.runs) for n in args.events]
    if args.ten_million:
        sizes.append((10_000_000, 1))
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    try:
        for events, runs in sizes:
            file = workdir / f"events-{events}.jsonl"
            if not file.exists():
                write_events(file, events)
            # pyarrow and polars hold a 10M file in memory several times over: not at 10M
            bench(file, events, runs, workdir / "run", args.before, events < 10_000_000)
            if not args.keep:
                file.unlink()
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n(this process, the generator included: peak RSS {peak:.0f} MB)")


if __name__ == "__main__":
    main()
