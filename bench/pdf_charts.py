"""The PDF of the weekly e-commerce report with its charts as Vega drew them and as `lean_svg`
makes them, side by side in one process.

    python bench/pdf_charts.py [--rounds 8]

Builds a small demo store and the weekly report's results, makes the PDF's HTML (charts as SVG
images) once, then renders it with WeasyPrint in alternating order, round after round: the same
page with Vega's SVG in the images (the baseline) and with the lightened SVG that reportkit puts
there. Prints median wall and CPU time of each and the ratios; the two PDFs must look the same
(tests/test_printsvg.py compares the charts pixel for pixel).
"""

from __future__ import annotations

import argparse
import base64
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def pages(tmp: Path) -> tuple[str, str]:
    """The weekly report's PDF HTML with Vega's SVGs, and as reportkit makes it (lean)."""
    from reportkit.language.spec import load_report
    from reportkit.render import charts as chart_mod
    from reportkit.render.html import render_html
    from reportkit.render.labels import format_number, formatting_locale
    from reportkit.render.printsvg import lean_svg
    from reportkit.render.view import build_report_view
    from reportkit.runner import run_reports
    from reportkit.sources.demo import build_demo
    from reportkit.sources.local import LocalEngine, LocalSource

    end = date(2026, 11, 30)
    build_demo(tmp / "demo.duckdb", events=200_000, seed=42, end=end)
    report = load_report(ROOT / "reports" / "weekly-ecommerce.yaml")
    source = LocalSource(LocalEngine(tmp / "demo.duckdb", read_only=True), name="local:demo")
    try:
        (outcome,) = run_reports([report], source, out=tmp / "out", as_of=end, formats=("html",))
    finally:
        source.close()
    result = outcome.result
    assert result is not None
    with formatting_locale(result.locale):
        view = build_report_view(result)
        charts = chart_mod.build_charts(view, format_number)
        svgs = chart_mod.render_svgs(charts)
        alts = {chart.chart_id: chart.alt for chart in charts}
        lean = render_html(view, report.output, svgs, alts, charts_as="image")
    vega = lean
    for svg in svgs.values():  # the same page, each image holding the SVG as Vega drew it
        vega = vega.replace(_b64(lean_svg(svg)), _b64(svg))
    assert vega != lean
    return vega, lean


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    from reportkit.render.environment import template_dirs
    from reportkit.render.pdf import render_pdf

    folders = template_dirs(None)
    with tempfile.TemporaryDirectory() as tmp_name:
        vega, lean = pages(Path(tmp_name))
    variants = {"Vega's SVG (before)": vega, "lean SVG (now)": lean}
    wall: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    for html in variants.values():
        render_pdf(html, folders)  # warm-up
    for i in range(args.rounds):
        order = list(variants) if i % 2 == 0 else list(reversed(variants))
        for name in order:
            start, start_cpu = time.perf_counter(), time.process_time()
            render_pdf(variants[name], folders)
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    med = statistics.median
    base = next(iter(variants))
    print(f"weekly report PDF, {args.rounds} alternating rounds, medians:")
    for name in variants:
        print(
            f"  {name:20s} wall {med(wall[name]):5.2f} s  cpu {med(cpu[name]):5.2f} s"
            f"   {med(wall[name]) / med(wall[base]):.2f}x wall"
            f"  {med(cpu[name]) / med(cpu[base]):.2f}x cpu"
        )


if __name__ == "__main__":
    main()
