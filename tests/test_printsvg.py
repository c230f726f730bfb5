"""The PDF's lighter chart SVG draws exactly the picture Vega drew, in fewer nodes.

Both SVGs are rasterised by vl-convert (resvg) and compared pixel for pixel."""

from __future__ import annotations

import io
import re
from xml.etree import ElementTree

import pytest
import vl_convert as vlc
from PIL import Image, ImageChops

from reportkit.render.charts import Chart, build_charts, render_svg
from reportkit.render.printsvg import lean_svg
from reportkit.render.view import build_report_view
from tests.report_fixtures import (
    amount_query,
    dates_query,
    make_report,
    top_query,
    trend_query,
)


def pixels(svg: str) -> Image.Image:
    return Image.open(io.BytesIO(vlc.svg_to_png(svg, scale=2))).convert("RGBA")


def tags(svg: str) -> list[str]:
    return [e.tag.rsplit("}", 1)[-1] for e in ElementTree.fromstring(svg).iter()]


def charts() -> list[Chart]:
    queries = (
        top_query("top"),
        top_query("plain", compare=False),
        amount_query(),
        dates_query(),
        trend_query(),
        trend_query("flat", compare=False),
    )
    return build_charts(build_report_view(make_report(queries=queries)))


@pytest.mark.parametrize("chart", charts(), ids=lambda c: c.chart_id)
def test_a_lean_chart_draws_the_same_pixels_in_fewer_nodes(chart: Chart) -> None:
    svg = render_svg(chart)
    lean = lean_svg(svg)
    assert ImageChops.difference(pixels(svg), pixels(lean)).getbbox() is None
    assert len(tags(lean)) < 0.6 * len(tags(svg))
    assert tags(lean).count("line") < tags(svg).count("line")  # ticks and grid merged
    assert not re.search(r'\b(aria-[a-z]+|role|class|pointer-events)="', lean)
    assert 'display="none"' not in lean
    texts = [
        e.text
        for e in ElementTree.fromstring(svg).iter()
        if e.tag.endswith("}text") and e.get("opacity") != "0"  # hidden by Vega: overlapping
    ]
    kept = [e.text for e in ElementTree.fromstring(lean).iter() if e.tag.endswith("}text")]
    assert kept == texts and texts  # every label drawn, in order


def test_some_chart_here_has_labels_vega_hid_and_the_lean_one_leaves_them_out() -> None:
    svgs = [render_svg(chart) for chart in charts()]
    assert any('opacity="0"' in svg for svg in svgs)
    assert not any('opacity="0"' in lean_svg(svg) for svg in svgs)


SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20">{}</svg>'


def test_what_draws_nothing_goes_and_what_draws_stays() -> None:
    lean = lean_svg(
        SVG.format(
            '<g fill="none">'
            '<path class="background" d="M0,0h9v9h-9Z"/>'  # no fill, no stroke: nothing
            '<path d="M0,0h9v9h-9Z" stroke="red"/>'  # stroked: stays
            '<path d="" fill="red"/>'  # no geometry
            '<text opacity="0" fill="red">hidden</text>'
            '<rect width="4" height="4" fill="blue" display="none"/>'
            '<g><g transform="translate(0,0)"><rect width="2" height="2" fill="green"/></g></g>'
            "</g>"
            '<path d="M1,1h2v2h-2Z"/>'  # black by default: stays
        )
    )
    assert lean.count("<path") == 2 and 'stroke="red"' in lean and 'd="M1,1h2v2h-2Z"' in lean
    assert "blue" not in lean and "hidden" not in lean and 'fill="green"' in lean
    assert lean.count("<g") == 1  # the groups that passed nothing on are gone


def test_only_like_opaque_lines_merge() -> None:
    lines = (
        '<line transform="translate(1,0)" y2="5" stroke="#ccc"/>'
        '<line transform="translate(3,0)" y2="5" stroke="#ccc"/>'
        '<line transform="translate(5,0)" y2="5" stroke="#ccc" opacity="0.5"/>'
        '<line transform="translate(7,0)" y2="5" stroke="#000"/>'
        '<line transform="translate(9,0)" y2="5" stroke="#000"/>'
        '<line transform="translate(11,0)" y2="5" stroke="#000" stroke-dasharray="1,1"/>'
        '<line transform="translate(13,0)" y2="5" stroke="#000" stroke-dasharray="1,1"/>'
    )
    lean = lean_svg(SVG.format(lines))
    assert re.findall(r'd="([^"]+)"', lean) == ["M1,0L1,5M3,0L3,5", "M7,0L7,5M9,0L9,5"]
    assert lean.count("<line") == 3 and 'opacity="0.5"' in lean
    assert ImageChops.difference(pixels(SVG.format(lines)), pixels(lean)).getbbox() is None


def test_an_svg_with_css_is_left_as_it_is() -> None:
    styled = SVG.format(
        '<style>.background { fill: red }</style><path class="background" d="M0,0h9v9h-9Z" fill="none"/>'
    )
    assert lean_svg(styled) == styled
    assert lean_svg("<svg") == "<svg"


def test_text_runs_are_left_as_they_are() -> None:
    text = '<text x="1" y="9" class="label">a<tspan class="x" fill="red">b</tspan> c</text>'
    lean = lean_svg(SVG.format(text))
    assert '<text x="1" y="9">a<tspan class="x" fill="red">b</tspan> c</text>' in lean
