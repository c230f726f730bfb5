"""The count rules as ibis expressions over the flat layout: the warehouse source's query builder.

`read_layout` reads which typed parts each property column gives; `Query` builds, for one
request's event and window, the one expression that answers it (see `warehouse` for the rules);
`group_maps` turns the engine's aggregated rows back into the local engine's value maps.
Filters (`where:`) are more predicates of `Query.events`, with `reportkit.sources.filters`' rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from reportkit.errors import InvalidInput
from reportkit.sources.local import DAY, MAX_BUCKETS, Window
from reportkit.store import PROFILE_FIELD_SCOPES, PROFILE_SCOPES, SCOPES

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from reportkit.sources.filters import WireFilter

REQUIRED = ("event_name", "ts", "identity")
DATE_PATTERN = r"^\$D_-?[0-9]+$"
_PREFIXES = {"event": "event_properties", "session": "session_properties", "profile": ""}


# -- the columns of the table -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Part:
    """One typed reading of a column: `type` is STR, NUMBER or DATE."""

    type: str
    column: str
    kind: Literal["string", "number", "timestamp", "date", "boolean", "integer"]


@dataclass(frozen=True, slots=True)
class Layout:
    """What the table holds: how ts reads, and the typed parts of each (scope, name)."""

    ts_kind: Literal["integer", "timestamp"]
    parts: dict[tuple[str, str], tuple[Part, ...]]


def property_of(column: str) -> tuple[str, str] | None:
    """(scope, name) of a flat-layout column, None for a column that is not a property."""
    if column == "platform":
        return ("technographics", "platform")
    prefix, dot, name = column.partition(".")
    if not dot:
        prefix, dot, name = column.partition("__")
    if not dot or not name or (prefix not in _PREFIXES and prefix not in SCOPES):
        return None
    scope = _PREFIXES.get(prefix, prefix) or PROFILE_FIELD_SCOPES.get(name, "profile_fields")
    return scope, name


def read_layout(schema: dict[str, Any], where: str) -> Layout:
    """The layout of a table from its ibis schema (column -> dtype)."""
    missing = [c for c in REQUIRED if c not in schema]
    if missing:
        raise InvalidInput(
            f"{where}: missing column {', '.join(repr(c) for c in missing)}"
            " (the flat layout needs event_name, ts, identity)"
        )
    ts = schema["ts"]
    if ts.is_integer():
        ts_kind: Literal["integer", "timestamp"] = "integer"
    elif ts.is_timestamp():
        ts_kind = "timestamp"
    else:
        raise InvalidInput(f"{where}: column 'ts' is {ts}, not epoch seconds or a timestamp")
    parts: dict[tuple[str, str], list[Part]] = {}
    for column, dtype in schema.items():
        prop = property_of(column) if column not in REQUIRED else None
        if prop is None:
            continue
        found = parts.setdefault(prop, [])
        if dtype.is_string():
            found += [Part("STR", column, "string"), Part("DATE", column, "string")]
        elif dtype.is_boolean():
            found.append(Part("STR", column, "boolean"))
        elif dtype.is_numeric():
            found.append(Part("NUMBER", column, "number"))
        elif dtype.is_timestamp():
            found.append(Part("DATE", column, "timestamp"))
        elif dtype.is_date():
            found.append(Part("DATE", column, "date"))
    return Layout(ts_kind, {k: tuple(v) for k, v in parts.items() if v})


# -- the rules as ibis expressions --------------------------------------------------------------


def _candidates(unit: int) -> list[int]:
    """Every bucket width the local engine's `bucket_width` can pick, smallest first."""
    widths, base = [], unit
    while float(base) * 5 < 1e308:
        widths += [base, base * 2, base * 5]
        base *= 10
    return widths


WIDTHS = {"NUMBER": _candidates(1), "DATE": _candidates(DAY)}


def _offsets(zone: ZoneInfo, window: Window) -> list[tuple[int, int]]:
    """[(from epoch, UTC offset seconds)] covering the window's days (and one on each side)."""
    start = datetime.combine(window.start - timedelta(days=2), datetime.min.time(), UTC)
    end = datetime.combine(window.end + timedelta(days=2), datetime.min.time(), UTC)

    def offset(at: datetime) -> int:
        delta = at.astimezone(zone).utcoffset()
        return int(delta.total_seconds()) if delta else 0

    found = [(int(start.timestamp()), offset(start))]
    day = start
    while day < end:
        nxt = day + timedelta(days=1)
        if offset(nxt) != found[-1][1]:
            lo, hi = int(day.timestamp()), int(nxt.timestamp())
            while hi - lo > 1:  # the first second of the new offset
                mid = (lo + hi) // 2
                if offset(datetime.fromtimestamp(mid, UTC)) == found[-1][1]:
                    lo = mid
                else:
                    hi = mid
            found.append((hi, offset(nxt)))
        day = nxt
    return found


class Query:
    """Builds the ibis expression of one request over one table."""

    def __init__(
        self,
        table: ir.Table,
        layout: Layout,
        zone: ZoneInfo,
        window: Window,
        event: str,
        filters: Mapping[str, Any] | None = None,
    ) -> None:
        import ibis

        self.ibis = ibis
        self.table = table
        self.layout = layout
        ts = table.ts if layout.ts_kind == "integer" else table.ts.epoch_seconds()
        ts = ts.cast("int64")
        offsets = _offsets(zone, window)
        offset: Any = ibis.literal(offsets[0][1], "int64")
        if len(offsets) > 1:  # the latest change first: ts >= its first second
            offset = ibis.cases(
                *[(ts >= start, ibis.literal(off, "int64")) for start, off in offsets[:0:-1]],
                else_=ibis.literal(offsets[0][1], "int64"),
            )
        local = ts + offset
        self.day_number = local.floordiv(DAY)
        self.hour = (local - self.day_number * DAY).floordiv(3600)
        first = (window.start - date(1970, 1, 1)).days
        last = (window.end - date(1970, 1, 1)).days
        # the coarse ts range lets engines skip files; the local day decides
        lo, hi = (first - 1) * DAY, (last + 2) * DAY
        self.first, self.last = first, last
        self.events = table.filter(
            table.event_name == event,
            ts >= lo,
            ts < hi,
            self.day_number >= first,
            self.day_number <= last,
            *self._filters(filters or {}),
        )

    def _filters(self, body: Mapping[str, Any]) -> list[Any]:
        """The predicates of the body's filters (`reportkit.sources.filters` has the rules):
        event and session filters on the row; profile filters as "the identity's latest values
        match", a semi-join over every identity of the table. FilterError names a bad one."""
        from reportkit.sources.filters import FilterError, read_filters

        t = self.table
        predicates: list[Any] = []
        profile: list[tuple[WireFilter, tuple[Part, ...]]] = []
        for item in read_filters(body):
            if item.key == "session_properties" and item.name == "time_of_day":
                raise FilterError(f"{item.describe()}: time_of_day filters are not supported")
            if item.key == "common_profile_properties":
                parts = tuple(
                    p
                    for (sc, n), ps in self.layout.parts.items()
                    if sc in PROFILE_SCOPES and n == item.name
                    for p in ps
                )
            else:
                parts = self.layout.parts.get((item.key, item.name), ())
            if not parts:
                raise FilterError(f"{item.describe()}: unknown property {item.name!r}")
            if item.key == "common_profile_properties":
                profile.append((item, parts))
            else:
                predicates.append(_condition(item, [(p, self.value(t, p)) for p in parts]))
        if profile:
            people = self.property_table_of(
                t.select("identity").distinct(), tuple(p for _, ps in profile for p in ps)
            )
            for item, parts in profile:
                people = people.filter(
                    _condition(item, [(p, self.value(people, p)) for p in parts])
                )
            predicates.append(t.identity.isin(people.identity))
        return predicates

    def property_table_of(self, rel: ir.Table, parts: tuple[Part, ...]) -> ir.Table:
        """`rel` (with `identity`) with each part's column as the identity's latest non-null
        value over the whole table, under the column's own name."""
        t = self.table
        ts = t.ts if self.layout.ts_kind == "integer" else t.ts.epoch_seconds()
        joined = rel
        for k, column in enumerate(sorted({p.column for p in parts})):
            latest = (
                t.filter(t[column].notnull())
                .group_by(identity=t.identity)
                .aggregate(**{f"v{k}": t[column].argmax(ts)})
            )
            joined = joined.left_join(latest, "identity").select(joined, latest[f"v{k}"])
            joined = joined.rename({column: f"v{k}"})
        return joined

    def property_table(self, scope: str, parts: tuple[Part, ...]) -> ir.Table:
        """The window's events with each part's column; profile columns joined as the latest
        non-null value of each identity (over the whole table)."""
        if scope not in PROFILE_SCOPES:
            return self.events
        return self.property_table_of(self.events.select("identity"), parts)

    def value(self, rel: ir.Table, part: Part) -> ir.Value:
        ibis = self.ibis
        col = rel[part.column]
        if part.kind == "string":
            is_date = col.re_search(DATE_PATTERN)
            if part.type == "STR":
                return ibis.ifelse(is_date, ibis.null("string"), col)
            return ibis.ifelse(is_date, col.substr(3).cast("int64"), ibis.null("int64"))
        if part.kind == "boolean":
            return ibis.ifelse(col, "true", "false")
        if part.kind == "number":
            x = col.cast("float64")
            return ibis.ifelse(x.isnan() | x.isinf(), ibis.null("float64"), x)
        if part.kind == "timestamp":
            return col.epoch_seconds().cast("int64")
        return col.cast("timestamp").epoch_seconds().cast("int64")

    def top(self, groups: list[tuple[int, str, tuple[Part, ...]]]) -> ir.Table:
        """Rows (g, typ, skey, k, ci, n) answering every group: one UNION ALL."""
        ibis = self.ibis
        branches: list[ir.Table] = []

        def row(rel: ir.Table, g: int, typ: str, skey: Any, k: Any, ci: Any, n: Any) -> ir.Table:
            return rel.select(
                g=ibis.literal(g, "int64"),
                typ=ibis.literal(typ, "string"),
                skey=skey,
                k=k,
                ci=ci,
                n=n.cast("int64"),
            )

        null_i = ibis.null("int64")
        for g, scope, parts in groups:
            if not parts:  # time_of_day: the local hour of the event
                hours = self.events.group_by(h=self.hour).aggregate(n=self.events.count())
                hour = hours.h.cast("string")
                branches.append(row(hours, g, "HOUR", hour, null_i, null_i, hours.n))
                continue
            rel = self.property_table(scope, parts)
            total = rel.aggregate(n=rel.count())
            branches.append(row(total, g, "*", ibis.null("string"), null_i, null_i, total.n))
            for part in parts:
                x = self.value(rel, part)
                if part.type == "STR":
                    tag = "ENUM" if scope == "technographics" else "STR"
                    held = rel.filter(x.notnull())
                    counts = held.group_by(v=self.value(held, part)).aggregate(n=held.count())
                    branches.append(row(counts, g, tag, counts.v, null_i, null_i, counts.n))
                    continue
                held = rel.select(x=x).filter(lambda r: r.x.notnull())
                summary = held.aggregate(lo=held.x.min(), hi=held.x.max())
                widths = WIDTHS[part.type]
                cands = ibis.memtable(
                    {"ci": list(range(len(widths))), "w": [float(w) for w in widths]},
                    schema={"ci": "int64", "w": "float64"},
                )
                fits = summary.cross_join(cands).filter(
                    lambda r: (r.hi / r.w).floor() - (r.lo / r.w).floor() + 1 <= MAX_BUCKETS
                )
                chosen = fits.aggregate(ci=fits.ci.min(), w=fits.w.min())
                keyed = held.cross_join(chosen)
                buckets = keyed.group_by(
                    k=(keyed.x / keyed.w).floor().cast("int64"), ci=keyed.ci
                ).aggregate(n=keyed.count())
                no_label = ibis.null("string")
                branches.append(
                    row(buckets, g, part.type, no_label, buckets.k, buckets.ci, buckets.n)
                )
        return branches[0].union(*branches[1:]) if len(branches) > 1 else branches[0]

    def measure(self, rel: ir.Table, unique: bool, number: str | None) -> ir.Value:
        if unique:
            return rel.identity.nunique()
        if number is not None:
            return rel[number].cast("float64").sum()
        return rel.count()

    def trend(self, kind: str, unique: bool, number: str | None, periods: list[date]) -> ir.Table:
        """Rows (p, n): p the day number of the period's first day."""
        ibis = self.ibis
        d = self.day_number
        if kind == "daily":
            period: Any = d
        elif kind == "weekly":
            period = d - (d + 3) % 7  # 1970-01-01 was a Thursday
        else:
            starts = [(p - date(1970, 1, 1)).days for p in periods]
            period = ibis.cases(
                *[(d >= s, ibis.literal(s, "int64")) for s in reversed(starts[1:])],
                else_=ibis.literal(starts[0], "int64"),
            )
        rel = self.events.mutate(p=period)
        return rel.group_by("p").aggregate(n=self.measure(rel, unique, number))


_COMPARE = {
    "greater_than": "__gt__",
    "greater_than_equals": "__ge__",
    "less_than": "__lt__",
    "less_than_equals": "__le__",
}


def _condition(item: WireFilter, values: list[tuple[Part, Any]]) -> Any:
    """One filter over a property's typed values, as `filters._one` states it in SQL."""
    import ibis

    from reportkit.sources.filters import FilterError

    def any_of(parts: list[Any]) -> Any:
        if not parts:
            return ibis.literal(False)
        out = parts[0]
        for part in parts[1:]:
            out = out | part
        return out

    texts = [x for p, x in values if p.type == "STR"]
    numbers = [x for p, x in values if p.type in ("NUMBER", "DATE")]
    present = any_of([x.notnull() for x in texts + numbers])
    op = item.operator
    if op == "exists":
        return present
    if op == "does_not_exist":
        return ~present
    if op in _COMPARE:
        if not numbers:
            raise FilterError(f"{item.describe()}: the property never holds a number")
        return any_of([getattr(x, _COMPARE[op])(item.values[0]) for x in numbers])
    if op in ("contains", "does_not_contain"):
        if not texts:
            raise FilterError(f"{item.describe()}: the property never holds text")
        matched = any_of([x.find(str(v)) >= 0 for x in texts for v in item.values])
        if op == "contains":
            return matched
        return any_of([x.notnull() for x in texts]) & ~matched.fill_null(False)
    parts = []
    for value in item.values:
        if isinstance(value, str):
            for x in texts:
                if value.lower() in ("true", "false"):
                    parts.append(x.lower() == value.lower())
                else:
                    parts.append(x == value)
        else:
            parts.extend(x == value for x in numbers)
    if not parts:
        kind = "text" if all(isinstance(v, str) for v in item.values) else "a number"
        raise FilterError(f"{item.describe()}: the property never holds {kind}")
    matched = any_of(parts)
    if op == "equals":
        return matched
    return present & ~matched.fill_null(False)


def group_maps(rows: list[dict[str, Any]], scope: str) -> dict[str, dict[Any, int]]:
    """One group's engine rows -> {type: {value: count}} with "-1" for events without a value,
    exactly as the local engine builds them (value: a string, or (lo, hi) for ranges)."""
    maps: dict[str, dict[Any, int]] = {}
    total, held = 0, 0
    for r in rows:
        typ, n = r["typ"], int(r["n"])
        if typ == "*":
            total = n
        elif typ == "HOUR":
            maps.setdefault("STR", {})[f"{int(r['skey']):02d}"] = n
        elif typ in ("STR", "ENUM"):
            maps.setdefault(typ, {})[r["skey"]] = n
            held += n
        else:
            width = WIDTHS[typ][int(r["ci"])]
            k = int(r["k"])
            maps.setdefault(typ, {})[(k * width, (k + 1) * width)] = n
            held += n
    if any(r["typ"] == "HOUR" for r in rows):
        return maps
    if total > held:
        labels = maps.setdefault("STR", {})
        labels["-1"] = labels.get("-1", 0) + total - held
    return maps
