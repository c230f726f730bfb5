"""Rendering speed on a 20-query report, printed as figures and ratios side by side.

    python bench/render.py [--repeat N]

Measures: the whole `render_report` (html + md + pdf) and the share of it spent inside WeasyPrint;
reportkit's PDF step against WeasyPrint alone on the same HTML (target <= 1.2x); one chart's SVG
and PNG after warm-up (target <= 50 ms). No network, no source: the ReportResult is built in memory.

Beside the chart figure: the same charts drawn the long way, in the same process (Vega-Lite
compiled for every chart, every label measured against its pixel limit: how charts were drawn
before), and with the compile cache emptied before every chart (a report whose charts share no
shape).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reportkit.language.model import OutputSpec
from tests.report_fixtures import long_way_spec, twenty_query_report


def _best(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import weasyprint

    import reportkit.render.pdf as pdf_mod
    from reportkit.render import charts as chart_mod
    from reportkit.render import render_report
    from reportkit.render.environment import template_dirs
    from reportkit.render.html import render_html
    from reportkit.render.view import build_report_view

    result = twenty_query_report()
    output = OutputSpec()
    view = build_report_view(result)
    charts = chart_mod.build_charts(view)

    # Warm-up: vl-convert starts its JavaScript engine, WeasyPrint loads fonts.
    start = time.perf_counter()
    chart_mod.render_svg(charts[0])
    cold_chart = time.perf_counter() - start

    weasy_time = [0.0]
    real_render_pdf = pdf_mod.render_pdf

    def timed_render_pdf(*a: Any, **kw: Any) -> bytes:
        t = time.perf_counter()
        try:
            return real_render_pdf(*a, **kw)
        finally:
            weasy_time[0] += time.perf_counter() - t

    pdf_mod.render_pdf = timed_render_pdf  # type: ignore[assignment]
    totals, shares = [], []
    try:
        render_report(result, output)  # warm-up
        for _ in range(args.repeat):
            weasy_time[0] = 0.0
            t = time.perf_counter()
            render_report(result, output)
            total = time.perf_counter() - t
            totals.append(total)
            shares.append(weasy_time[0] / total)
    finally:
        pdf_mod.render_pdf = real_render_pdf  # type: ignore[assignment]

    svgs = chart_mod.render_svgs(charts)
    html = render_html(view, output, svgs)
    folders = template_dirs(None)
    ours = _best(lambda: real_render_pdf(html, folders), args.repeat)
    alone = _best(lambda: weasyprint.HTML(string=html).write_pdf(), args.repeat)

    import vl_convert as vlc

    svg_each = [_best(lambda c=c: chart_mod.render_svg(c), 1) for c in charts]
    long_specs = [long_way_spec(c.spec) for c in charts]
    svg_rounds: list[list[float]] = [[], []]  # ours, the long way: interleaved, same conditions
    svg_cold: list[float] = []
    for _ in range(args.repeat):
        for chart, spec in zip(charts, long_specs, strict=True):
            svg_rounds[0].append(_best(lambda c=chart: chart_mod.render_svg(c), 1))
            svg_rounds[1].append(
                _best(lambda s=spec: vlc.vegalite_to_svg(s, allowed_base_urls=[]), 1)
            )
            chart_mod._VEGA_BY_SHAPE.clear()
            svg_cold.append(_best(lambda c=chart: chart_mod.render_svg(c), 1))
    png_each = [_best(lambda c=c: chart_mod.render_png(c, svgs[c.chart_id]), 1) for c in charts]
    html_time = _best(lambda: render_html(view, output, svgs), args.repeat)

    print(
        f"report: {len(result.queries)} queries, {len(charts)} charts, html {len(html) // 1024} KiB"
    )
    print(f"render_report (html+md+pdf), best of {args.repeat}: {min(totals):.2f} s")
    print(f"  share inside WeasyPrint (pdf step):          {statistics.mean(shares):.0%}")
    print(f"  html templating alone:                       {html_time * 1000:.0f} ms")
    print(
        f"pdf: reportkit {ours:.2f} s vs WeasyPrint alone {alone:.2f} s"
        f"  -> ratio {ours / alone:.2f}x (target <= 1.2x)"
    )
    print(
        f"chart svg after warm-up: median {statistics.median(svg_each) * 1000:.0f} ms,"
        f" max {max(svg_each) * 1000:.0f} ms (target <= 50 ms); first chart cold {cold_chart:.2f} s"
    )
    ours, long_way = (statistics.median(r) for r in svg_rounds)
    print(
        f"  {args.repeat} more rounds, interleaved: ours median {ours * 1000:.0f} ms,"
        f" max {max(svg_rounds[0]) * 1000:.0f} ms; the long way median {long_way * 1000:.0f} ms,"
        f" max {max(svg_rounds[1]) * 1000:.0f} ms -> ours/long way {ours / long_way:.2f}x"
    )
    print(
        f"  compile cache emptied before each chart: median {statistics.median(svg_cold) * 1000:.0f}"
        f" ms, max {max(svg_cold) * 1000:.0f} ms"
    )
    print(
        f"chart png from svg:      median {statistics.median(png_each) * 1000:.0f} ms,"
        f" max {max(png_each) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
