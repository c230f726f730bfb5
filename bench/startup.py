"""How long the `reportkit` command takes to start, against a bare `python -c pass`.

    python bench/startup.py [--repeat N]

Runs, alternated so that a busy machine weighs on both sides alike: `python -c pass`, then
`reportkit --help`, `reportkit validate reports/` and `reportkit plan reports/... --as-of ...`
(each through `python -m reportkit`, in a fresh process). Prints the median of each and its ratio
to the bare interpreter; the target for `--help` is 8x or less.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "reportkit --help": [sys.executable, "-m", "reportkit", "--help"],
    "reportkit validate reports/": [sys.executable, "-m", "reportkit", "validate", "reports/"],
    "reportkit plan weekly --as-of": [
        sys.executable,
        "-m",
        "reportkit",
        "plan",
        "reports/weekly-ecommerce.yaml",
        "--as-of",
        "2026-11-30",
    ],
}


def _once(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for command in COMMANDS.values():  # warm the file cache
        _once(command)
    for _ in range(args.repeat):
        for name, command in COMMANDS.items():
            times[name].append(_once(command))
    bare = statistics.median(times["python -c pass"])
    print(f"{'command':<32} {'median':>9} {'ratio':>7}   ({args.repeat} alternated runs)")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<32} {median * 1000:>7.1f}ms {median / bare:>6.1f}x")


if __name__ == "__main__":
    main()
