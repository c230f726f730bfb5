"""A store -> Parquet in the flat layout (`reportkit export --db STORE --to DIR`).

The warehouse layout is the flat layout `reportkit import` reads (see `flatfiles`): one events
table, one row per event,

    event_name  VARCHAR   the event's name
    ts          BIGINT    Unix epoch seconds
    identity    VARCHAR   the profile's identity
    platform    VARCHAR   technographics platform (when the store has it)
    event.NAME / session.NAME / profile.NAME / PROPERTY_TYPE.NAME   one column per property

NUMBER properties are DOUBLE; STR properties VARCHAR; DATE properties VARCHAR `$D_<epoch>` (the
way CleverTap writes dates, and the way import recognises them), so a property that holds both
strings and dates fits in one column. Profile properties carry the profile's latest value (the
store's `profiles` table) on every event of that identity: importing the export again, or
answering from it with the warehouse source (which takes each identity's latest non-null value),
gives the same answers as the store. A property held both as NUMBER and as another type cannot
be one flat column and is refused.

The table is written as `DIR/events/part-00000.parquet` beside `DIR/events/_reportkit.json`
(the store's timezone): a folder that Spark, DuckDB and the warehouses' loaders read as one
table. It is written into a temp folder and renamed into place, so a failed export leaves
the previous one (or nothing) behind.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from reportkit import store
from reportkit.errors import InvalidInput, SourceError
from reportkit.store import sql_literal as lit
from reportkit.store.stagetables import quote

TABLE = "events"
META_FILE = "_reportkit.json"
PART_FILE = "part-00000.parquet"
_EVENT_PREFIXES = {"event_properties": "event", "session_properties": "session"}


@dataclass(frozen=True, slots=True)
class ExportSummary:
    """What an export wrote."""

    folder: Path
    events: int
    columns: tuple[str, ...]
    timezone: str


def flat_name(scope: str, name: str) -> str:
    """The flat-layout column of a property (the inverse of the import's column reading)."""
    if scope in _EVENT_PREFIXES:
        return f"{_EVENT_PREFIXES[scope]}.{name}"
    if scope == "technographics" and name == "platform":
        return "platform"
    if store.scope_of_profile_field(name) == scope:
        return f"profile.{name}"
    return f"{scope}.{name}"


def export_store(db: str | Path, to: str | Path) -> ExportSummary:
    """Write the store at `db` to `to`/events/ as Parquet in the flat layout."""
    import duckdb

    db_path, target = Path(db), Path(to)
    if not db_path.is_file():
        raise InvalidInput(f"{db_path}: no such DuckDB store")
    con = store.connect(db_path, read_only=True)
    try:
        if not store.is_initialized(con):
            raise InvalidInput(f"{db_path}: not a reportkit store (no meta table)")
        catalog = store.load_catalog(con)
        selects = _select_list(catalog)
        folder = target / TABLE
        target.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=target))
        try:
            sql = (
                "SELECT n.name AS event_name, e.ts AS ts, i.identity AS identity"
                + "".join(f", {expr} AS {quote(col)}" for col, expr in selects)
                + " FROM events e JOIN event_names n ON e.eid = n.eid"
                " JOIN identities i ON e.pid = i.pid LEFT JOIN profiles p ON e.pid = p.pid"
                " ORDER BY e.ts, n.name, i.identity"
            )
            con.execute(f"COPY ({sql}) TO {lit(str(tmp / PART_FILE))} (FORMAT parquet)")
            row = con.execute("SELECT count(*) FROM events").fetchone()
            meta = {"layout": "reportkit-flat-1", "timezone": catalog.timezone}
            (tmp / META_FILE).write_text(json.dumps(meta) + "\n", encoding="utf-8")
            _swap_in(tmp, folder)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    except duckdb.Error as exc:
        raise SourceError(f"cannot export {db_path}: {str(exc).splitlines()[0]}") from exc
    finally:
        con.close()
    return ExportSummary(
        folder,
        int(row[0]) if row else 0,
        ("event_name", "ts", "identity", *(c for c, _ in selects)),
        catalog.timezone,
    )


def _select_list(catalog: store.Catalog) -> list[tuple[str, str]]:
    """(flat column, SQL expression) of every property of the store, in a stable order."""
    selects: list[tuple[str, str]] = []
    for (scope, name), cols in sorted(catalog.columns.items()):
        alias = "p" if scope in store.PROFILE_SCOPES else "e"
        by_type = {c.type: f"{alias}.{c.col}" for c in cols}
        column = flat_name(scope, name)
        if "NUMBER" in by_type:
            if len(by_type) > 1:
                others = " and ".join(t for t in sorted(by_type) if t != "NUMBER")
                raise InvalidInput(
                    f"{scope} {name!r} holds NUMBER and {others} values:"
                    " one flat column cannot hold both"
                )
            selects.append((column, by_type["NUMBER"]))
            continue
        parts = []
        if "STR" in by_type:
            parts.append(by_type["STR"])
        if "DATE" in by_type:
            parts.append(f"'$D_' || CAST({by_type['DATE']} AS VARCHAR)")
        selects.append((column, f"CAST(coalesce({', '.join(parts)}) AS VARCHAR)"))
    return selects


def _swap_in(new: Path, folder: Path) -> None:
    """Put `new` at `folder`, replacing what was there only once `new` is complete."""
    if folder.exists():
        old = folder.with_name(f".{folder.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        folder.rename(old)
        new.rename(folder)
        shutil.rmtree(old, ignore_errors=True)
    else:
        new.rename(folder)
