"""The DuckDB event store: its layout, how it is opened or created, and its catalog.

Properties are schemaless, yet queries must run at the speed of a typed column. So the store is a
*wide* layout: every (property type, name, value type) gets its own typed column, added on demand
with ``ALTER TABLE ADD COLUMN`` and recorded in the ``props`` catalog.

    meta(key, value)                     timezone, schema version, demo parameters, and the
                                         data generation (store_id, generation: see
                                         `data_generation`)
    event_names(eid, name)               one small integer per event name
    identities(pid, identity)            one small integer per profile identity
    events(eid, day, ts, pid, hour, c1, c2, ...)
        day  = local date in the store's timezone (what `from`/`to` compare with)
        ts   = Unix epoch seconds, hour = local hour of day (session `time_of_day`)
        cN   = event_properties and session_properties columns
    profile_history(pid, ts, c1, ...)    every profile value ever seen, with its time
    profiles(pid, c1, ...)               the latest known value of each profile column, per profile
    props(scope, name, type, tbl, col)   catalog: scope is the API's property_type, type is
                                         STR (VARCHAR), NUMBER (DOUBLE) or DATE (BIGINT epoch)

Only this module and the modules that query the store import duckdb, and always inside functions.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reportkit.errors import SourceError

if TYPE_CHECKING:
    import duckdb

SCHEMA_VERSION = "1"

EVENT_SCOPES = ("event_properties", "session_properties")
PROFILE_SCOPES = (
    "profile_fields",
    "demographics",
    "technographics",
    "geo_fields",
    "app_fields",
    "reachability",
)
SCOPES = EVENT_SCOPES + PROFILE_SCOPES
SQL_TYPES = {"STR": "VARCHAR", "NUMBER": "DOUBLE", "DATE": "BIGINT"}

# Profile fields whose property_type follows from their name (CleverTap's system fields);
# any other profile field is a custom `profile_fields` entry.
PROFILE_FIELD_SCOPES: dict[str, str] = {
    **dict.fromkeys(
        ["Name", "Email", "Phone", "Gender", "Age", "DOB", "Education", "Married", "Employed"],
        "demographics",
    ),
    **dict.fromkeys(["Country", "Region", "City"], "geo_fields"),
    **dict.fromkeys(
        [
            "platform",
            "OS",
            "OS Version",
            "Device",
            "Make",
            "Model",
            "Browser",
            "App Version",
            "SDK Version",
            "Carrier",
            "Radio",
        ],
        "technographics",
    ),
    **dict.fromkeys(["MSG-push", "MSG-email", "MSG-sms", "MSG-whatsapp"], "reachability"),
}


def scope_of_profile_field(name: str) -> str:
    """The property_type a profile field answers under."""
    return PROFILE_FIELD_SCOPES.get(name, "profile_fields")


@dataclass(frozen=True, slots=True)
class Column:
    """One typed column of the wide layout."""

    scope: str
    name: str
    type: str  # STR | NUMBER | DATE
    table: str  # events | profiles
    col: str


@dataclass(frozen=True, slots=True)
class Catalog:
    """What the store holds: its timezone, event names and property columns."""

    timezone: str
    events: dict[str, int]
    columns: dict[tuple[str, str], tuple[Column, ...]]

    def property_columns(self, scope: str, name: str) -> tuple[Column, ...]:
        return self.columns.get((scope, name), ())


def connect(path: str | Path = ":memory:", *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open (creating when needed) a store; DuckDB's errors become SourceError."""
    import duckdb

    target = str(path)
    try:
        if target != ":memory:" and not read_only:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(target, read_only=read_only and target != ":memory:")
        # DuckDB draws a progress bar on the terminal for queries over 2 s; ours print lines.
        con.execute("SET enable_progress_bar = false")
    except duckdb.Error as exc:
        raise SourceError(f"cannot open the event store {target}: {exc}") from exc
    return con


def is_initialized(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta'"
    ).fetchone()
    return bool(row and row[0])


def ensure_schema(con: duckdb.DuckDBPyConnection, timezone: str = "UTC") -> None:
    """Create the fixed part of the layout in an empty store (a no-op when it exists)."""
    if is_initialized(con):
        return
    _check_timezone(con, timezone)
    con.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    con.execute("CREATE TABLE event_names (eid INTEGER PRIMARY KEY, name VARCHAR UNIQUE)")
    con.execute("CREATE TABLE identities (pid INTEGER PRIMARY KEY, identity VARCHAR UNIQUE)")
    con.execute("CREATE TABLE events (eid INTEGER, day DATE, ts BIGINT, pid INTEGER, hour TINYINT)")
    con.execute("CREATE TABLE profile_history (pid INTEGER, ts BIGINT)")
    con.execute("CREATE TABLE profiles (pid INTEGER)")
    con.execute(
        "CREATE TABLE props (scope VARCHAR, name VARCHAR, type VARCHAR, tbl VARCHAR,"
        " col VARCHAR, PRIMARY KEY (scope, name, type))"
    )
    set_meta(con, "schema_version", SCHEMA_VERSION)
    set_meta(con, "timezone", timezone)
    set_meta(con, "store_id", uuid.uuid4().hex)


def _check_timezone(con: duckdb.DuckDBPyConnection, timezone: str) -> None:
    import duckdb

    try:
        con.execute("SELECT timezone(?, TIMESTAMP '2000-01-01')", [timezone]).fetchone()
    except duckdb.Error as exc:
        from reportkit.errors import InvalidInput

        raise InvalidInput(f"unknown timezone {timezone!r}") from exc


def set_meta(con: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])


def get_meta(con: duckdb.DuckDBPyConnection, key: str) -> str | None:
    row = con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
    return None if row is None else str(row[0])


def bump_generation(con: duckdb.DuckDBPyConnection) -> int:
    """Count one more change of the store's events (every import calls this, inside its
    transaction); returns the new generation."""
    current = get_meta(con, "generation")
    generation = (int(current) if current and current.isdigit() else 0) + 1
    if get_meta(con, "store_id") is None:
        set_meta(con, "store_id", uuid.uuid4().hex)
    set_meta(con, "generation", str(generation))
    return generation


def data_generation(con: duckdb.DuckDBPyConnection, path: str | Path = ":memory:") -> str:
    """A text that changes whenever the store's answers can have changed: the cache keys on it.

    - every import bumps `generation`; `store_id` (random, made with the store) tells apart two
      stores made one after the other at the same path;
    - a demo store is a pure function of its seed, events and days (see `sources.demo`);
    - a store written before generations existed falls back to its file's size and mtime."""
    if not is_initialized(con):
        return "empty"
    parts = []
    seed = get_meta(con, "demo_seed")
    if seed is not None:
        demo = [get_meta(con, k) for k in ("demo_events", "demo_start", "demo_end")]
        parts.append("demo:" + seed + ":" + ":".join(str(v) for v in demo))
    generation = get_meta(con, "generation")
    if generation is not None:
        parts.append(f"store:{get_meta(con, 'store_id')}:{generation}")
    if not parts:
        try:
            stat = os.stat(path)
            parts.append(f"file:{stat.st_size}:{stat.st_mtime_ns}")
        except OSError:
            parts.append(f"unknown:{uuid.uuid4().hex}")  # never reuse what cannot be told apart
    return " ".join(parts)


def load_catalog(con: duckdb.DuckDBPyConnection) -> Catalog:
    """Read the catalog (an empty one for a store that was never written)."""
    if not is_initialized(con):
        return Catalog("UTC", {}, {})
    timezone = get_meta(con, "timezone") or "UTC"
    events = {
        str(n): int(e) for e, n in con.execute("SELECT eid, name FROM event_names").fetchall()
    }
    columns: dict[tuple[str, str], list[Column]] = {}
    rows = con.execute("SELECT scope, name, type, tbl, col FROM props ORDER BY col").fetchall()
    for scope, name, typ, tbl, col in rows:
        columns.setdefault((scope, name), []).append(Column(scope, name, typ, tbl, col))
    return Catalog(timezone, events, {k: tuple(v) for k, v in columns.items()})


def add_column(con: duckdb.DuckDBPyConnection, scope: str, name: str, typ: str) -> Column:
    """The column for (scope, name, type), created on first use."""
    return add_columns(con, [(scope, name, typ)])[(scope, name, typ)]


# Up to this many new columns of one table are added one ALTER TABLE at a time; more, and the
# table is copied once with all of them (DuckDB's ALTER costs grow with the table's width, so
# thousands of ALTERs in one transaction took minutes and gigabytes).
ALTER_ONE_BY_ONE = 16


def add_columns(
    con: duckdb.DuckDBPyConnection, wanted: Iterable[tuple[str, str, str]]
) -> dict[tuple[str, str, str], Column]:
    """The columns for every (scope, name, type) in `wanted`, the missing ones created together:
    the work is linear in the number of columns, however many there are."""
    keys = list(dict.fromkeys(wanted))
    existing = {
        (str(sc), str(n), str(t)): Column(str(sc), str(n), str(t), str(tbl), str(col))
        for sc, n, t, tbl, col in con.execute(
            "SELECT scope, name, type, tbl, col FROM props"
        ).fetchall()
    }
    seq = len(existing)
    new: list[Column] = []
    for scope, name, typ in keys:
        if (scope, name, typ) in existing:
            continue
        seq += 1
        table = "events" if scope in EVENT_SCOPES else "profiles"
        column = Column(scope, name, typ, table, f"c{seq}_{typ.lower()}")
        new.append(column)
        existing[(scope, name, typ)] = column
    if new:
        events = [c for c in new if c.table == "events"]
        profiles = [c for c in new if c.table == "profiles"]
        _widen(con, "events", events)
        _widen(con, "profile_history", profiles)
        _widen(con, "profiles", profiles)
        con.execute(
            "INSERT INTO props SELECT unnest($s), unnest($n), unnest($t), unnest($b), unnest($c)",
            {
                "s": [c.scope for c in new],
                "n": [c.name for c in new],
                "t": [c.type for c in new],
                "b": [c.table for c in new],
                "c": [c.col for c in new],
            },
        )
    return {key: existing[key] for key in keys}


def _widen(con: duckdb.DuckDBPyConnection, table: str, columns: list[Column]) -> None:
    """Add `columns` (all NULL) to `table`, keeping its rows and their order."""
    if len(columns) <= ALTER_ONE_BY_ONE:
        for c in columns:
            con.execute(f"ALTER TABLE {table} ADD COLUMN {c.col} {SQL_TYPES[c.type]}")
        return
    added = ", ".join(f"CAST(NULL AS {SQL_TYPES[c.type]}) AS {c.col}" for c in columns)
    con.execute(f"CREATE TABLE {table}__wide AS SELECT *, {added} FROM {table}")
    con.execute(f"DROP TABLE {table}")
    con.execute(f"ALTER TABLE {table}__wide RENAME TO {table}")


def count_columns(con: duckdb.DuckDBPyConnection) -> int:
    """How many property columns the store holds (one per property and value type)."""
    if not is_initialized(con):
        return 0
    row = con.execute("SELECT count(*) FROM props").fetchone()
    return int(row[0]) if row else 0


def ensure_event_names(con: duckdb.DuckDBPyConnection, relation: str) -> None:
    """Give every event name in `relation` (a column `event_name`) an id."""
    con.execute(
        f"""INSERT INTO event_names
        SELECT (SELECT coalesce(max(eid), 0) FROM event_names) + row_number() OVER (ORDER BY n), n
        FROM (SELECT DISTINCT event_name AS n FROM {relation}) AS s
        WHERE n NOT IN (SELECT name FROM event_names)"""
    )


def ensure_identities(con: duckdb.DuckDBPyConnection, relation: str) -> None:
    """Give every identity in `relation` (a column `identity`) a profile id."""
    con.execute(
        f"""INSERT INTO identities
        SELECT (SELECT coalesce(max(pid), 0) FROM identities) + row_number() OVER (ORDER BY i), i
        FROM (SELECT DISTINCT identity AS i FROM {relation}) AS s
        WHERE i NOT IN (SELECT identity FROM identities)"""
    )


def refresh_profiles(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild `profiles` from `profile_history`: each column's latest non-null value. Of values
    with one ts (the order of records within a second is nobody's to know), the one of the
    greatest hash: the same whatever the order of the records, files and imports."""
    cols = [
        str(r[0])
        for r in con.execute("SELECT col FROM props WHERE tbl = 'profiles' ORDER BY col").fetchall()
    ]
    picks = "".join(
        f", arg_max({c}, ts::HUGEINT * {1 << 64} + hash({c})) FILTER (WHERE {c} IS NOT NULL) AS {c}"
        for c in cols
    )
    con.execute("DELETE FROM profiles")
    names = "".join(f", {c}" for c in cols)
    con.execute(
        f"INSERT INTO profiles (pid{names}) SELECT pid{picks} FROM profile_history GROUP BY pid"
    )


def sql_literal(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def quote_literals(values: Iterable[Any]) -> str:
    """A SQL list of string literals (for generated, trusted SQL)."""
    return ", ".join(sql_literal(str(v)) for v in values)
