"""ReportResult -> what the templates and charts show: labelled, ordered, with shares and changes.

The one place that decides row order (ranked, or range order for NUMBER/DATE buckets), labels
("-1" is "(not set)"), shares of the event's total and changes against the compare window, so the
HTML, the Markdown and the charts can never disagree. Pure: no Jinja, no charts, no I/O.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from reportkit.language.model import Filter
from reportkit.language.windows import DateRange
from reportkit.render import labels
from reportkit.render.words import N_, gettext
from reportkit.results import NOT_SET, GroupTable, Highlight, QueryResult, ReportResult
from reportkit.results.checks import failed, in_reading_order
from reportkit.text import inert_text

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
NAME_LIMIT = 100  # characters of a property name in a heading or a table header
RUNNING_LIMIT = 60  # characters of the title in the PDF's page header and footer


def slug(text: str) -> str:
    """A file- and anchor-safe name: `"Top products / week"` -> `Top-products-week`."""
    cleaned = _UNSAFE.sub("-", text).strip(".-")
    return cleaned or "item"


@dataclass(frozen=True, slots=True)
class RowView:
    label: str
    value: str
    type: str
    count: int
    share: float | None
    previous: int | None
    change: int | None
    pct_change: float | None
    not_set: bool
    previous_outside: bool = False  # previous unknown: outside the previous window's top N


@dataclass(frozen=True, slots=True)
class GroupView:
    key: str
    name: str
    property_type: str
    top_n: int
    histogram: bool  # NUMBER / DATE buckets, shown in range order
    rows: tuple[RowView, ...]
    chart_id: str

    @property
    def max_count(self) -> int:
        return max((row.count for row in self.rows), default=0)


@dataclass(frozen=True, slots=True)
class PointView:
    period: str
    label: str
    count: int
    previous: int | None
    change: int | None
    pct_change: float | None


_SCOPE_WORDS = {"event": "Event", "session": "Session", "profile": "Profile"}
_OPERATOR_WORDS = {
    "equals": "is",
    "not_equals": "is not",
    "contains": "contains",
    "does_not_contain": "does not contain",
    "exists": "is set",
    "does_not_exist": "is not set",
    "greater_than": "is more than",
    "greater_than_equals": "is at least",
    "less_than": "is less than",
    "less_than_equals": "is at most",
}


def describe_filter(item: Filter) -> str:
    """`Event Payment Mode is UPI`, `Profile Customer Type is one of Gold, Silver`, for people
    (in the reader's language)."""
    words = _OPERATOR_WORDS.get(item.operator, item.operator)
    text = f"{gettext(_SCOPE_WORDS.get(item.scope, item.scope))} {item.name} "
    if item.value is None:
        return labels.display_text(text + gettext(words), NAME_LIMIT * 2)
    if isinstance(item.value, tuple):
        shown = ", ".join(_shown(v) for v in item.value)
        if len(item.value) > 1:
            words = {"is": "is one of", "is not": "is none of"}.get(words, words + " any of")
        return labels.display_text(f"{text}{gettext(words)} {shown}", NAME_LIMIT * 2)
    return labels.display_text(f"{text}{gettext(words)} {_shown(item.value)}", NAME_LIMIT * 2)


# The words above, listed for the catalogs (gettext is called with them as variables)
_CATALOG_WORDS = (
    N_("Events"),
    N_("Unique profiles"),
    N_("Event"),
    N_("Session"),
    N_("Profile"),
    N_("is"),
    N_("is not"),
    N_("contains"),
    N_("does not contain"),
    N_("is set"),
    N_("is not set"),
    N_("is more than"),
    N_("is at least"),
    N_("is less than"),
    N_("is at most"),
    N_("is one of"),
    N_("is none of"),
    N_("contains any of"),
    N_("does not contain any of"),
    N_("is more than any of"),
    N_("is at least any of"),
    N_("is less than any of"),
    N_("is at most any of"),
)


def measure_words(measure: str) -> str:
    """What a trend counts, in the reader's language: Events, Unique profiles, Sum of X."""
    if measure.startswith("Sum of "):
        return gettext("Sum of %(name)s") % {"name": measure[len("Sum of ") :]}
    return gettext(measure) if measure in ("Events", "Unique profiles") else measure


def _shown(value: str | int | float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass(frozen=True, slots=True)
class QueryView:
    id: str
    anchor: str
    title: str
    description: str
    kind: str
    event: str
    window: DateRange
    previous_window: DateRange | None
    compare: bool  # show previous / change columns
    groups: tuple[GroupView, ...]
    total: int | None
    previous_total: int | None
    total_change: int | None
    total_pct_change: float | None
    unique: int | None
    previous_unique: int | None
    unique_change: int | None
    unique_pct_change: float | None
    granularity: str | None
    measure: str
    points: tuple[PointView, ...]
    chart_id: str
    chart: dict[str, Any] | None
    filters: tuple[str, ...] = ()  # every `where:` condition, as a sentence
    currency: str | None = None  # ISO 4217: a trend whose sums are money (`|money(q.currency)`)

    @property
    def show_chart(self) -> bool:
        return not (self.chart and self.chart.get("show") is False)


@dataclass(frozen=True, slots=True)
class ReportView:
    result: ReportResult
    queries: tuple[QueryView, ...]

    @property
    def compare(self) -> bool:
        return any(q.compare for q in self.queries)


def _group_view(query: QueryResult, group: GroupTable, compare: bool, timezone: str) -> GroupView:
    histogram = group.property_type.upper() in labels.BUCKET_TYPES or (
        bool(group.rows) and all(row.type.upper() in labels.BUCKET_TYPES for row in group.rows)
    )
    rows = list(group.rows)
    if histogram:
        rows.sort(key=lambda row: labels.bucket_sort_key(row.type, row.value))
    views = tuple(
        RowView(
            label=labels.display_text(labels.value_label(row.value, row.type, timezone)),
            value=row.value,
            type=row.type,
            count=row.count,
            share=labels.share(row.count, query.total),
            previous=row.previous if compare else None,
            change=labels.change(row.count, row.previous) if compare else None,
            pct_change=labels.percent_change(row.count, row.previous) if compare else None,
            not_set=row.value == NOT_SET,
            previous_outside=compare and row.previous_outside_top_n,
        )
        for row in rows
    )
    return GroupView(
        key=group.key,
        name=labels.display_text(group.name, NAME_LIMIT),
        property_type=group.property_type,
        top_n=group.top_n,
        histogram=histogram,
        rows=views,
        chart_id=slug(f"{query.query_id}-{group.key}"),
    )


def _query_compare(query: QueryResult) -> bool:
    if query.previous_window is not None:
        return True
    if query.previous_total is not None or query.previous_unique is not None:
        return True
    if any(point.previous is not None for point in query.trend):
        return True
    return any(row.previous is not None for group in query.groups for row in group.rows)


def build_query_view(query: QueryResult, timezone: str = "UTC") -> QueryView:
    compare = _query_compare(query)
    return QueryView(
        id=query.query_id,
        anchor=slug(f"q-{query.query_id}"),
        title=inert_text(query.title or query.query_id),
        description=inert_text(query.description),
        kind=query.kind,
        event=labels.display_text(query.event),
        window=query.window,
        previous_window=query.previous_window,
        compare=compare,
        groups=tuple(_group_view(query, g, compare, timezone) for g in query.groups),
        total=query.total,
        previous_total=query.previous_total,
        total_change=labels.change(query.total, query.previous_total),
        total_pct_change=labels.percent_change(query.total, query.previous_total),
        unique=query.unique,
        previous_unique=query.previous_unique,
        unique_change=labels.change(query.unique, query.previous_unique),
        unique_pct_change=labels.percent_change(query.unique, query.previous_unique),
        granularity=query.granularity,
        measure=labels.display_text(measure_words(query.measure), NAME_LIMIT),
        points=tuple(
            PointView(
                period=p.period,
                label=labels.display_text(labels.period_label(p.period, query.granularity)),
                count=p.count,
                previous=p.previous,
                change=labels.change(p.count, p.previous),
                pct_change=labels.percent_change(p.count, p.previous),
            )
            for p in query.trend
        ),
        chart_id=slug(query.query_id),
        chart=query.chart,
        filters=tuple(describe_filter(f) for f in query.where),
        currency=query.currency,
    )


def _unique_ids(queries: list[QueryView]) -> list[QueryView]:
    """Chart ids name PNG files and anchors: make them distinct even when slugs collide."""
    seen: set[str] = set()

    def claim(name: str) -> str:
        candidate, n = name, 2
        while candidate in seen:
            candidate, n = f"{name}-{n}", n + 1
        seen.add(candidate)
        return candidate

    fixed = []
    for q in queries:
        groups = tuple(replace(g, chart_id=claim(g.chart_id)) for g in q.groups)
        fixed.append(replace(q, groups=groups, chart_id=claim(q.chart_id), anchor=claim(q.anchor)))
    return fixed


def build_report_view(result: ReportResult) -> ReportView:
    queries = [build_query_view(q, result.timezone) for q in result.queries]
    return ReportView(result=result, queries=tuple(_unique_ids(queries)))


_PAPER = re.compile(
    r"^(?:[A-Za-z][A-Za-z0-9-]{0,15}|\d+(?:\.\d+)?(?:mm|cm|in|pt|px)\s+\d+(?:\.\d+)?(?:mm|cm|in|pt|px))$"
)


def page_size(paper: str, orientation: str) -> str:
    """The CSS `@page { size }` value for an OutputSpec: `A4`, `letter landscape`, `210mm 99mm`."""
    paper = paper.strip()
    if not _PAPER.match(paper):
        raise ValueError(f"paper size {paper!r} is not a CSS page size such as A4 or 210mm 297mm")
    if orientation not in ("portrait", "landscape"):
        raise ValueError(f"orientation {orientation!r} is not portrait or landscape")
    if " " in paper:  # explicit dimensions: orientation swaps them
        width, height = paper.split()
        return f"{height} {width}" if orientation == "landscape" else f"{width} {height}"
    return f"{paper} {orientation}"


def _span(windows: list[DateRange]) -> DateRange | None:
    if not windows:
        return None
    return DateRange(min(w.start for w in windows), max(w.end for w in windows))


def format_generated(moment: datetime) -> str:
    text = moment.strftime("%Y-%m-%d %H:%M")
    zone = moment.tzname()
    return f"{text} {zone}" if zone else text


def localized_highlights(result: ReportResult) -> tuple[Highlight, ...]:
    """The "What changed" sentences in the reader's language, numbers (and money) written for
    the locale; the default keeps the sentences `results.json` holds, byte for byte."""
    if labels.current_locale() is None:
        return result.highlights
    queries = {q.query_id: q for q in result.queries}
    return tuple(
        replace(h, text=_highlight_sentence(h, queries[h.query_id])) if h.query_id in queries else h
        for h in result.highlights
    )


def _highlight_sentence(move: Highlight, query: QueryResult) -> str:
    from reportkit.results.highlights import quote

    title = quote(query.title or query.query_id)
    amount = labels.format_number
    if move.group is not None:
        name = next((g.name for g in query.groups if g.key == move.group), move.group)
        value = move.value or ""
        shown = gettext("(not set)") if value == NOT_SET else f"“{quote(value, 40)}”"
        subject = gettext("%(group)s %(value)s in %(title)s") % {
            "group": quote(name, 40),
            "value": shown,
            "title": title,
        }
    elif (move.count, move.previous) == (query.total, query.previous_total):
        subject = (
            title
            if query.kind == "count"
            else gettext("%(title)s (%(event)s events)")
            % {"title": title, "event": quote(query.event)}
        )
    elif (move.count, move.previous) == (query.unique, query.previous_unique):
        subject = gettext("%(title)s (unique profiles)") % {"title": title}
    else:  # a trend's sum over its periods
        measure = quote(measure_words(query.measure))
        subject = gettext("%(title)s (%(measure)s, all periods)") % {
            "title": title,
            "measure": measure,
        }
        if query.currency:
            amount = functools.partial(labels.format_money, currency=query.currency)
    sentence = (
        gettext("%(subject)s rose %(pct)s to %(count)s (from %(previous)s).")
        if move.count > move.previous
        else gettext("%(subject)s fell %(pct)s to %(count)s (from %(previous)s).")
    )
    return sentence % {
        "subject": subject,
        "pct": labels.format_percent(abs(move.pct_change)),
        "count": amount(move.count),
        "previous": amount(move.previous),
    }


def template_context(view: ReportView) -> dict[str, Any]:
    """The names every report template sees (besides `charts` and `page_size`)."""
    result = view.result
    previous = [q.previous_window for q in view.queries if q.previous_window is not None]
    generated = format_generated(result.generated_at)
    running = labels.display_text(result.title, RUNNING_LIMIT)  # page margins hold one line
    as_of = gettext("as of")
    return {
        "report": result,
        "view": view,
        "queries": view.queries,
        "demo": result.demo,
        "window": _span([q.window for q in view.queries]),
        "compare_window": _span(previous),
        "generated": generated,
        "running_title": running,
        "footer_note": f"{running} · {as_of} {result.as_of.isoformat()}",
        # failed first; a report without checks (or highlights) shows no block for them
        "checks": in_reading_order(result.checks),
        "failed_checks": failed(result.checks),
        "highlights": localized_highlights(result),
        # BCP 47 for <html lang> and the PDF's /Lang; "en" for the default, as before
        "lang": "en" if result.locale == "en_US" else result.locale.replace("_", "-"),
    }
