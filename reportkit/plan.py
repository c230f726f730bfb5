"""Report -> API requests: one request per event, kind and window, identical requests sent once."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any, Literal

from reportkit.errors import WindowError
from reportkit.language.model import Report, wire_filters
from reportkit.language.windows import DateRange, previous_window, resolve_window, shift_periods

Endpoint = Literal[
    "/1/counts/top.json",
    "/1/counts/events.json",
    "/1/counts/profiles.json",
    "/1/counts/trends.json",
]
Role = Literal["current", "previous"]


@dataclass(frozen=True, slots=True)
class Serves:
    """Which query (and which of its groups) a request answers, for which window."""

    query_id: str
    role: Role = "current"
    measure: Literal["top", "total", "unique", "trend"] = "top"
    group: str | None = None  # the group key as the report wrote it
    request_key: str | None = None  # the key of that group inside the request body


@dataclass(frozen=True, slots=True)
class Request:
    """One API call: an endpoint and its JSON body, and what it serves."""

    endpoint: Endpoint
    body: dict[str, Any]
    serves: tuple[Serves, ...] = ()

    @property
    def key(self) -> str:
        """A canonical identity of the call: equal for requests the API answers identically."""
        return self.endpoint + " " + json.dumps(self.body, sort_keys=True, separators=(",", ":"))

    def describe(self) -> dict[str, Any]:
        """The request as `reportkit plan --json` prints it: endpoint, body and what it serves."""
        serves = [
            {
                name: value
                for name, value in (
                    ("query", s.query_id),
                    ("window", s.role),
                    ("measure", s.measure),
                    ("group", s.group),
                    ("request_key", s.request_key),
                )
                if value is not None
            }
            for s in self.serves
        ]
        return {"endpoint": self.endpoint, "body": self.body, "serves": serves}


@dataclass(frozen=True, slots=True)
class QueryWindows:
    """The concrete windows of one query."""

    query_id: str
    current: DateRange
    previous: DateRange | None


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything a run must ask the source for one report on one as_of."""

    report: Report
    as_of: date
    windows: tuple[QueryWindows, ...]
    requests: tuple[Request, ...]

    def window_of(self, query_id: str) -> QueryWindows:
        for window in self.windows:
            if window.query_id == query_id:
                return window
        raise KeyError(query_id)


def split_for_trends(dates: DateRange) -> list[DateRange]:
    """Split a window longer than a year into parts of at most twelve calendar months.

    Clients of the trends API see about a year per request at most; parts after the first start on
    the first of a month, so monthly periods never straddle two parts (a weekly period at a
    boundary is counted in both and summed, which double-counts unique profiles there).
    """
    if dates.days <= 366:
        return [dates]
    parts = []
    start = dates.start
    while True:
        month_start = start.replace(day=1)
        # the last part; checked first since shifting 12 months could pass year 9999
        if _months_apart(start, dates.end) < 12:
            parts.append(DateRange(start, dates.end))
            return parts
        end = shift_periods(month_start, "month", 12) - timedelta(days=1)
        parts.append(DateRange(start, end))
        start = end + timedelta(days=1)


def _months_apart(first: date, last: date) -> int:
    """Calendar months from `first`'s month to `last`'s (0 within one month)."""
    return (last.year - first.year) * 12 + last.month - first.month


MAX_TREND_POINTS = 3660  # ten years of days; a longer trend is a mistake that would run for long


def _check_trend_size(report: Report, query_id: str, granularity: str, dates: DateRange) -> None:
    months = _months_apart(dates.start, dates.end) + 1
    points = {"daily": dates.days, "weekly": dates.days // 7, "monthly": months}[granularity]
    if points > MAX_TREND_POINTS:
        where = f"{report.path}: " if report.path else ""
        raise WindowError(
            f"{where}query {query_id!r}: a {granularity} trend over {dates} has {points} points, "
            f"more than {MAX_TREND_POINTS}: choose a shorter window or a coarser granularity"
        )


def resolve_query_windows(report: Report, as_of: date) -> tuple[QueryWindows, ...]:
    """Resolve every query's window (and its compare window) for `as_of`."""
    out = []
    for query in report.queries:
        where = f"{report.path}: " if report.path else ""
        try:
            current = resolve_window(
                query.window,
                as_of,
                week_start=report.week_start,
                include_today=query.include_today,
            )
            previous = (
                previous_window(query.window, current, report.compare, week_start=report.week_start)
                if report.compare
                else None
            )
        except WindowError as exc:
            raise WindowError(f"{where}query {query.id!r}: {exc}") from None
        except (OverflowError, ValueError):
            # date arithmetic past year 1 or 9999: last_9999_years, previous_year of 0001-01-01
            raise WindowError(
                f"{where}query {query.id!r}: window {query.window.describe()} on "
                f"{as_of.isoformat()}{' with compare: ' + report.compare if report.compare else ''}"
                " reaches outside the calendar (years 1 to 9999)"
            ) from None
        out.append(QueryWindows(query.id, current, previous))
    return tuple(out)


class _Builder:
    """Collects requests keyed by what they ask, so one call serves every query that needs it."""

    def __init__(self) -> None:
        self._bodies: dict[tuple[str, str], dict[str, Any]] = {}
        self._serves: dict[tuple[str, str], list[Serves]] = {}

    def add(self, endpoint: Endpoint, body: dict[str, Any], serves: Serves) -> None:
        key = (endpoint, json.dumps(body, sort_keys=True))
        self._bodies.setdefault(key, body)
        self._serves.setdefault(key, []).append(serves)

    def add_grouped(
        self,
        endpoint: Endpoint,
        base: dict[str, Any],
        groups: dict[str, dict[str, Any]],
        serves: Serves,
    ) -> None:
        """Add groups to the one request for this endpoint, event and window.

        The API takes several groups at once and allows only three requests in flight per
        account, so every query of one event and window shares a request; identical groups are
        asked once, and a key already taken by another query's group is prefixed with the query id.
        """
        key = (endpoint, json.dumps(base, sort_keys=True) + "#grouped")
        body = self._bodies.setdefault(key, {**base, "groups": {}})
        served = self._serves.setdefault(key, [])
        wire_groups: dict[str, Any] = body["groups"]
        for group_key, wire in groups.items():
            request_key = next((k for k, v in wire_groups.items() if v == wire), None)
            if request_key is None:
                request_key = (
                    group_key if group_key not in wire_groups else f"{serves.query_id}.{group_key}"
                )
                wire_groups[request_key] = wire
            served.append(replace(serves, group=group_key, request_key=request_key))

    def requests(self) -> tuple[Request, ...]:
        return tuple(
            Request(endpoint=key[0], body=self._bodies[key], serves=tuple(self._serves[key]))  # type: ignore[arg-type]
            for key in self._bodies
        )


def plan_requests(report: Report, as_of: date) -> Plan:
    """The API requests that answer every query of `report` on `as_of`, merged and deduplicated.

    A top query also asks events.json for the event's total (the share column); a count query asks
    events.json, or with `unique` profiles.json alone (its `tcount` is the total); a trend asks
    trends.json with its granularity as the group. With `compare`, every request is made again
    for the previous window.
    """
    windows = resolve_query_windows(report, as_of)
    builder = _Builder()
    for query, window in zip(report.queries, windows, strict=True):
        ranges: list[tuple[Role, DateRange]] = [("current", window.current)]
        if window.previous is not None:
            ranges.append(("previous", window.previous))
        for role, dates in ranges:
            # filters are part of the body, so of the request's key: never merged away
            filters = wire_filters(query.where)
            base = {
                "event_name": query.event,
                "from": dates.api_from(),
                "to": dates.api_to(),
                **filters,
            }
            if query.kind == "top":
                groups = {
                    g.key: {
                        "property_type": g.property_type,
                        "name": g.name,
                        "top_n": g.top_n,
                        "order": g.order,
                    }
                    for g in query.groups
                }
                builder.add_grouped(
                    "/1/counts/top.json", base, groups, Serves(query.id, role, "top")
                )
                builder.add("/1/counts/events.json", base, Serves(query.id, role, "total"))
            elif query.kind == "count" and query.unique:
                # profiles.json answers the event total too (`tcount`): one request, not two
                builder.add("/1/counts/profiles.json", base, Serves(query.id, role, "total"))
                builder.add("/1/counts/profiles.json", base, Serves(query.id, role, "unique"))
            elif query.kind == "count":
                builder.add("/1/counts/events.json", base, Serves(query.id, role, "total"))
            else:
                _check_trend_size(report, query.id, query.granularity, dates)
                for part in split_for_trends(dates):
                    body: dict[str, Any] = {
                        "event_name": query.event,
                        "from": part.api_from(),
                        "to": part.api_to(),
                        "unique": query.unique,
                        **filters,
                    }
                    if query.sum_event_prop:
                        body["sum_event_prop"] = query.sum_event_prop
                    builder.add_grouped(
                        "/1/counts/trends.json",
                        body,
                        {query.granularity: {"trend_type": query.granularity}},
                        Serves(query.id, role, "trend"),
                    )
    return Plan(report=report, as_of=as_of, windows=windows, requests=builder.requests())
