"""API bodies -> result tables: the typed results every renderer reads and results.json holds."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from reportkit.windows import DateRange

NOT_SET = "-1"  # the value the service answers for events where the property is missing


@dataclass(frozen=True, slots=True)
class Row:
    """One ranked value of a top breakdown."""

    type: str  # STR | NUMBER | ENUM | DATE (any tag the source answers)
    value: str  # as answered: "Gold", "0-100", "1700000000-1700086400", "-1"
    count: int
    previous: int | None = None  # the count in the compare window, None when unknown


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
    chart: dict[str, Any] | None = field(default=None, hash=False, compare=False)


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

    @property
    def window_end(self) -> date:
        return max(q.window.end for q in self.queries)
