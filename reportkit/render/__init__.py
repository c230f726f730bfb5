"""Rendering: a ReportResult becomes the bytes of report.html, report.md (+ chart PNGs) and
report.pdf. Rendering never writes: `reportkit.publish` puts the bytes on disk.

    view.py         ReportResult -> ordered, labelled rows, shares and changes
    charts.py       Vega-Lite specs -> SVG / PNG (vl-convert, no JavaScript at view time)
    environment.py  the one Jinja environment (user templates first, ours behind)
    html.py, markdown.py, pdf.py

Import-light on purpose: Jinja, vl-convert and WeasyPrint load inside `render_report`.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from typing import TYPE_CHECKING

from reportkit.errors import RenderError

if TYPE_CHECKING:
    from reportkit.language.model import OutputSpec
    from reportkit.results import ReportResult

FORMATS = ("html", "pdf", "md")
FILE_NAMES = {"html": "report.html", "md": "report.md", "pdf": "report.pdf"}
RESULTS_ATTACHMENT = "results.json"


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


def results_bytes(result: ReportResult) -> bytes:
    """results.json as published (and as embedded in an archival PDF)."""
    import json

    from reportkit.results.codec import results_to_dict

    return (json.dumps(results_to_dict(result), indent=2, ensure_ascii=False) + "\n").encode()


def render_report(
    result: ReportResult,
    output: OutputSpec,
    *,
    formats: Sequence[str] | None = None,
    definition: tuple[str, bytes] | None = None,
    svg_memo: MutableMapping[str, str] | None = None,
) -> dict[str, bytes]:
    """The report's files as {path relative to the report folder: content}: report.html,
    report.md with charts/<chart>.png, report.pdf. Nothing is written; publishing owns the disk.

    With `output.pdf_archive`, the PDF is PDF/A-3 with results.json and `definition`
    (file name, text) embedded. Numbers and dates are written for `result.locale`.
    `svg_memo` (kept by the caller) spares drawing a chart whose spec was drawn before."""
    from reportkit.render.labels import formatting_locale

    with formatting_locale(result.locale):
        return _render(result, output, formats, definition, svg_memo)


def _render(
    result: ReportResult,
    output: OutputSpec,
    formats: Sequence[str] | None,
    definition: tuple[str, bytes] | None,
    svg_memo: MutableMapping[str, str] | None = None,
) -> dict[str, bytes]:
    from reportkit.render import charts as chart_mod
    from reportkit.render.environment import template_dirs
    from reportkit.render.html import needs_shaping, render_html
    from reportkit.render.labels import format_number
    from reportkit.render.markdown import chart_path, render_markdown
    from reportkit.render.pdf import render_pdf
    from reportkit.render.view import build_report_view

    wanted = normalize_formats(formats if formats is not None else output.formats)
    view = build_report_view(result)
    charts = chart_mod.build_charts(view, format_number)
    svgs = chart_mod.render_svgs(charts, svg_memo) if wanted else {}
    files: dict[str, bytes] = {}

    alts = {chart.chart_id: chart.alt for chart in charts}
    html = render_html(view, output, svgs, alts) if "html" in wanted else ""
    if "html" in wanted:
        files[FILE_NAMES["html"]] = html.encode("utf-8")
    drawn: dict[str, bytes] = {}  # chart id -> PNG, drawn once for Markdown and the PDF

    def png(chart: chart_mod.Chart) -> bytes:
        if chart.chart_id not in drawn:
            drawn[chart.chart_id] = chart_mod.render_png(chart, svgs[chart.chart_id])
        return drawn[chart.chart_id]

    if "md" in wanted:
        paths = {chart.chart_id: chart_path(chart.chart_id) for chart in charts}
        for chart in charts:
            files[paths[chart.chart_id]] = png(chart)
        files[FILE_NAMES["md"]] = render_markdown(view, output, paths).encode("utf-8")
    if "pdf" in wanted:
        archive = None
        if output.pdf_archive:
            from reportkit.render.pdf import PdfAttachment

            archive = [
                PdfAttachment(
                    RESULTS_ATTACHMENT, results_bytes(result), "The numbers this report shows"
                )
            ]
            if definition is not None:
                name, text = definition
                archive.append(
                    PdfAttachment(name, text, "The report definition that asked for them", "Source")
                )
        # the same page with its charts as images, which WeasyPrint draws faster; a chart whose
        # text needs shaping (Devanagari, Arabic ...) as a PNG, which vl-convert shapes and
        # WeasyPrint's SVG text does not
        pngs = {c.chart_id: png(c) for c in charts if needs_shaping(svgs[c.chart_id])}
        pdf_html = render_html(view, output, svgs, alts, charts_as="image", pngs=pngs)
        files[FILE_NAMES["pdf"]] = render_pdf(
            pdf_html, template_dirs(output.template), archive=archive, moment=result.generated_at
        )
    return files


__all__ = ["FORMATS", "RESULTS_ATTACHMENT", "normalize_formats", "render_report", "results_bytes"]
