"""The HTML report: one self-contained file, CSS and SVG charts inline."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Literal

from markupsafe import Markup, escape

from reportkit.errors import RenderError
from reportkit.language.model import OutputSpec
from reportkit.render.environment import build_environment, render_template
from reportkit.render.printsvg import lean_svg
from reportkit.render.view import ReportView, page_size, template_context

TEMPLATE = "report.html.j2"
_ID = re.compile(r'\bid="([^"]+)"')


def scope_svg_ids(svg: str, prefix: str) -> str:
    """Prefix the ids inside one SVG (clip paths, gradients) so several inline charts on one page
    cannot capture each other's references."""
    ids = set(_ID.findall(svg))
    if not ids:
        return svg
    for name in sorted(ids, key=len, reverse=True):
        scoped = f"{prefix}-{name}"
        svg = svg.replace(f'id="{name}"', f'id="{scoped}"').replace(f"#{name})", f"#{scoped})")
        svg = svg.replace(f'href="#{name}"', f'href="#{scoped}"')
    return svg


_SVG_OPEN = re.compile(r"<svg\b[^>]*>")


def label_svg(svg: str, alt: str) -> str:
    """The chart as one image with a text alternative: `role="img"` and `aria-label` for
    screen readers of the HTML, a first `<title>` child that WeasyPrint turns into the PDF
    Figure's /Alt."""
    match = _SVG_OPEN.search(svg)
    if match is None or not alt:
        return svg
    text = str(escape(alt))
    tag = match.group(0)
    opened = tag[:-1].rstrip("/") + f' role="img" aria-label="{text}">'
    closing = "" if not tag.endswith("/>") else "</svg>"
    return f"{svg[: match.start()]}{opened}<title>{text}</title>{closing}{svg[match.end() :]}"


def svg_image(svg: str, alt: str) -> str:
    """The chart as an `<img>` holding its SVG as a data URL, with `alt` as its text
    alternative. The PDF takes charts this way: WeasyPrint reads an image's SVG with its XML
    parser instead of its HTML parser and skips the CSS cascade for its hundreds of nodes, which
    makes a chart-heavy PDF about a quarter faster, and the chart stays vector. The SVG goes in
    lightened (`printsvg.lean_svg`): the same picture in fewer nodes."""
    data = base64.b64encode(lean_svg(svg).encode("utf-8")).decode("ascii")
    return f'<img src="data:image/svg+xml;base64,{data}" alt="{escape(alt)}">'


# Scripts whose letters change shape or order with their neighbours (combining marks, Hebrew,
# Arabic, Indic, Thai, Lao, Myanmar): WeasyPrint draws an SVG's text one character at a time.
_SHAPED = re.compile("[\u0300-\u036f\u0590-\u08ff\u0900-\u0dff\u0e00-\u0eff\u1000-\u109f]")


def needs_shaping(svg: str) -> bool:
    """Whether a chart's text has letters that WeasyPrint's SVG text would draw unshaped."""
    return _SHAPED.search(svg) is not None


_SIZE = re.compile(r'\b(width|height)="([0-9.]+)')


def png_image(png: bytes, alt: str, svg: str) -> str:
    """The chart as an `<img>` holding a PNG as a data URL, at the size of its SVG (the PNG
    has twice the pixels, for print)."""
    data = base64.b64encode(png).decode("ascii")
    tag = _SVG_OPEN.search(svg)
    sizes = "".join(f' {k}="{v}"' for k, v in _SIZE.findall(tag.group() if tag else ""))
    return f'<img src="data:image/png;base64,{data}"{sizes} alt="{escape(alt)}">'


def render_html(
    view: ReportView,
    output: OutputSpec,
    svgs: Mapping[str, str],
    alts: Mapping[str, str] | None = None,
    *,
    charts_as: Literal["inline", "image"] = "inline",
    pngs: Mapping[str, bytes] | None = None,
) -> str:
    """The report as one HTML document; `svgs` maps chart ids to the SVG text from charts.py,
    `alts` to their text alternatives. `charts_as="image"` puts each chart in as an `<img>`
    (for the PDF, see `svg_image`), or, for those in `pngs`, as a PNG (see `needs_shaping`); the
    HTML report keeps them inline, styled by its CSS."""
    env = build_environment(output.template)
    try:
        size = page_size(output.paper, output.orientation)
    except ValueError as exc:
        raise RenderError(str(exc)) from exc
    alts = alts or {}
    if charts_as == "image":
        charts = {
            chart_id: Markup(
                png_image(pngs[chart_id], alts.get(chart_id, ""), svg)
                if pngs and chart_id in pngs
                else svg_image(svg, alts.get(chart_id, ""))
            )
            for chart_id, svg in svgs.items()
        }
    else:
        charts = {
            chart_id: Markup(label_svg(scope_svg_ids(svg, f"c{index}"), alts.get(chart_id, "")))
            for index, (chart_id, svg) in enumerate(svgs.items())
        }
    context = template_context(view)
    context.update(charts=charts, page_size=size)
    return render_template(env, TEMPLATE, context)
