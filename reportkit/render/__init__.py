"""Rendering: a ReportResult becomes report.html, report.md (+ chart PNGs) and report.pdf.

    view.py         ReportResult -> ordered, labelled rows, shares and changes
    charts.py       Vega-Lite specs -> SVG / PNG (vl-convert, no JavaScript at view time)
    environment.py  the one Jinja environment (user templates first, ours behind)
    html.py, markdown.py, pdf.py

Import-light on purpose: Jinja, vl-convert and WeasyPrint load inside `render_report`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from reportkit.errors import RenderError

if TYPE_CHECKING:
    from reportkit.model import OutputSpec
    from reportkit.results import ReportResult

FORMATS = ("html", "pdf", "md")
FILE_NAMES = {"html": "report.html", "md": "report.md", "pdf": "report.pdf"}


def normalize_formats(formats: Sequence[str]) -> tuple[str, ...]:
    """Lower-cased, de-duplicated, in the canonical order; `markdown` is `md`."""
    wanted = set()
    for name in formats:
        key = name.strip().lower()
        key = "md" if key == "markdown" else key
        if key not in FORMATS:
            raise RenderError(f"unknown output format {name!r}: choose from {', '.join(FORMATS)}")
        wanted.add(key)
    return tuple(f for f in FORMATS if f in wanted)


def render_report(
    result: ReportResult,
    output: OutputSpec,
    out_dir: Path,
    *,
    formats: Sequence[str] | None = None,
) -> list[Path]:
    """Write the report's files into `out_dir` (a staging folder the caller publishes) and return
    the paths written: report.html, report.md with charts/<chart>.png, report.pdf."""
    from reportkit.outputs import write_atomic
    from reportkit.render import charts as chart_mod
    from reportkit.render.environment import template_dirs
    from reportkit.render.html import render_html
    from reportkit.render.markdown import chart_path, render_markdown
    from reportkit.render.pdf import render_pdf
    from reportkit.render.view import build_report_view

    wanted = normalize_formats(formats if formats is not None else output.formats)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    view = build_report_view(result)
    charts = chart_mod.build_charts(view)
    svgs = chart_mod.render_svgs(charts) if wanted else {}
    written: list[Path] = []

    html = render_html(view, output, svgs) if {"html", "pdf"} & set(wanted) else ""
    if "html" in wanted:
        target = out_dir / FILE_NAMES["html"]
        write_atomic(target, html.encode("utf-8"))
        written.append(target)
    if "md" in wanted:
        paths = {chart.chart_id: chart_path(chart.chart_id) for chart in charts}
        for chart in charts:
            target = out_dir / paths[chart.chart_id]
            target.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(target, chart_mod.render_png(chart, svgs[chart.chart_id]))
            written.append(target)
        target = out_dir / FILE_NAMES["md"]
        write_atomic(target, render_markdown(view, output, paths).encode("utf-8"))
        written.append(target)
    if "pdf" in wanted:
        target = out_dir / FILE_NAMES["pdf"]
        write_atomic(target, render_pdf(html, template_dirs(output.template)))
        written.append(target)
    return written


__all__ = ["FORMATS", "normalize_formats", "render_report"]
