"""Chart drawing shortcuts draw exactly what the long way draws.

Two shortcuts make a chart cheaper to draw: labels that cannot reach their axis's pixel limit are
drawn without one (vl-convert measures each label against it), and Vega-Lite is compiled once per
chart shape. Both must leave the SVG as it was.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import vl_convert as vlc

from reportkit.render.charts import (
    AXIS_LABEL_LIMIT,
    Chart,
    build_charts,
    label_limit,
    render_svg,
    stable_ids,
    to_vega,
)
from reportkit.render.view import build_report_view
from reportkit.results import GroupTable, Row, TrendPoint
from tests.report_fixtures import (
    HOSTILE,
    PIPE,
    long_way_spec,
    make_report,
    top_query,
    trend_query,
    twenty_query_report,
)

LONG = "A product name long enough to reach the label limit of the axis"


def charts_of(*queries: Any) -> list[Chart]:
    return build_charts(build_report_view(make_report(queries=tuple(queries))))


def labelled(labels: list[str], query_id: str = "top") -> Any:
    rows = tuple(Row("STR", v, 900 - 50 * i, 800 - 40 * i) for i, v in enumerate(labels))
    group = GroupTable("product", "Product", "event_properties", 10, "desc", rows)
    return replace(top_query(query_id), groups=(group,))


def same_svg(a: str, b: str) -> bool:
    return stable_ids(a) == stable_ids(b)  # ids numbered in order, whatever Vega's counter said


def test_short_labels_lose_their_limit_and_long_ones_keep_it() -> None:
    assert label_limit(["Trail Runner 2", "Cap"], AXIS_LABEL_LIMIT) == 0
    assert label_limit(["W" * 18], AXIS_LABEL_LIMIT) == 0
    assert label_limit(["W" * 19], AXIS_LABEL_LIMIT) == AXIS_LABEL_LIMIT
    assert label_limit(["渋谷" * 3], AXIS_LABEL_LIMIT) == 0
    assert label_limit(["渋谷" * 3], AXIS_LABEL_LIMIT, exact=True) == AXIS_LABEL_LIMIT
    assert label_limit(["東京都渋谷区の商品"], AXIS_LABEL_LIMIT) == AXIS_LABEL_LIMIT


def test_a_long_label_is_still_cut_by_vega_at_the_limit() -> None:
    (chart,) = charts_of(labelled([LONG, "Cap"]))
    assert chart.spec["layer"][0]["encoding"]["y"]["axis"]["labelLimit"] == AXIS_LABEL_LIMIT
    svg = render_svg(chart)
    assert "…" in svg and LONG not in svg.split("aria-label")[0]


def test_charts_without_label_limits_draw_the_same_svg_as_with_them() -> None:
    weekly = make_report(hostile=True, long_rows=30)
    monthly = replace(
        trend_query("monthly"),
        granularity="monthly",
        trend=tuple(TrendPoint(f"2026{m:02d}01", 10 * m, 9 * m) for m in range(1, 13)),
    )
    charts = build_charts(build_report_view(weekly))
    charts += charts_of(labelled([HOSTILE, PIPE, "W" * 18, "Café São Paulo"]), monthly)
    charts += charts_of(labelled(["W" * 23, "Cap"], "wide"))
    shortcut = 0
    for chart in charts:
        long_way = long_way_spec(chart.spec)
        shortcut += long_way != chart.spec
        assert same_svg(render_svg(chart), vlc.vegalite_to_svg(long_way)), chart.chart_id
    assert shortcut == len(charts)


def test_vega_compiled_once_per_shape_is_the_vega_of_each_chart() -> None:
    charts = build_charts(build_report_view(twenty_query_report()))
    charts += charts_of(replace(trend_query(), chart={"vega_lite": {"height": 90}}))
    for chart in charts:
        assert to_vega(chart.spec) == vlc.vegalite_to_vega(chart.spec), chart.chart_id


def test_charts_of_one_shape_keep_their_own_data() -> None:
    first = charts_of(labelled(["Alpha", "Beta"], "a"))[0]
    second = charts_of(labelled(["Gamma", "Delta"], "b"))[0]
    assert {k: v for k, v in first.spec.items() if k != "data"} == {
        k: v for k, v in second.spec.items() if k != "data"
    }
    first_svg, second_svg = render_svg(first), render_svg(second)
    assert "Alpha" in first_svg and "Gamma" not in first_svg
    assert "Gamma" in second_svg and "Alpha" not in second_svg


def test_a_memo_spares_drawing_a_chart_drawn_before() -> None:
    from reportkit.render.charts import render_svgs

    first, second = charts_of(labelled(["Cap", "Boot"], "a"), labelled(["Hat"], "b"))
    memo: dict[str, str] = {}
    drawn = render_svgs([first, second], memo)
    assert len(memo) == 2 and set(drawn) == {first.chart_id, second.chart_id}
    assert all(same_svg(drawn[c.chart_id], render_svg(c)) for c in (first, second))
    # what the memo holds for a spec is what comes back: the chart is not drawn again
    memo[next(iter(memo))] = "<svg>kept</svg>"
    again = render_svgs([first, second], memo)
    assert (
        again[first.chart_id] == "<svg>kept</svg>"
        and again[second.chart_id] == drawn[second.chart_id]
    )


def _tick_labels(svg: str) -> list[str]:
    return re.findall(r"<text[^>]*>([^<]*)</text>", svg)


def test_small_counts_get_whole_number_ticks() -> None:
    def counts_chart(counts: list[int]) -> Chart:
        rows = tuple(Row("STR", f"v{i}", c, None) for i, c in enumerate(counts))
        group = GroupTable("product", "Product", "event_properties", 10, "desc", rows)
        (chart,) = charts_of(replace(top_query("top"), groups=(group,)))
        return chart

    assert _tick_labels(render_svg(counts_chart([1, 1])))[:3] == ["0", "1", "Count"]
    assert _tick_labels(render_svg(counts_chart([3, 1])))[:5] == ["0", "1", "2", "3", "Count"]
    many = _tick_labels(render_svg(counts_chart([37, 2])))
    ticks = many[: many.index("Count")]
    assert ticks[0] == "0" and len(set(ticks)) == len(ticks)  # no tick printed twice


def test_a_trend_of_small_daily_counts_has_whole_number_ticks() -> None:
    points = tuple(TrendPoint(f"202611{day:02d}", day % 2) for day in range(1, 8))
    (chart,) = charts_of(replace(trend_query("trend", compare=False), trend=points))
    labels = _tick_labels(render_svg(chart))
    assert "0.5" not in labels and labels.count("1") == 1


def test_a_chart_draws_the_same_svg_whatever_was_drawn_before() -> None:
    """Vega numbers clip-path ids from a process-wide counter; a rerun or a worker process must
    still write the same bytes for the same chart."""
    from reportkit.render.charts import build_charts, render_svg
    from reportkit.render.view import build_report_view
    from tests.report_fixtures import make_report

    charts = build_charts(build_report_view(make_report()))
    first = render_svg(charts[0])
    for other in charts[1:4]:
        render_svg(other)
    again = render_svg(charts[0])
    assert first == again
    assert 'id="rk1"' in first and "url(#rk1)" in first
