"""Charts: Vega-Lite specs built in Python, rendered to SVG (HTML, PDF) and PNG (Markdown).

vl-convert runs Vega-Lite in an embedded engine, so no JavaScript runs at view time and the PDF
shows exactly what the HTML shows. Specs are plain dicts built from the view model; a query's
`chart:` override (mark, color, colors, vega_lite fragment) is applied last. External data is
refused: the renderer gets no allowed base URLs, so a fragment cannot make it read a file or
reach the network.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from reportkit.errors import RenderError
from reportkit.render.labels import format_money, vega_locales
from reportkit.render.view import GroupView, QueryView, ReportView
from reportkit.render.words import gettext
from reportkit.text import inert_text

SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
PRIMARY = "#2f5d8a"
PREVIOUS = "#9aa9b8"
NOT_SET = "#b9c3cd"
INK = "#334155"
GRID = "#e5e9ef"
WIDTH = 560
MAX_BARS = 25  # a chart shows the first rows; the table always shows them all
LABEL_FONT_SIZE = 11
AXIS_LABEL_LIMIT = 220  # pixels; Vega cuts a longer label with "…"
HISTOGRAM_LABEL_LIMIT = 160
# The widest ASCII glyph of the fonts in FONT ("@" in Arial, Helvetica) is 1.02 em; any other
# character is taken as 3 em, wider than any glyph of theirs.
_ASCII_EM, _OTHER_EM = 1.1, 3.0

_CONFIG: dict[str, Any] = {
    "font": FONT,
    "background": "white",
    "padding": {"left": 4, "right": 12, "top": 6, "bottom": 4},
    "view": {"stroke": None},
    "axis": {
        "labelColor": INK,
        "titleColor": INK,
        "labelFontSize": LABEL_FONT_SIZE,
        "titleFontSize": 11,
        "titleFontWeight": "normal",
        "gridColor": GRID,
        "domainColor": "#cbd5e1",
        "tickColor": "#cbd5e1",
        "labelLimit": AXIS_LABEL_LIMIT,
    },
    # legend labels are ours ("This period", "Previous period"): never near a limit
    "legend": {
        "labelColor": INK,
        "titleColor": INK,
        "labelFontSize": LABEL_FONT_SIZE,
        "orient": "top",
        "labelLimit": 0,
    },
    "bar": {"color": PRIMARY},
    "line": {"color": PRIMARY, "strokeWidth": 2},
    "point": {"color": PRIMARY},
}


@dataclass(frozen=True, slots=True)
class Chart:
    """One chart of a report: its id (file name for the PNG) and its Vega-Lite spec."""

    chart_id: str
    title: str
    spec: dict[str, Any]
    alt: str = ""  # the text alternative: the chart's title and the values it shows


def _plain_number(value: int) -> str:
    return f"{value:,}"


def group_alt(
    title: str, group: GroupView, compare: bool, number: Callable[[int], str] = _plain_number
) -> str:
    """`Bar chart, Orders: City. Berlin 1,204 (previous 1,100); Pune 980 ...`: what a reader
    who cannot see the bars needs, in the order the chart draws them."""
    shown = group.rows[:MAX_BARS]
    parts = []
    for row in shown:
        text = f"{row.label}: {number(row.count)}"
        if compare and row.previous is not None:
            text += " " + gettext("(previous %(n)s)") % {"n": number(row.previous)}
        parts.append(text)
    kind = gettext("Histogram") if group.histogram else gettext("Bar chart")
    alt = f"{kind}, {title}. " + "; ".join(parts)
    if len(group.rows) > len(shown):
        more = len(group.rows) - len(shown)
        alt += "; " + gettext("%(n)s more rows in the table") % {"n": more}
    return alt + "."


def trend_alt(query: QueryView, number: Callable[[int], str] = _plain_number) -> str:
    parts = []
    for point in query.points:
        text = f"{point.label}: {number(point.count)}"
        if query.compare and point.previous is not None:
            text += " " + gettext("(previous %(n)s)") % {"n": number(point.previous)}
        parts.append(text)
    kind = gettext("Line chart")
    return f"{kind}, {query.title} ({query.measure}). " + "; ".join(parts) + "."


def _base(values: list[dict[str, Any]], height: int) -> dict[str, Any]:
    return {
        "$schema": SCHEMA,
        "data": {"values": values},
        "width": WIDTH,
        "height": height,
        "config": copy.deepcopy(_CONFIG),
    }


def label_limit(labels: Iterable[str], limit: int, *, exact: bool = False) -> int:
    """`limit`, or 0 (no limit) when no label can be as wide as `limit` pixels.

    Vega measures every label against its limit, and in vl-convert each measurement is costly:
    labels without a limit draw a chart in about two thirds of the time, and a label that
    cannot reach the limit is drawn the same either way. `exact` keeps the limit (a chart
    whose `vega_lite` fragment may change the fonts).
    """
    if exact:
        return limit
    for label in labels:
        ems = sum(_ASCII_EM if " " <= ch <= "~" else _OTHER_EM for ch in label)
        if ems * LABEL_FONT_SIZE > limit:
            return limit
    return 0


SMALL_PEAK = 10  # below this, Vega would put ticks between whole numbers


def _count_axis(peak: float, exact: bool, title: str | None = None) -> dict[str, Any]:
    """A count axis; its tick labels are at most "-" and ten times the peak, with commas.

    Counts are whole numbers, and so are their ticks: with a small peak Vega would tick 0, 0.5,
    1 (`tickMinStep` is not enough in every Vega version), which ",d" prints "0 1 1"; there the
    ticks are listed, one per whole number."""
    widest = f"-{round(abs(peak)) * 10:,d}"
    axis: dict[str, Any] = {
        "title": gettext("Count") if title is None else title,
        "format": ",d",
        "tickMinStep": 1,
        "labelLimit": label_limit([widest], AXIS_LABEL_LIMIT, exact=exact),
    }
    if 0 < abs(peak) < SMALL_PEAK and float(peak).is_integer():
        axis["values"] = list(range(0, int(abs(peak)) + 1))
    return axis


def _peak(values: list[dict[str, Any]], *fields: str) -> float:
    return max((abs(v[f]) for v in values for f in fields if v.get(f) is not None), default=0)


def _distinct(labels: Iterable[str]) -> list[str]:
    """Labels as given, a repeat suffixed ` (2)`, ` (3)`: values that read alike once shortened
    or made inert must still get bars of their own on a nominal axis."""
    seen: set[str] = set()
    out: list[str] = []
    for label in labels:
        candidate, n = label, 2
        while candidate in seen:
            candidate, n = f"{label} ({n})", n + 1
        seen.add(candidate)
        out.append(candidate)
    return out


def ranked_bar_spec(group: GroupView, compare: bool, *, exact: bool = False) -> dict[str, Any]:
    """Horizontal bars in ranked order, the previous period as a tick."""
    rows = group.rows[:MAX_BARS]
    labels = _distinct(row.label for row in rows)
    values = [
        {
            "rank": index,
            "label": labels[index],
            "count": row.count,
            "previous": row.previous,
            "not_set": row.not_set,
        }
        for index, row in enumerate(rows)
    ]
    y = {
        "field": "label",
        "type": "nominal",
        "sort": {"field": "rank", "order": "ascending"},
        "title": None,
        "axis": {
            "ticks": False,
            "domain": False,
            "labelPadding": 6,
            "labelLimit": label_limit(labels, AXIS_LABEL_LIMIT, exact=exact),
        },
    }
    bar: dict[str, Any] = {
        "mark": {"type": "bar", "cornerRadiusEnd": 2, "height": {"band": 0.72}},
        "encoding": {
            "y": y,
            "x": {
                "field": "count",
                "type": "quantitative",
                "axis": _count_axis(_peak(values, "count", "previous"), exact),
            },
            "color": {
                "condition": {"test": "datum.not_set", "value": NOT_SET},
                "value": PRIMARY,
            },
        },
    }
    spec = _base(values, height=max(60, 20 * len(values)))
    layers = [bar]
    if compare and any(row.previous is not None for row in rows):
        layers.append(
            {
                "mark": {"type": "tick", "color": INK, "thickness": 2, "bandSize": 14},
                "encoding": {"y": y, "x": {"field": "previous", "type": "quantitative"}},
            }
        )
    spec["layer"] = layers
    return spec


def histogram_spec(group: GroupView, compare: bool, *, exact: bool = False) -> dict[str, Any]:
    """Vertical bars in range order (NUMBER / DATE buckets)."""
    rows = group.rows
    values = [
        {"order": i, "label": row.label, "count": row.count, "previous": row.previous}
        for i, row in enumerate(rows)
    ]
    x = {
        "field": "label",
        "type": "ordinal",
        "sort": {"field": "order", "order": "ascending"},
        "title": group.name,
        "axis": {
            "labelAngle": -40 if len(rows) > 8 else 0,
            "labelLimit": label_limit(
                (row.label for row in rows), HISTOGRAM_LABEL_LIMIT, exact=exact
            ),
        },
    }
    bar: dict[str, Any] = {
        "mark": {"type": "bar", "cornerRadiusEnd": 2, "width": {"band": 0.86}},
        "encoding": {
            "x": x,
            "y": {
                "field": "count",
                "type": "quantitative",
                "axis": _count_axis(_peak(values, "count", "previous"), exact),
            },
            "color": {"value": PRIMARY},
        },
    }
    spec = _base(values, height=170)
    layers = [bar]
    if compare and any(row.previous is not None for row in rows):
        layers.append(
            {
                "mark": {"type": "tick", "color": INK, "thickness": 2},
                "encoding": {"x": x, "y": {"field": "previous", "type": "quantitative"}},
            }
        )
    spec["layer"] = layers
    return spec


def trend_spec(query: QueryView, *, exact: bool = False) -> dict[str, Any]:
    """A line over the periods; the compare window's matching periods dashed in grey."""
    temporal = query.granularity in (None, "daily") and all(
        len(p.period) == 8 and p.period.isdigit() for p in query.points
    )
    this, before = gettext("This period"), gettext("Previous period")  # the legend's words
    values: list[dict[str, Any]] = []
    for order, point in enumerate(query.points):
        x = (
            f"{point.period[:4]}-{point.period[4:6]}-{point.period[6:]}"
            if temporal
            else point.label
        )
        values.append({"order": order, "x": x, "count": point.count, "series": this})
        if point.previous is not None:
            values.append({"order": order, "x": x, "count": point.previous, "series": before})
    x_enc: dict[str, Any]
    if temporal:
        x_enc = {
            "field": "x",
            "type": "temporal",
            "title": None,
            "scale": {"padding": 18},
            "axis": {
                "format": "%d %b",
                "labelAngle": 0,
                "labelLimit": label_limit(["00 May"], AXIS_LABEL_LIMIT, exact=exact),
                "grid": False,
                "labelOverlap": "greedy",
                "tickCount": {"interval": "day", "step": max(1, len(query.points) // 10)},
            },
        }
    else:
        x_enc = {
            "field": "x",
            "type": "ordinal",
            "sort": {"field": "order", "order": "ascending"},
            "title": None,
            "axis": {
                "labelAngle": -40 if len(query.points) > 8 else 0,
                "labelLimit": label_limit(
                    (p.label for p in query.points), AXIS_LABEL_LIMIT, exact=exact
                ),
            },
        }
    has_previous = any(p.previous is not None for p in query.points)
    color: dict[str, Any] = {"value": PRIMARY}
    if has_previous:
        color = {
            "field": "series",
            "type": "nominal",
            "title": None,
            "scale": {
                "domain": [this, before],
                "range": [PRIMARY, PREVIOUS],
            },
        }
    line: dict[str, Any] = {
        "mark": {"type": "line", "point": {"size": 28, "filled": True}, "strokeWidth": 2},
        "encoding": {
            "x": x_enc,
            "y": {
                "field": "count",
                "type": "quantitative",
                "axis": _count_axis(_peak(values, "count"), exact, query.measure),
            },
            "color": color,
        },
    }
    if has_previous:
        line["encoding"]["strokeDash"] = {
            "field": "series",
            "type": "nominal",
            "title": None,
            "scale": {"domain": [this, before], "range": [[1, 0], [5, 3]]},
        }
    if query.currency:  # money: the axis writes amounts as the reader's locale does
        line["encoding"]["y"]["axis"]["format"] = "$,d"
    spec = _base(values, height=200)
    spec["layer"] = [line]
    if query.currency:
        spec["usermeta"] = {"currency": query.currency}  # read by render_svg
    return spec


def deep_merge(base: dict[str, Any], fragment: Mapping[str, Any]) -> dict[str, Any]:
    """Objects merged key by key, everything else replaced; `base` is not modified."""
    merged = copy.deepcopy(base)
    for key, value in fragment.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def apply_override(spec: dict[str, Any], override: Mapping[str, Any] | None) -> dict[str, Any]:
    """A query's `chart:` settings: `mark`, `color`, `colors` (a list), `vega_lite` (a fragment)."""
    if not override:
        return spec
    spec = copy.deepcopy(spec)
    main = spec["layer"][0] if "layer" in spec else spec
    mark = override.get("mark")
    if isinstance(mark, str):
        kept = {k: v for k, v in main["mark"].items() if k in ("point",) and mark == "line"}
        main["mark"] = {"type": mark, **kept}
        if mark in ("line", "area") and "color" in main["encoding"]:
            main["encoding"]["color"].pop("condition", None)
    color = override.get("color")
    colors = override.get("colors")
    if isinstance(color, str):
        encoding_color = main["encoding"].get("color", {})
        if "scale" in encoding_color:
            encoding_color["scale"]["range"][0] = color
        else:
            main["encoding"]["color"] = {**encoding_color, "value": color}
    if isinstance(colors, list) and colors:
        encoding_color = main["encoding"].get("color", {})
        if "scale" in encoding_color:
            encoding_color["scale"]["range"] = list(colors)
        else:
            main["encoding"]["color"] = {**encoding_color, "value": colors[0]}
    fragment = override.get("vega_lite")
    if isinstance(fragment, Mapping):
        spec = deep_merge(spec, _without_data(fragment))
    return spec


def _without_data(fragment: Mapping[str, Any]) -> dict[str, Any]:
    """A fragment styles the chart; it cannot swap the data (no `data`, `datasets` anywhere)."""
    clean: dict[str, Any] = {}
    for key, value in fragment.items():
        if key in ("data", "datasets"):
            continue
        if isinstance(value, Mapping):
            clean[key] = _without_data(value)
        elif isinstance(value, list):
            clean[key] = [_without_data(v) if isinstance(v, Mapping) else v for v in value]
        else:
            clean[key] = value
    return clean


def build_charts(view: ReportView, number: Callable[[int], str] = _plain_number) -> list[Chart]:
    """Every chart of the report, in page order, each with its text alternative (numbers
    written by `number`)."""
    charts: list[Chart] = []
    for query in view.queries:
        if not query.show_chart:
            continue
        exact = bool(query.chart and query.chart.get("vega_lite"))
        if query.kind == "top":
            for group in query.groups:
                if not group.rows:
                    continue
                spec = (
                    histogram_spec(group, query.compare, exact=exact)
                    if group.histogram
                    else ranked_bar_spec(group, query.compare, exact=exact)
                )
                title = f"{query.title}: {group.name}"
                charts.append(
                    Chart(
                        group.chart_id,
                        title,
                        apply_override(spec, query.chart),
                        group_alt(title, group, query.compare, number),
                    )
                )
        elif query.kind == "trend" and query.points:
            spec = trend_spec(query, exact=exact)
            charts.append(
                Chart(
                    query.chart_id,
                    query.title,
                    apply_override(spec, query.chart),
                    trend_alt(
                        query,
                        functools.partial(format_money, currency=query.currency)
                        if query.currency
                        else number,
                    ),
                )
            )
    return charts


def inert_spec(value: Any) -> Any:
    """Every string in a spec (keys too) with the characters XML forbids replaced: vl-convert
    aborts the whole process, uncatchably, on a NUL or an ESC in a label."""
    if isinstance(value, str):
        return inert_text(value)
    if isinstance(value, Mapping):
        return {inert_text(str(k)): inert_spec(v) for k, v in value.items()}
    if isinstance(value, list):
        return [inert_spec(v) for v in value]
    return value


_XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
_URL = re.compile(r"url\(\s*['\"]?\s*([^)'\"\s]*)", re.IGNORECASE)
_PAINT_ATTRIBUTES = (
    "fill",
    "stroke",
    "style",
    "clip-path",
    "mask",
    "filter",
    "marker-start",
    "marker-mid",
    "marker-end",
)


def _outside_reference(svg: str) -> str | None:
    """The first reference in a drawn chart to anything but the chart itself (an image or a link
    href, a url() paint), or None. Data values only ever land in text and aria-label."""
    from xml.etree import ElementTree

    try:
        root = ElementTree.fromstring(svg)
    except ElementTree.ParseError as exc:
        return f"unreadable SVG ({exc})"
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag in ("script", "foreignObject", "image"):
            return f"<{tag}>"
        for name, text in element.attrib.items():
            if name in ("href", _XLINK_HREF) and not text.startswith("#"):
                return text
            if name in _PAINT_ATTRIBUTES:
                for target in _URL.findall(text):
                    if not target.startswith("#"):
                        return f"url({target})"
    return None


def render_svg(chart: Chart) -> str:
    """The chart as SVG text, with nothing in it that loads a file, an image or a URL."""
    import vl_convert as vlc  # heavy: starts an embedded JavaScript engine

    try:
        meta = chart.spec.get("usermeta")
        currency = meta.get("currency") if isinstance(meta, dict) else None
        number, time = vega_locales(currency if isinstance(currency, str) else None)
        locales = {
            key: value
            for key, value in (("format_locale", number), ("time_format_locale", time))
            if value is not None
        }
        svg: str = vlc.vega_to_svg(to_vega(inert_spec(chart.spec)), allowed_base_urls=[], **locales)
    except Exception as exc:  # vl-convert raises ValueError and friends
        raise RenderError(
            f"chart {chart.chart_id!r} could not be drawn: {_first_line(exc)}"
        ) from exc
    outside = _outside_reference(svg)
    if outside is not None:
        raise RenderError(
            f"chart {chart.chart_id!r} refers to {outside}: a chart may not load images, "
            "links or other outside resources (check its vega_lite override)"
        )
    return stable_ids(svg)


_ID_OR_REFERENCE = re.compile(r'(\bid="|url\(#|href="#)([^")]+)')


def stable_ids(svg: str) -> str:
    """The SVG with its ids (clip paths, gradients) numbered in order of appearance. Vega numbers
    them from a counter that lives as long as the chart engine, so the same chart drawn second in
    a process would differ from the same chart drawn first (a rerun, a worker process)."""
    names: dict[str, str] = {}
    for match in _ID_OR_REFERENCE.finditer(svg):
        if match.group(1) == 'id="':
            names.setdefault(match.group(2), f"rk{len(names) + 1}")
    if not names:
        return svg
    return _ID_OR_REFERENCE.sub(
        lambda m: m.group(1) + names.get(m.group(2), m.group(2)),
        svg,
    )


MAX_PNG_SIDE = 10_000  # pixels; vl-convert aborts the process when it cannot allocate a canvas

_VEGA_BY_SHAPE: dict[str, dict[str, Any]] = {}
_VEGA_CACHE_SIZE = 64


def to_vega(spec: dict[str, Any]) -> dict[str, Any]:
    """The Vega spec of a Vega-Lite spec, compiled once per shape (the spec without its data
    values): Vega-Lite does not look at inline values, and a report's charts of one kind
    usually share a shape. The values go into the one dataset that holds them."""
    import vl_convert as vlc

    data = spec.get("data")
    if not isinstance(data, dict) or set(data) != {"values"}:
        return dict(vlc.vegalite_to_vega(spec))
    shape = {**spec, "data": {"values": []}}
    key = json.dumps(shape, sort_keys=True, default=str)
    template = _VEGA_BY_SHAPE.get(key)
    if template is None:
        template = dict(vlc.vegalite_to_vega(shape))
        if len(_VEGA_BY_SHAPE) >= _VEGA_CACHE_SIZE:
            del _VEGA_BY_SHAPE[next(iter(_VEGA_BY_SHAPE))]
        _VEGA_BY_SHAPE[key] = template
    datasets = template.get("data", [])
    if sum("values" in d for d in datasets) != 1:
        return dict(vlc.vegalite_to_vega(spec))
    filled = [{**d, "values": data["values"]} if "values" in d else d for d in datasets]
    return {**template, "data": filled}


def render_png(chart: Chart, svg: str | None = None, scale: float = 2.0) -> bytes:
    """PNG for Markdown, rasterised from the chart's SVG (made here when not given)."""
    import vl_convert as vlc

    svg = render_svg(chart) if svg is None else svg
    _check_png_size(chart, svg, scale)
    try:
        png: bytes = vlc.svg_to_png(svg, scale=scale)
    except Exception as exc:
        raise RenderError(
            f"chart {chart.chart_id!r} could not be drawn: {_first_line(exc)}"
        ) from exc
    return png


def _check_png_size(chart: Chart, svg: str, scale: float) -> None:
    # A `vega_lite: {width: 100000000}` override draws fine as SVG but asks the rasteriser for
    # hundreds of GB; refuse it before vl-convert takes the process down.
    tag = re.match(r"\s*<svg\b[^>]*>", svg)
    sizes = re.findall(r'\b(width|height)="([0-9.]+)', tag.group() if tag else "")
    for name, value in sizes:
        pixels = float(value) * scale
        if pixels > MAX_PNG_SIDE:
            raise RenderError(
                f"chart {chart.chart_id!r} would be {pixels:.0f} pixels in {name} as a PNG, "
                f"more than {MAX_PNG_SIDE}: check the chart's vega_lite width, height and padding"
            )


def render_svgs(
    charts: Iterable[Chart], memo: MutableMapping[str, str] | None = None
) -> dict[str, str]:
    """The SVG of every chart, by chart id. With `memo` (spec JSON -> SVG, kept by the caller),
    a chart whose spec was drawn before is not drawn again: drawing is the slow part of
    rendering, and the preview redraws pages whose charts did not change."""
    if memo is None:
        return {chart.chart_id: render_svg(chart) for chart in charts}
    svgs = {}
    for chart in charts:
        key = json.dumps(chart.spec, sort_keys=True, default=str)
        svg = memo.get(key)
        if svg is None:
            svg = memo[key] = render_svg(chart)
        svgs[chart.chart_id] = svg
    return svgs


def _first_line(exc: BaseException) -> str:
    # vl-convert puts the JavaScript error on the line after its own, then a stack trace
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = " ".join([line for line in lines if not line.startswith("at ")][:2])
    text = text or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."
