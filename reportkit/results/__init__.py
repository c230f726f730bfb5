"""API bodies -> result tables: the typed results every renderer reads and results.json holds."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Literal

from reportkit.errors import QueryFailed
from reportkit.language.model import Filter, Query
from reportkit.language.windows import DateRange
from reportkit.plan import Plan, Request, Serves

NOT_SET = "-1"  # the value the service answers for events where the property is missing


@dataclass(frozen=True, slots=True)
class Row:
    """One ranked value of a top breakdown."""

    type: str  # STR | NUMBER | ENUM | DATE (any tag the source answers)
    value: str  # as answered: "Gold", "0-100", "1700000000-1700086400", "-1"
    count: int
    previous: int | None = None  # the count in the compare window, None when unknown
    # True when the previous count is unknown because the value was outside the previous
    # window's top N (the answer lists only those): never to be shown as a blank or a zero.
    previous_outside_top_n: bool = False


@dataclass(frozen=True, slots=True)
class GroupTable:
    key: str
    name: str
    property_type: str
    top_n: int
    order: str
    rows: tuple[Row, ...]


@dataclass(frozen=True, slots=True)
class TrendPoint:
    period: str  # the API's key: YYYYMMDD for daily, as answered for weekly / monthly
    count: int
    previous: int | None = None  # the count of the matching period in the compare window


@dataclass(frozen=True, slots=True)
class QueryResult:
    query_id: str
    title: str
    event: str
    kind: str  # top | count | trend
    window: DateRange
    previous_window: DateRange | None = None
    description: str = ""
    groups: tuple[GroupTable, ...] = ()
    total: int | None = None  # the event's count in the window (count queries; share for top)
    previous_total: int | None = None
    unique: int | None = None  # unique profiles (count queries with unique: true)
    previous_unique: int | None = None
    granularity: str | None = None
    trend: tuple[TrendPoint, ...] = ()
    measure: str = "Events"  # what a trend counts: Events, Unique profiles, Sum of <property>
    currency: str | None = None  # ISO 4217: the trend's sums are money of this currency
    chart: dict[str, Any] | None = field(default=None, hash=False, compare=False)
    where: tuple[Filter, ...] = ()  # the filters every number of this query obeys


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of one of the definition's checks (see `reportkit.results.checks`)."""

    id: str
    severity: Literal["fail", "warn"]
    passed: bool
    message: str
    query: str | None = None  # the query a query-level check belongs to


@dataclass(frozen=True, slots=True)
class Highlight:
    """One of the largest moves against the compare window, as a sentence
    (see `reportkit.results.highlights`)."""

    text: str
    query_id: str
    count: int
    previous: int
    pct_change: float
    group: str | None = None  # the group key, for a row's move
    value: str | None = None  # the row's value


@dataclass(frozen=True, slots=True)
class ReportResult:
    report_id: str
    title: str
    description: str
    timezone: str
    as_of: date
    generated_at: datetime
    source: str  # "demo", "local:PATH", "clevertap:eu1" ...
    demo: bool
    compare: str | None
    queries: tuple[QueryResult, ...]
    reportkit_version: str = ""
    checks: tuple[CheckResult, ...] = ()
    highlights: tuple[Highlight, ...] = ()
    locale: str = "en_US"  # how the report writes numbers and dates (the definition's locale)

    @property
    def window_end(self) -> date:
        return max(q.window.end for q in self.queries)


_RANGE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*-\s*(-?\d+(?:\.\d+)?)\s*$")


def range_bounds(value: str) -> tuple[float, float] | None:
    """`"100-200"` -> (100.0, 200.0); None for a value that is not a `lo-hi` range."""
    match = _RANGE.match(value)
    if match is None:
        return None
    return float(match.group(1)), float(match.group(2))


def _tie_key(row: Row) -> tuple[int, float, str]:
    # Ties are broken by value ascending, ranges by their low end.
    bounds = range_bounds(row.value) if row.type in ("NUMBER", "DATE") else None
    return (0, bounds[0], "") if bounds else (1, 0.0, row.value)


def rank_rows(rows: list[Row], order: str, top_n: int) -> tuple[Row, ...]:
    """Rank by count (`order`), ties by value ascending, and keep the first `top_n`.

    The service may answer more values than asked (it keeps top values per internal bucket) and
    several type tags in one group, so the client ranks and trims itself.
    """
    sign = -1 if order == "desc" else 1
    ranked = sorted(rows, key=lambda r: (sign * r.count, _tie_key(r)))
    return tuple(ranked[:top_n])


def in_range_order(rows: Sequence[Row]) -> list[Row]:
    """Rows of NUMBER and DATE ranges in range order (for histograms); others as ranked."""
    if rows and all(range_bounds(r.value) for r in rows if r.type in ("NUMBER", "DATE")):
        ranges = [r for r in rows if r.type in ("NUMBER", "DATE")]
        others = [r for r in rows if r.type not in ("NUMBER", "DATE")]
        return sorted(ranges, key=lambda r: range_bounds(r.value) or (0.0, 0.0)) + others
    return list(rows)


class _Answers:
    """Reads the bodies a plan's requests were answered with, by what they serve."""

    def __init__(self, plan: Plan, bodies: Mapping[str, Mapping[str, Any]]) -> None:
        self._index: dict[tuple[str, str, str, str | None], list[tuple[Request, Serves]]] = {}
        for request in plan.requests:
            for serves in request.serves:
                key = (serves.query_id, serves.role, serves.measure, serves.group)
                self._index.setdefault(key, []).append((request, serves))
        self._bodies = bodies

    def all(
        self, query_id: str, role: str, measure: str, group: str | None = None
    ) -> list[tuple[Request, Serves, Mapping[str, Any]]]:
        """Every answered request serving this; a long trend is split into several."""
        return [
            (request, serves, self._bodies[request.key])
            for request, serves in self._index.get((query_id, role, measure, group), [])
            if request.key in self._bodies
        ]

    def body(
        self, query_id: str, role: str, measure: str, group: str | None = None
    ) -> tuple[Request, Serves, Mapping[str, Any]] | None:
        found = self.all(query_id, role, measure, group)
        return found[0] if found else None


# The largest count believed: well past any account's events, and below 2**53, where a float
# (JSON numbers often are) stops holding every whole number.
MAX_COUNT = 10**15


def _count(value: Any, query_id: str, what: str) -> int:
    """A count from a source's answer: a whole number from 0 to MAX_COUNT, else QueryFailed
    naming the query (a negative, fractional or astronomical count is a wrong answer, and
    rendering it would publish wrong numbers)."""
    try:
        if isinstance(value, bool):
            raise TypeError
        number = float(value)
        if not math.isfinite(number):
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        raise QueryFailed(
            f"query {query_id!r}: the source answered {what} with {str(value)[:60]!r}, not a count"
        ) from None
    problem = (
        "a negative count"
        if number < 0
        else "not a whole number"
        if number != int(number)
        else f"more than {MAX_COUNT:.0e} events"
        if number > MAX_COUNT
        else None
    )
    if problem:
        raise QueryFailed(
            f"query {query_id!r}: the source answered {what} with {str(value)[:60]},"
            f" {problem}: refused"
        )
    return int(number)


def _top_rows(answer: Mapping[str, Any], request_key: str, query_id: str) -> list[Row]:
    by_type = answer.get(request_key) or {}
    if not isinstance(by_type, Mapping):
        raise QueryFailed(f"query {query_id!r}: group {request_key!r} is not a map of types")
    rows: list[Row] = []
    for type_tag, values in by_type.items():
        if not isinstance(values, Mapping):
            continue
        for value, count in values.items():
            rows.append(Row(str(type_tag), str(value), _count(count, query_id, f"{value!r}")))
    return rows


def _top_groups(query: Query, answers: _Answers) -> tuple[GroupTable, ...]:
    tables = []
    for group in query.groups:
        rows: list[Row] = []
        current = answers.body(query.id, "current", "top", group.key)
        if current:
            _, serves, body = current
            rows = _top_rows(body, serves.request_key or group.key, query.id)
        ranked = rank_rows(rows, group.order, group.top_n)
        previous = answers.body(query.id, "previous", "top", group.key)
        if previous:
            _, serves, body = previous
            # the previous window's top_n too, whatever extra values the service answered, so
            # the numbers do not depend on how much more than top_n a source sends
            earlier = _top_rows(body, serves.request_key or group.key, query.id)
            ranked = _with_previous(
                ranked, rank_rows(earlier, group.order, group.top_n), group.top_n
            )
        tables.append(
            GroupTable(group.key, group.name, group.property_type, group.top_n, group.order, ranked)
        )
    return tuple(tables)


def _with_previous(rows: Sequence[Row], earlier: Sequence[Row], top_n: int) -> tuple[Row, ...]:
    """Each row with its count in the previous window. `earlier` is that window's top N, ranked:
    a value missing from a list shorter than N had no events then (0); a value missing from a
    full list was outside the previous top N, and its count is unknown."""
    before = {(r.type, r.value): r.count for r in earlier}
    out = []
    for row in rows:
        count = before.get((row.type, row.value))
        if count is not None:
            out.append(replace(row, previous=count))
        elif len(earlier) < top_n:
            out.append(replace(row, previous=0))
        else:
            out.append(replace(row, previous=None, previous_outside_top_n=True))
    return tuple(out)


def _scalar(answers: _Answers, query_id: str, role: str, measure: str) -> int | None:
    found = answers.body(query_id, role, measure)
    if found is None:
        return None
    request, _, body = found
    if measure == "total" and request.endpoint == "/1/counts/profiles.json":
        # the event total of a unique count comes with the profiles answer (`tcount`); a source
        # whose service leaves it out asks events.json and fills it in
        if "tcount" not in body:
            raise QueryFailed(f"query {query_id!r}: the profiles.json answer has no tcount")
        return _count(body.get("tcount"), query_id, "tcount")
    return _count(body.get("count"), query_id, "count")


def _trend(answers: _Answers, query: Query) -> tuple[TrendPoint, ...]:
    def series(role: str) -> list[tuple[str, int]]:
        merged: dict[str, int] = {}
        for _, serves, body in answers.all(query.id, role, "trend", query.granularity):
            points = body.get(serves.request_key or query.granularity) or {}
            if not isinstance(points, Mapping):
                raise QueryFailed(f"query {query.id!r}: the trend answer is not a map of periods")
            for period, count in points.items():
                # A long window is asked in month-aligned parts: a period they share adds up.
                key = str(period)
                merged[key] = merged.get(key, 0) + _count(count, query.id, f"period {period}")
        return sorted(merged.items())

    current, previous = series("current"), series("previous")
    # Periods of the compare window differ by date: match them by position.
    return tuple(
        TrendPoint(period, count, previous[i][1] if i < len(previous) else None)
        for i, (period, count) in enumerate(current)
    )


def _query_result(query: Query, plan: Plan, answers: _Answers) -> QueryResult:
    windows = plan.window_of(query.id)
    result = QueryResult(
        query_id=query.id,
        title=query.title,
        event=query.event,
        kind=query.kind,
        window=windows.current,
        previous_window=windows.previous,
        description=query.description,
        where=query.where,
        total=_scalar(answers, query.id, "current", "total"),
        previous_total=_scalar(answers, query.id, "previous", "total"),
        chart=query.chart,
    )
    if query.kind == "top":
        return replace(result, groups=_top_groups(query, answers))
    if query.kind == "count":
        return replace(
            result,
            unique=_scalar(answers, query.id, "current", "unique"),
            previous_unique=_scalar(answers, query.id, "previous", "unique"),
        )
    measure = (
        f"Sum of {query.sum_event_prop}"
        if query.sum_event_prop
        else "Unique profiles"
        if query.unique
        else "Events"
    )
    return replace(
        result,
        granularity=query.granularity,
        trend=_trend(answers, query),
        measure=measure,
        currency=query.currency if query.sum_event_prop else None,
    )


def build_report_result(
    plan: Plan,
    bodies: Mapping[str, Mapping[str, Any]],
    *,
    source: str,
    demo: bool,
    generated_at: datetime,
    version: str = "",
) -> ReportResult:
    """Every query's result from the success bodies of the plan's requests (by `Request.key`).

    A query whose requests are not all answered in `bodies` (it failed) is left out.
    """
    report = plan.report
    served = {s.query_id for r in plan.requests if r.key in bodies for s in r.serves}
    needed: dict[str, set[str]] = {}
    for request in plan.requests:
        for serves in request.serves:
            needed.setdefault(serves.query_id, set()).add(request.key)
    answers = _Answers(plan, bodies)
    queries = tuple(
        _query_result(q, plan, answers)
        for q in report.queries
        if q.id in served and needed.get(q.id, set()) <= set(bodies)
    )
    return ReportResult(
        report_id=report.id,
        title=report.title,
        description=report.description,
        timezone=report.timezone,
        as_of=plan.as_of,
        generated_at=generated_at,
        source=source,
        demo=demo,
        compare=report.compare,
        queries=queries,
        reportkit_version=version,
        locale=report.locale,
    )
