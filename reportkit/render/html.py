"""The HTML report: one self-contained file, CSS and SVG charts inline."""

from __future__ import annotations

import re
from collections.abc import Mapping

from markupsafe import Markup, escape

from reportkit.errors import RenderError
from reportkit.language.model import OutputSpec
from reportkit.render.environment import build_environment, render_template
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


def render_html(
    view: ReportView,
    output: OutputSpec,
    svgs: Mapping[str, str],
    alts: Mapping[str, str] | None = None,
) -> str:
    """The report as one HTML document; `svgs` maps chart ids to the SVG text from charts.py,
    `alts` to their text alternatives."""
    env = build_environment(output.template)
    try:
        size = page_size(output.paper, output.orientation)
    except ValueError as exc:
        raise RenderError(str(exc)) from exc
    charts = {
        chart_id: Markup(label_svg(scope_svg_ids(svg, f"c{index}"), (alts or {}).get(chart_id, "")))
        for index, (chart_id, svg) in enumerate(svgs.items())
    }
    context = template_context(view)
    context.update(charts=charts, page_size=size)
    return render_template(env, TEMPLATE, context)
