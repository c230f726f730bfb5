"""The numbers a definition's text templates see: check expressions and messages, and the
subject and body of a report's email.

Plain frozen dataclasses built from a `ReportResult`, pure: `queries.<id>.total`,
`previous_total`, `total_change`, `total_pct_change` (a percentage, None without a previous
count), `unique` and its changes, `groups.<key>.rows[i]` (value, label, count, previous, change,
pct_change, share) and `points[i]` of a trend. `reportkit.language.expressions` checks
definitions against these field names; a test keeps the two equal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from reportkit.language.windows import DateRange
from reportkit.results import NOT_SET, GroupTable, QueryResult, ReportResult


def change(count: int | None, previous: int | None) -> int | None:
    if count is None or previous is None:
        return None
    return count - previous


def percent_change(count: int | None, previous: int | None) -> float | None:
    """% change against the previous count; None when there is nothing to compare with."""
    if count is None or not previous:
        return None
    return (count - previous) / previous * 100.0


def share(count: int, total: int | None) -> float | None:
    if not total:
        return None
    return count / total * 100.0


@dataclass(frozen=True, slots=True)
class RowFacts:
    value: str
    label: str  # the value, or "(not set)"
    type: str
    count: int
    previous: int | None
    change: int | None
    pct_change: float | None
    share: float | None


@dataclass(frozen=True, slots=True)
class GroupFacts:
    key: str
    name: str
    property_type: str
    rows: tuple[RowFacts, ...]


class Groups(tuple[GroupFacts, ...]):
    """A query's groups in definition order, also found by key: `groups.city`,
    `groups["city"]` and `groups[0]` are all the first group when its key is city (email
    subjects written before groups had keys index them by position)."""

    __slots__ = ()

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            for group in self:
                if group.key == key:
                    return group
            raise KeyError(key)
        return super().__getitem__(key)

    def __getattr__(self, name: str) -> GroupFacts:
        try:
            found: GroupFacts = self[name]
        except KeyError:
            raise AttributeError(name) from None
        return found


@dataclass(frozen=True, slots=True)
class PointFacts:
    period: str
    count: int
    previous: int | None
    change: int | None
    pct_change: float | None


@dataclass(frozen=True, slots=True)
class QueryFacts:
    id: str
    title: str
    event: str
    kind: str
    description: str
    window: DateRange
    previous_window: DateRange | None
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
    currency: str | None  # ISO 4217 when a trend's sums are money: `| money(q.currency)`
    groups: Groups
    points: tuple[PointFacts, ...]


@dataclass(frozen=True, slots=True)
class ReportFacts:
    id: str
    title: str
    description: str
    timezone: str
    as_of: date
    source: str
    demo: bool


Labeller = Callable[[str, str], str]  # (value, type) -> how a reader sees the value


def plain_label(value: str, row_type: str) -> str:
    """The value as answered; `-1` (the property was not set) as `(not set)`."""
    return "(not set)" if value == NOT_SET else value


def _group(group: GroupTable, total: int | None, label: Labeller) -> GroupFacts:
    return GroupFacts(
        key=group.key,
        name=group.name,
        property_type=group.property_type,
        rows=tuple(
            RowFacts(
                value=row.value,
                label=label(row.value, row.type),
                type=row.type,
                count=row.count,
                previous=row.previous,
                change=change(row.count, row.previous),
                pct_change=percent_change(row.count, row.previous),
                share=share(row.count, total),
            )
            for row in group.rows
        ),
    )


def query_facts(query: QueryResult, label: Labeller = plain_label) -> QueryFacts:
    return QueryFacts(
        id=query.query_id,
        title=query.title,
        event=query.event,
        kind=query.kind,
        description=query.description,
        window=query.window,
        previous_window=query.previous_window,
        total=query.total,
        previous_total=query.previous_total,
        total_change=change(query.total, query.previous_total),
        total_pct_change=percent_change(query.total, query.previous_total),
        unique=query.unique,
        previous_unique=query.previous_unique,
        unique_change=change(query.unique, query.previous_unique),
        unique_pct_change=percent_change(query.unique, query.previous_unique),
        granularity=query.granularity,
        measure=query.measure,
        currency=query.currency,
        groups=Groups(_group(g, query.total, label) for g in query.groups),
        points=tuple(
            PointFacts(
                period=p.period,
                count=p.count,
                previous=p.previous,
                change=change(p.count, p.previous),
                pct_change=percent_change(p.count, p.previous),
            )
            for p in query.trend
        ),
    )


def report_span(result: ReportResult) -> DateRange | None:
    """From the earliest start to the latest end of the report's query windows."""
    windows = [q.window for q in result.queries]
    if not windows:
        return None
    return DateRange(min(w.start for w in windows), max(w.end for w in windows))


def text_context(
    result: ReportResult, window_label: str, label: Labeller = plain_label
) -> dict[str, Any]:
    """What a check, a subject or a body template sees: `report`, `window` (already written out
    as text, e.g. "24 – 30 Nov 2026") and `queries` by id; `label` writes a row's value as the
    report shows it (the renderer's labels: ranges, dates, shortened)."""
    return {
        "report": ReportFacts(
            id=result.report_id,
            title=result.title,
            description=result.description,
            timezone=result.timezone,
            as_of=result.as_of,
            source=result.source,
            demo=result.demo,
        ),
        "window": window_label,
        "queries": {q.query_id: query_facts(q, label) for q in result.queries},
    }
