"""What changed in the numbers between two runs of a report: a pure diff of two ReportResults.

`diff_results(before, after)` compares the queries of the two results by query id:

    queries added / removed        ids present on one side only
    windows changed                current (and compare) windows of a query, old and new dates
    totals changed                 total, previous total, unique, previous unique: before -> after
    rows appeared / disappeared    group rows (and trend periods) on one side only
    rows changed                   a row on both sides whose count (or previous count) differs
    groups added / removed         a whole breakdown on one side only

Titles, descriptions, layout and templates never show here: when only they changed, the diff is
empty and `ReportDiff.numbers_changed` is False. No I/O, no clock: two results in, one diff out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from reportkit.language.windows import DateRange
from reportkit.results import GroupTable, QueryResult, ReportResult

TREND = "trend"  # the pseudo group key under which trend periods are compared


@dataclass(frozen=True, slots=True)
class WindowChange:
    query_id: str
    before: DateRange
    after: DateRange
    previous_before: DateRange | None = None
    previous_after: DateRange | None = None


@dataclass(frozen=True, slots=True)
class TotalChange:
    query_id: str
    measure: str  # total | previous_total | unique | previous_unique
    before: int | None
    after: int | None

    @property
    def change(self) -> int | None:
        if self.before is None or self.after is None:
            return None
        return self.after - self.before

    @property
    def pct_change(self) -> float | None:
        if self.before in (None, 0) or self.after is None:
            return None
        assert self.before is not None
        return (self.after - self.before) / self.before * 100


@dataclass(frozen=True, slots=True)
class RowChange:
    """A group row (or trend period) that appeared, disappeared or changed its count."""

    query_id: str
    group: str  # the group key, or "trend" for trend periods
    value: str
    kind: str  # appeared | disappeared | changed
    before: int | None
    after: int | None
    previous_before: int | None = None
    previous_after: int | None = None


@dataclass(frozen=True, slots=True)
class GroupChange:
    query_id: str
    group: str
    kind: str  # added | removed


@dataclass(frozen=True, slots=True)
class ReportDiff:
    report_id: str
    queries_added: tuple[str, ...] = ()
    queries_removed: tuple[str, ...] = ()
    windows: tuple[WindowChange, ...] = ()
    totals: tuple[TotalChange, ...] = ()
    groups: tuple[GroupChange, ...] = ()
    rows: tuple[RowChange, ...] = ()

    @property
    def numbers_changed(self) -> bool:
        return bool(
            self.queries_added
            or self.queries_removed
            or self.windows
            or self.totals
            or self.groups
            or self.rows
        )


_MEASURES = ("total", "previous_total", "unique", "previous_unique")


def _totals(before: QueryResult, after: QueryResult) -> Iterable[TotalChange]:
    for measure in _MEASURES:
        old, new = getattr(before, measure), getattr(after, measure)
        if old != new:
            yield TotalChange(before.query_id, measure, old, new)


def _window(before: QueryResult, after: QueryResult) -> WindowChange | None:
    if before.window == after.window and before.previous_window == after.previous_window:
        return None
    return WindowChange(
        before.query_id, before.window, after.window, before.previous_window, after.previous_window
    )


def _keyed_rows(table: GroupTable) -> dict[str, tuple[int, int | None]]:
    # Two type tags may answer the same value: keep them apart only when they do.
    rows: dict[str, tuple[int, int | None]] = {}
    for row in table.rows:
        key = row.value if row.value not in rows else f"{row.value} ({row.type})"
        rows[key] = (row.count, row.previous)
    return rows


def _trend_rows(query: QueryResult) -> dict[str, tuple[int, int | None]]:
    return {point.period: (point.count, point.previous) for point in query.trend}


def _rows(
    query_id: str,
    group: str,
    before: dict[str, tuple[int, int | None]],
    after: dict[str, tuple[int, int | None]],
) -> Iterable[RowChange]:
    for value, (count, previous) in before.items():
        if value not in after:
            yield RowChange(query_id, group, value, "disappeared", count, None, previous, None)
    for value, (count, previous) in after.items():
        if value not in before:
            yield RowChange(query_id, group, value, "appeared", None, count, None, previous)
            continue
        old, old_previous = before[value]
        if (old, old_previous) != (count, previous):
            yield RowChange(query_id, group, value, "changed", old, count, old_previous, previous)


def _query(
    before: QueryResult, after: QueryResult
) -> tuple[list[TotalChange], list[GroupChange], list[RowChange]]:
    totals = list(_totals(before, after))
    groups: list[GroupChange] = []
    rows: list[RowChange] = []
    old_groups = {g.key: g for g in before.groups}
    new_groups = {g.key: g for g in after.groups}
    for key in old_groups:
        if key not in new_groups:
            groups.append(GroupChange(before.query_id, key, "removed"))
    for key, table in new_groups.items():
        if key not in old_groups:
            groups.append(GroupChange(before.query_id, key, "added"))
            continue
        rows.extend(_rows(before.query_id, key, _keyed_rows(old_groups[key]), _keyed_rows(table)))
    if before.trend or after.trend:
        rows.extend(_rows(before.query_id, TREND, _trend_rows(before), _trend_rows(after)))
    return totals, groups, rows


def diff_results(before: ReportResult, after: ReportResult) -> ReportDiff:
    """The numbers that differ between `before` and `after` (two runs of one report)."""
    old = {q.query_id: q for q in before.queries}
    new = {q.query_id: q for q in after.queries}
    windows: list[WindowChange] = []
    totals: list[TotalChange] = []
    groups: list[GroupChange] = []
    rows: list[RowChange] = []
    for query_id, query in new.items():
        if query_id not in old:
            continue
        window = _window(old[query_id], query)
        if window is not None:
            windows.append(window)
        more_totals, more_groups, more_rows = _query(old[query_id], query)
        totals += more_totals
        groups += more_groups
        rows += more_rows
    return ReportDiff(
        report_id=after.report_id,
        queries_added=tuple(q for q in new if q not in old),
        queries_removed=tuple(q for q in old if q not in new),
        windows=tuple(windows),
        totals=tuple(totals),
        groups=tuple(groups),
        rows=tuple(rows),
    )


__all__ = [
    "GroupChange",
    "ReportDiff",
    "RowChange",
    "TotalChange",
    "WindowChange",
    "diff_results",
]
