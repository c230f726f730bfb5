"""PDFs of a 20-report run: reportkit against headless Chromium printing the same HTML.

    python bench/pdf_vs_chromium.py [--reports 20] [--rounds 3] [--chromium /usr/bin/chromium]

Builds a small demo store, runs the weekly e-commerce report at 20 as-of days (20 reports, each
with its charts) to HTML, then times, in alternating rounds in this one process:

- reportkit: the PDF step of `reportkit run` for all 20 reports (`publish.pool.publish_all`, the
  worker processes it chooses on this machine);
- reportkit, one report after another in this process (how runs published before the pool);
- Chromium: `chromium --headless --print-to-pdf` on each of the 20 HTML files, one after another
  (Debian's package; skipped with a message where it is missing).

Prints medians and the ratio reportkit / Chromium (target: <= 1.0x).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-pdf-header-footer",
]


def build_reports(tmp: Path, count: int) -> list[tuple[Path, object]]:
    """`count` published HTML reports and their PublishJob for the PDF."""
    from reportkit.language.spec import load_report
    from reportkit.publish.pool import PublishJob
    from reportkit.runner import run_reports
    from reportkit.sources.demo import build_demo
    from reportkit.sources.local import LocalEngine, LocalSource

    end = date(2026, 11, 30)
    store = tmp / "demo.duckdb"
    build_demo(store, events=200_000, seed=42, end=end)
    report = load_report(ROOT / "reports" / "weekly-ecommerce.yaml")
    source = LocalSource(LocalEngine(store, read_only=True), name=f"local:{store}")
    built: list[tuple[Path, object]] = []
    try:
        for i in range(count):
            as_of = end - timedelta(days=7 * i)
            (outcome,) = run_reports(
                [report], source, out=tmp / "out", as_of=as_of, formats=("html",), demo=True
            )
            assert outcome.ok and outcome.out_dir is not None and outcome.result is not None
            job = PublishJob(
                out=tmp / "pdf",
                result=outcome.result,
                output=report.output,
                formats=("pdf",),
            )
            built.append((outcome.out_dir / "report.html", job))
    finally:
        source.close()
    return built


def time_reportkit(jobs: list[object], workers: int | None) -> float:
    from reportkit.publish.pool import publish_all

    start = time.perf_counter()
    results = publish_all(jobs, workers=workers)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - start
    failed = [r for r in results if isinstance(r, Exception)]
    assert not failed, failed
    return elapsed


def time_chromium(chromium: str, pages: list[Path], out: Path) -> float:
    start = time.perf_counter()
    for i, page in enumerate(pages):
        target = out / f"chromium-{i}.pdf"
        subprocess.run(
            [
                chromium,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={out / 'profile'}",
                f"--print-to-pdf={target}",
                page.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        assert target.stat().st_size > 1000, target
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = parser.parse_args()
    from reportkit.publish.pool import worker_count

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        built = build_reports(tmp, args.reports)
        pages = [page for page, _ in built]
        jobs = [job for _, job in built]
        workers = worker_count(jobs)  # type: ignore[arg-type]
        has_chromium = Path(args.chromium).is_file()
        if not has_chromium:
            print(
                f"chromium not found at {args.chromium}: apt-get install chromium; "
                "printing reportkit's figures only"
            )
        kb = sum(p.stat().st_size for p in pages) // len(pages) // 1024
        print(f"{len(pages)} reports, HTML {kb} KiB each; reportkit uses {workers} worker(s)")
        ours: list[float] = []
        serial: list[float] = []
        chrome: list[float] = []
        time_reportkit(jobs[:2], workers=0)  # warm-up: fonts, chart engine
        for _ in range(args.rounds):
            ours.append(time_reportkit(jobs, workers=None))
            serial.append(time_reportkit(jobs, workers=0))
            if has_chromium:
                chrome.append(time_chromium(args.chromium, pages, tmp))
        med = statistics.median
        print(f"reportkit (pool)         median {med(ours):6.2f} s   runs {_runs(ours)}")
        print(f"reportkit (one by one)   median {med(serial):6.2f} s   runs {_runs(serial)}")
        if chrome:
            print(f"chromium --print-to-pdf  median {med(chrome):6.2f} s   runs {_runs(chrome)}")
            print(
                f"reportkit / chromium: {med(ours) / med(chrome):.2f}x (target <= 1.0x);"
                f" one by one / chromium: {med(serial) / med(chrome):.2f}x"
            )
        print(f"pool / one by one: {med(ours) / med(serial):.2f}x")


def _runs(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


if __name__ == "__main__":
    main()
