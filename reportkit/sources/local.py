"""The local engine: a DuckDB event store that answers the four count endpoints like CleverTap.

`LocalEngine.answer(endpoint, body)` returns `(HTTP status, JSON body)` exactly as the service
would, failures included, and never raises; `LocalSource` puts it behind the `Source` seam.

Answer rules (see the README's engine section):
- `from`/`to` are inclusive local dates in the store's timezone.
- top: strings under STR (ENUM for technographics), numbers under NUMBER as "lo-hi" buckets of
  width 1, 2, 5, 10, 20, 50... (the smallest giving at most 10 buckets), `$D_<epoch>` dates under
  DATE as "lo-hi" epoch-second buckets whose width is 1, 2, 5, 10... whole days, aligned on UTC
  midnights. Events without the property count under "-1" in STR. Ranking is by count (`order`),
  ties by value ascending (by the low end for ranges); `top_n` trims each TYPE map.
- trends: daily keys YYYYMMDD, weekly keys the Monday of the week, monthly keys YYYYMM01; every
  period of the window appears, zeros included; only events inside [from, to] count.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reportkit.errors import QueryFailed
from reportkit.plan import MAX_TREND_POINTS, Request
from reportkit.sources.filters import FilterError, filter_condition
from reportkit.store import PROFILE_SCOPES, SCOPES, Catalog, Column, connect, load_catalog

if TYPE_CHECKING:
    import duckdb

ENDPOINTS = (
    "/1/counts/top.json",
    "/1/counts/events.json",
    "/1/counts/profiles.json",
    "/1/counts/trends.json",
)
MAX_BUCKETS = 10
MAX_GROUPS = 20  # groups in one request, as the schema allows per query
DAY = 86_400


class Refused(Exception):
    """A request the service would refuse; carries the error text and code."""

    def __init__(self, error: str, code: int = 400) -> None:
        super().__init__(error)
        self.error = error
        self.code = code


@dataclass(frozen=True, slots=True)
class Window:
    start: date
    end: date


@dataclass(frozen=True, slots=True)
class _Scope:
    """The events a request counts: `FROM {sql}` with `params`, then `AND ...` may follow.

    Events are `e`; profiles `p`, joined when a group or a filter needs them."""

    sql: str
    params: list[Any]


def bucket_width(lo: float, hi: float, unit: int = 1) -> int:
    """The smallest of unit x (1, 2, 5, 10, 20, 50, ...) giving at most 10 buckets over [lo, hi]."""
    base = unit
    while True:
        for step in (1, 2, 5):
            width = base * step
            if (hi // width) - (lo // width) + 1 <= MAX_BUCKETS:
                return width
        base *= 10


def rank_values(values: dict[Any, int], order: str, top_n: int) -> list[tuple[Any, int]]:
    sign = -1 if order == "desc" else 1
    return sorted(values.items(), key=lambda kv: (sign * kv[1], kv[0]))[:top_n]


class LocalEngine:
    """Answers API calls from a DuckDB store; safe to call from many threads at once."""

    def __init__(self, path: str | Path = ":memory:", *, read_only: bool = False) -> None:
        self.path = path
        self._con = connect(path, read_only=read_only)
        self._lock = threading.Lock()
        self._catalog: Catalog | None = None

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The engine's own connection (for loading data in tests and the importer)."""
        return self._con

    def refresh(self) -> None:
        """Forget the cached catalog (call after writing to the store)."""
        with self._lock:
            self._catalog = None

    def close(self) -> None:
        self._con.close()

    def _get_catalog(self, cur: duckdb.DuckDBPyConnection, *, reload: bool = False) -> Catalog:
        with self._lock:
            if self._catalog is None or reload:
                self._catalog = load_catalog(cur)
            return self._catalog

    def answer(self, endpoint: str, body: Any) -> tuple[int, dict[str, Any]]:
        """Answer one API call as the real service would: (HTTP status, JSON body)."""
        import duckdb

        try:
            cur = self._con.cursor()
        except duckdb.Error as exc:
            return 500, {"status": "fail", "error": f"store unavailable: {exc}", "code": 500}
        try:
            return 200, self._answer(cur, endpoint, body)
        except Refused as exc:
            return exc.code, {"status": "fail", "error": exc.error, "code": exc.code}
        except duckdb.Error as exc:
            return 500, {"status": "fail", "error": f"internal error: {exc}", "code": 500}
        finally:
            cur.close()

    # -- request checking ---------------------------------------------------------------------

    def _answer(self, cur: duckdb.DuckDBPyConnection, endpoint: str, body: Any) -> dict[str, Any]:
        if endpoint not in ENDPOINTS:
            raise Refused(f"Unknown endpoint : {endpoint}", 404)
        if not isinstance(body, dict):
            raise Refused("Request body must be a JSON object")
        name = body.get("event_name")
        if not isinstance(name, str) or not name:
            raise Refused("event_name is required")
        window = Window(parse_day(body, "from"), parse_day(body, "to"))
        if window.start > window.end:
            raise Refused(f"from ({body['from']}) is after to ({body['to']})")
        catalog = self._get_catalog(cur)
        if name not in catalog.events:
            catalog = self._get_catalog(cur, reload=True)
            if name not in catalog.events:
                raise Refused(f"Invalid event : {name}")
        eid = catalog.events[name]
        groups = body.get("groups")
        if isinstance(groups, dict) and len(groups) > MAX_GROUPS:
            raise Refused(f"Too many groups : {len(groups)} (at most {MAX_GROUPS})")
        catalog, events = self._scope(cur, catalog, eid, window, body)
        if endpoint == "/1/counts/top.json":
            return self._top(cur, catalog, events, body)
        if endpoint == "/1/counts/trends.json":
            return self._trends(cur, catalog, events, window, body)
        row = cur.execute(
            f"SELECT count(*), count(DISTINCT e.pid) FROM {events.sql}", events.params
        ).fetchone()
        total, unique = (int(row[0]), int(row[1])) if row else (0, 0)
        if endpoint == "/1/counts/events.json":
            return {"status": "success", "count": total}
        # as a real profiles.json answer: the event total too, and users / devices
        return {
            "status": "success",
            "count": unique,
            "tcount": total,
            "nQCount": 0,
            "userDeviceCount": {"devices": unique, "users": unique},
        }

    def _scope(
        self,
        cur: duckdb.DuckDBPyConnection,
        catalog: Catalog,
        eid: int,
        window: Window,
        body: dict[str, Any],
    ) -> tuple[Catalog, _Scope]:
        """The request's events: its event, its window and every filter of its body."""
        known = catalog

        def lookup(key: str, name: str) -> tuple[Column, ...]:
            nonlocal known
            scopes = {
                "event_properties": ("event_properties",),
                "session_properties": ("session_properties",),
            }.get(key, PROFILE_SCOPES)
            for attempt in (0, 1):
                found = tuple(c for s in scopes for c in known.property_columns(s, name))
                if found or attempt:
                    return found
                known = self._get_catalog(cur, reload=True)
            return ()

        try:
            condition = filter_condition(body, lookup)
        except FilterError as exc:
            raise Refused(f"Invalid filter : {exc}") from None
        groups = body.get("groups")
        joined = condition.needs_profiles or (
            isinstance(groups, dict)
            and any(
                isinstance(g, dict) and g.get("property_type") in PROFILE_SCOPES
                for g in groups.values()
            )
        )
        sql = (
            ("events e LEFT JOIN profiles p ON e.pid = p.pid" if joined else "events e")
            + " WHERE e.eid = ? AND e.day BETWEEN ? AND ?"
            + (f" AND {condition.sql}" if condition.params or condition.sql != "TRUE" else "")
        )
        return known, _Scope(sql, [eid, window.start, window.end, *condition.params])

    def _columns(
        self, cur: duckdb.DuckDBPyConnection, catalog: Catalog, scope: str, name: str
    ) -> tuple[Catalog, tuple[Column, ...]]:
        cols = catalog.property_columns(scope, name)
        if not cols:
            catalog = self._get_catalog(cur, reload=True)
            cols = catalog.property_columns(scope, name)
        return catalog, cols

    # -- top ----------------------------------------------------------------------------------

    def _top(
        self,
        cur: duckdb.DuckDBPyConnection,
        catalog: Catalog,
        events: _Scope,
        body: dict[str, Any],
    ) -> dict[str, Any]:
        groups = body.get("groups")
        if not isinstance(groups, dict) or not groups:
            raise Refused("groups is required")
        plans: list[tuple[str, str, tuple[Column, ...], int, str]] = []
        for key, group in groups.items():
            if not isinstance(group, dict):
                raise Refused("Invalid group")
            scope, name = group.get("property_type"), group.get("name")
            if scope not in SCOPES or not isinstance(name, str):
                raise Refused("Invalid group")
            top_n, order = group.get("top_n", 10), group.get("order", "desc")
            if not isinstance(top_n, int) or isinstance(top_n, bool) or top_n < 1:
                raise Refused(f"Invalid top_n : {top_n}")
            if order not in ("asc", "desc"):
                raise Refused(f"Invalid order : {order}")
            catalog, cols = self._columns(cur, catalog, scope, name)
            if not cols and not (scope == "session_properties" and name == "time_of_day"):
                raise Refused("Invalid group")
            plans.append((str(key), scope, cols, top_n, order))
        answer: dict[str, Any] = {"status": "success"}
        for key, scope, cols, top_n, order in plans:
            maps = self._top_group(cur, events, scope, cols)
            answer[key] = {
                typ: {label_of(v): n for v, n in rank_values(values, order, top_n)}
                for typ, values in maps.items()
                if values
            }
        return answer

    def _top_group(
        self,
        cur: duckdb.DuckDBPyConnection,
        events: _Scope,
        scope: str,
        cols: tuple[Column, ...],
    ) -> dict[str, dict[Any, int]]:
        params, source = events.params, events.sql
        alias = "p" if scope in PROFILE_SCOPES else "e"
        if not cols:  # time_of_day: the local hour of the event
            rows = cur.execute(f"SELECT e.hour, count(*) FROM {source} GROUP BY 1", params)
            return {"STR": {f"{int(h):02d}": int(n) for h, n in rows.fetchall()}}
        maps: dict[str, dict[Any, int]] = {}
        total, held = 0, 0  # events in the window; events holding a value of some type
        for col in cols:
            ref = f"{alias}.{col.col}"
            if col.type == "STR":
                rows = cur.execute(f"SELECT {ref}, count(*) FROM {source} GROUP BY 1", params)
                values: dict[Any, int] = {}
                total = 0
                for value, n in rows.fetchall():
                    total += int(n)
                    if value is not None:
                        values[value] = int(n)
                        held += int(n)
                maps["ENUM" if scope == "technographics" else "STR"] = values
            else:
                maps[col.type], col_held, total = _ranges(cur, source, ref, params, col.type)
                held += col_held
        if total > held:
            labels = maps.setdefault("STR", {})
            labels["-1"] = labels.get("-1", 0) + total - held
        return maps

    # -- trends -------------------------------------------------------------------------------

    def _trends(
        self,
        cur: duckdb.DuckDBPyConnection,
        catalog: Catalog,
        events: _Scope,
        window: Window,
        body: dict[str, Any],
    ) -> dict[str, Any]:
        groups = body.get("groups")
        if not isinstance(groups, dict) or not groups:
            raise Refused("groups is required")
        unique, prop = body.get("unique", False), body.get("sum_event_prop")
        if not isinstance(unique, bool):
            raise Refused("unique must be true or false")
        measure = "count(DISTINCT e.pid)" if unique else "count(*)"
        if prop is not None:
            if unique:
                raise Refused("unique and sum_event_prop cannot be combined")
            if not isinstance(prop, str):
                raise Refused("Invalid group")
            catalog, cols = self._columns(cur, catalog, "event_properties", prop)
            numbers = [c for c in cols if c.type == "NUMBER"]
            if not numbers:
                raise Refused("Invalid group")
            measure = f"coalesce(sum(e.{numbers[0].col}), 0)"
        kinds: dict[str, str] = {}
        for key, group in groups.items():
            kind = group.get("trend_type") if isinstance(group, dict) else None
            if kind not in ("daily", "weekly", "monthly"):
                raise Refused(f"Invalid trend_type : {kind}")
            kinds[str(key)] = kind
        days = (window.end - window.start).days + 1
        for kind in set(kinds.values()):
            points = {"daily": days, "weekly": days // 7 + 1, "monthly": days // 28 + 1}[kind]
            if points > MAX_TREND_POINTS:
                # bounded work for any request: the planner refuses such trends too
                raise Refused(
                    f"Trend too long : {kind} over {days} days (at most {MAX_TREND_POINTS})"
                )
        answer: dict[str, Any] = {"status": "success"}
        for key, kind in kinds.items():
            trunc = {"daily": "day", "weekly": "week", "monthly": "month"}[kind]
            rows = cur.execute(
                f"SELECT date_trunc('{trunc}', e.day)::DATE AS period, {measure}"
                f" FROM {events.sql} GROUP BY period",
                events.params,
            ).fetchall()
            found = {period: number_of(v) for period, v in rows}
            answer[key] = {p.strftime("%Y%m%d"): found.get(p, 0) for p in periods_of(window, kind)}
        return answer


def number_of(value: Any) -> int | float:
    number = float(value)
    return int(number) if number.is_integer() else number


def periods_of(window: Window, kind: str) -> list[date]:
    if kind == "daily":
        first, step = window.start, "day"
    elif kind == "weekly":
        first, step = window.start - timedelta(days=window.start.weekday()), "week"
    else:
        first, step = window.start.replace(day=1), "month"
    periods = []
    current: date | None = first
    while current is not None and current <= window.end:
        periods.append(current)
        current = _next_period(current, step)
    return periods


def _next_period(current: date, step: str) -> date | None:
    """The start of the next period, or None after the one holding 9999-12-31."""
    try:
        if step == "day":
            return current + timedelta(days=1)
        if step == "week":
            return current + timedelta(days=7)
        return date(current.year + current.month // 12, current.month % 12 + 1, 1)
    except (OverflowError, ValueError):
        return None


def _ranges(
    cur: duckdb.DuckDBPyConnection, source: str, ref: str, params: list[Any], typ: str
) -> tuple[dict[Any, int], int, int]:
    """NUMBER or DATE buckets keyed by (lo, hi); also how many events held a value, of how many."""
    low, high, held, total = _summary(cur, source, ref, params)
    if held and not (math.isfinite(low) and math.isfinite(high)):
        # NaN and infinities (imports refuse them; a store written by other means may hold
        # them) have no bucket: they count as no value, not as a width search that never ends.
        # Checked on min and max (NaN sorts last), so finite stores pay nothing for it.
        ref = f"CASE WHEN isfinite({ref}) THEN {ref} END"
        low, high, held, total = _summary(cur, source, ref, params)
    if not held:
        return {}, 0, int(total)
    width = bucket_width(float(low), float(high), DAY if typ == "DATE" else 1)
    rows = cur.execute(
        f"SELECT floor({ref} / {width})::BIGINT AS k, count(*) FROM {source}"
        f" AND {ref} IS NOT NULL GROUP BY k",
        params,
    ).fetchall()
    return {(k * width, (k + 1) * width): int(n) for k, n in rows}, int(held), int(total)


def _summary(
    cur: duckdb.DuckDBPyConnection, source: str, ref: str, params: list[Any]
) -> tuple[Any, Any, int, int]:
    row = cur.execute(
        f"SELECT min({ref}), max({ref}), count({ref}), count(*) FROM {source}", params
    ).fetchone()
    assert row is not None
    return row[0], row[1], int(row[2]), int(row[3])


def label_of(value: Any) -> str:
    """A map key as the service writes it: ranges (lo, hi) as "lo-hi"."""
    return f"{value[0]}-{value[1]}" if isinstance(value, tuple) else str(value)


def parse_day(body: dict[str, Any], key: str) -> date:
    value = body.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise Refused(f"Invalid {key} date : {value!r} (expected an integer YYYYMMDD)")
    try:
        return date(value // 10000, value // 100 % 100, value % 100)
    except (ValueError, OverflowError):
        raise Refused(f"Invalid {key} date : {value} (expected an integer YYYYMMDD)") from None


class LocalSource:
    """The `Source` over a `LocalEngine`: success bodies, or QueryFailed."""

    def __init__(self, engine: LocalEngine, name: str) -> None:
        self.engine = engine
        self.name = name

    def execute(self, request: Request) -> dict[str, Any]:
        status, body = self.engine.answer(request.endpoint, request.body)
        if status == 200 and body.get("status") == "success":
            return body
        event = request.body.get("event_name") if isinstance(request.body, dict) else None
        raise QueryFailed(
            f"{self.name} {request.endpoint} for event {event!r} failed: "
            f"{body.get('error', 'unknown error')} (code {body.get('code', status)})"
        )

    def close(self) -> None:
        self.engine.close()
