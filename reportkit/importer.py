"""Load event files (JSON Lines, CSV, Parquet) into a store, all or nothing.

JSON Lines records have the shape of CleverTap's Get Events records::

    {"event_name": "Charged", "ts": 20261120134501,
     "profile": {"identity": "u1", "platform": "Android", "profileData": {"Customer Type": "Gold"}},
     "event_props": {"Amount": 250}, "session_props": {"utm_source": "google"}}

CSV and Parquet use a flat layout: `event_name`, `ts`, `identity`, optional `platform`, then one
column per property named `event.<name>`, `session.<name>`, `profile.<name>` (scope from the
field's name, see `store.PROFILE_FIELD_SCOPES`) or `<property_type>.<name>` (`geo_fields.City`).

`ts` is YYYYMMDDHHMMSS local time (in `timezone`, default the store's) or Unix epoch seconds.
Values: strings -> STR, numbers -> NUMBER, `"$D_<epoch>"` strings (and CSV/Parquet DATE or
TIMESTAMP columns) -> DATE, booleans -> STR "true"/"false"; nested objects or lists are refused.

Everything is parsed by DuckDB in bulk; the whole call is one transaction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from reportkit import store
from reportkit.errors import DataImportError, InvalidInput

if TYPE_CHECKING:
    import duckdb

MAX_REASONS = 100
_DATE_RE = r"^\$D_-?[0-9]+$"
_NUMERIC = ("BIGINT", "UBIGINT", "DOUBLE", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "FLOAT")
_JSON_CONTAINERS = {
    "event_props": "event_properties",
    "session_props": "session_properties",
    "profile/profileData": "",  # scope from the field's name
    **{f"profile/{s}": s for s in store.PROFILE_SCOPES if s != "profile_fields"},
}
_FLAT_PREFIXES = {"event": "event_properties", "session": "session_properties", "profile": ""}


@dataclass(frozen=True, slots=True)
class ImportSummary:
    """What an import loaded, and what it skipped and why ("FILE:LINE: reason", first 100)."""

    loaded: int
    skipped: int
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Prop:
    scope: str
    name: str
    stage_cols: dict[str, str]  # type -> staging column


@dataclass(frozen=True, slots=True)
class _Stage:
    file: Path
    table: str
    props: tuple[_Prop, ...]
    unit: str  # "line" or "row", for messages


def import_events(
    db: str | Path,
    files: Sequence[Path],
    *,
    timezone: str | None = None,
    skip_invalid: bool = False,
) -> ImportSummary:
    """Load `files` into the store at `db` in one transaction; a bad record stops everything
    with DataImportError("FILE:LINE: reason") unless `skip_invalid`."""
    import duckdb

    con = store.connect(db)
    try:
        return _import(con, [Path(f) for f in files], timezone, skip_invalid)
    except duckdb.Error as exc:
        raise DataImportError(f"import into {db} failed: {exc}") from exc
    finally:
        con.close()


def import_into(
    con: duckdb.DuckDBPyConnection,
    files: Sequence[Path],
    *,
    timezone: str | None = None,
    skip_invalid: bool = False,
) -> ImportSummary:
    """`import_events` on an open connection (tests load an in-memory engine this way)."""
    import duckdb

    try:
        return _import(con, [Path(f) for f in files], timezone, skip_invalid)
    except duckdb.Error as exc:
        raise DataImportError(f"import failed: {exc}") from exc


def _import(
    con: duckdb.DuckDBPyConnection, files: list[Path], timezone: str | None, skip_invalid: bool
) -> ImportSummary:
    for file in files:
        if not file.is_file():
            raise DataImportError(f"{file}: no such file")
    if store.is_initialized(con):
        store_tz = store.get_meta(con, "timezone") or "UTC"
        if timezone is not None:
            store._check_timezone(con, timezone)
    else:
        store.ensure_schema(con, timezone or "UTC")
        store_tz = timezone or "UTC"
    tz = timezone or store_tz
    stages = [_stage(con, file, i, tz, store_tz) for i, file in enumerate(files)]
    reasons: list[str] = []
    skipped = 0
    for st in stages:
        bad = con.execute(
            f"SELECT line, reason FROM {st.table} WHERE reason IS NOT NULL ORDER BY line"
        ).fetchall()
        if bad and not skip_invalid:
            line, reason = bad[0]
            more = f" (and {len(bad) - 1} more bad records)" if len(bad) > 1 else ""
            raise DataImportError(f"{st.file}:{line}: {reason}{more}")
        skipped += len(bad)
        reasons.extend(f"{st.file}:{line}: {reason}" for line, reason in bad[:MAX_REASONS])
        con.execute(f"DELETE FROM {st.table} WHERE reason IS NOT NULL")
    loaded = 0
    con.execute("BEGIN TRANSACTION")
    try:
        for st in stages:
            loaded += _load(con, st)
        store.refresh_profiles(con)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        for st in stages:
            con.execute(f"DROP TABLE IF EXISTS {st.table}")
    return ImportSummary(loaded, skipped, tuple(reasons[:MAX_REASONS]))


def summarize_reasons(summary: ImportSummary) -> list[tuple[str, int]]:
    """Skip reasons without their locations, most frequent first."""
    counts = Counter(r.split(": ", 1)[-1] for r in summary.reasons)
    return counts.most_common()


# -- staging: every format becomes (line, event_name, ts, identity, reason, s1, s2, ...) --------


def _stage(
    con: duckdb.DuckDBPyConnection, file: Path, index: int, tz: str, store_tz: str
) -> _Stage:
    suffix = file.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return _stage_jsonl(con, file, f"_stage{index}", tz, store_tz)
    if suffix in (".csv", ".parquet", ".pq"):
        return _stage_flat(con, file, f"_stage{index}", tz, store_tz)
    raise DataImportError(f"{file}: unknown format (expected .jsonl, .csv or .parquet)")


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _ts_sql(raw_text: str, tz: str, store_tz: str) -> tuple[str, str]:
    """SQL for epoch seconds from a text timestamp, and for its validity."""
    digits = f"TRY_CAST({raw_text} AS BIGINT)"
    epoch = (
        f"CASE WHEN {digits} BETWEEN 10000101000000 AND 99991231235959 THEN "
        f"epoch(timezone({_lit(tz)}, try_strptime({raw_text}, '%Y%m%d%H%M%S')))::BIGINT "
        f"WHEN {digits} BETWEEN 0 AND 9999999999 THEN {digits} END"
    )
    return epoch, store_tz


def _value_sql(jtype: str, text: str) -> dict[str, str]:
    is_date = f"regexp_matches({text}, '{_DATE_RE}')"
    return {
        "STR": f"CASE WHEN {jtype} = 'VARCHAR' AND NOT {is_date} THEN {text}"
        f" WHEN {jtype} = 'BOOLEAN' THEN {text} END",
        "NUMBER": f"CASE WHEN {jtype} IN {_NUMERIC} THEN TRY_CAST({text} AS DOUBLE) END",
        "DATE": f"CASE WHEN {jtype} = 'VARCHAR' AND {is_date}"
        f" THEN TRY_CAST(substr({text}, 4) AS BIGINT) END",
    }


def _pointer(*parts: str) -> str:
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def _stage_jsonl(
    con: duckdb.DuckDBPyConnection, file: Path, table: str, tz: str, store_tz: str
) -> _Stage:
    raw = f"{table}_raw"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {raw} AS
        SELECT line, rtrim(text, chr(13)) AS text,
               json_valid(rtrim(text, chr(13))) AS ok
        FROM (SELECT generate_subscripts(l, 1) AS line, unnest(l) AS text
              FROM (SELECT string_split(content, chr(10)) AS l FROM read_text(?)))
        WHERE trim(text) <> ''""",
        [str(file)],
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {raw} AS"
        f" SELECT line, ok, CASE WHEN ok THEN text::JSON END AS j FROM {raw}"
    )
    # discover the property names of every container
    props: list[tuple[str, str]] = []  # (scope, name) in the order of `paths`
    paths: list[str] = []
    for container, scope in _JSON_CONTAINERS.items():
        ptr = "/" + container
        keys = con.execute(
            f"SELECT DISTINCT unnest(json_keys(j, ?)) AS k FROM {raw}"
            f" WHERE json_type(j, ?) = 'OBJECT' ORDER BY k",
            [ptr, ptr],
        ).fetchall()
        for (key,) in keys:
            props.append((scope or store.scope_of_profile_field(key), str(key)))
            paths.append(_pointer(*container.split("/"), str(key)))
    has_platform = con.execute(
        f"SELECT count(*) FROM {raw} WHERE json_type(j, '/profile/platform') IS NOT NULL"
    ).fetchone()
    if has_platform and has_platform[0]:
        props.append(("technographics", "platform"))
        paths.append("/profile/platform")
    fixed = ["/event_name", "/ts", "/profile/identity", "/profile/objectId"]
    all_paths = ", ".join(_lit(p) for p in fixed + paths)
    containers = ", ".join(_lit("/" + c) for c in ("profile", *_JSON_CONTAINERS))
    vals = f"{table}_vals"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {vals} AS
        SELECT line, ok, json_type(j) AS root,
               json_extract(j, [{all_paths}]) AS v,
               json_type(j, [{containers}]) AS ct
        FROM {raw}"""
    )
    con.execute(f"DROP TABLE {raw}")

    def jt(i: int) -> str:
        return f"json_type(v[{i}])"

    def tx(i: int) -> str:
        return f"(v[{i}] ->> '$')"

    epoch, _ = _ts_sql(tx(2), tz, store_tz)
    checks = [
        "WHEN NOT ok THEN 'not valid JSON'",
        "WHEN root <> 'OBJECT' THEN 'not a JSON object'",
        f"WHEN {jt(1)} IS NULL OR {jt(1)} = 'NULL' THEN 'missing event_name'",
        f"WHEN {jt(1)} <> 'VARCHAR' OR {tx(1)} = '' THEN 'event_name must be a non-empty string'",
        f"WHEN {jt(2)} IS NULL THEN 'missing ts'",
        f"WHEN ({epoch}) IS NULL THEN 'bad ts ' || {tx(2)}"
        " || ' (expected YYYYMMDDHHMMSS or epoch seconds)'",
        f"WHEN coalesce({tx(3)}, {tx(4)}, '') = '' THEN 'missing profile.identity'",
    ]
    for n, container in enumerate(("profile", *_JSON_CONTAINERS), start=1):
        checks.append(
            f"WHEN ct[{n}] IS NOT NULL AND ct[{n}] NOT IN ('OBJECT', 'NULL')"
            f" THEN '{container.replace('/', '.')} is not an object'"
        )
    base = len(fixed)
    for k, (_scope, name) in enumerate(props, start=base + 1):
        checks.append(
            f"WHEN {jt(k)} IN ('OBJECT', 'ARRAY') THEN "
            f"{_lit(f'property {name!r}: nested objects and lists are not supported')}"
        )
    staged: list[_Prop] = []
    cols = []
    for k, (scope, name) in enumerate(props, start=base + 1):
        stage_cols = {}
        for typ, expr in _value_sql(jt(k), tx(k)).items():
            alias = f"s{k}_{typ.lower()}"
            cols.append(f"{expr} AS {alias}")
            stage_cols[typ] = alias
        staged.append(_Prop(scope, name, stage_cols))
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {table} AS
        SELECT line, {tx(1)} AS event_name, ({epoch}) AS ts,
               coalesce({tx(3)}, {tx(4)}) AS identity,
               CASE {" ".join(checks)} END AS reason
               {"".join(", " + c for c in cols)}
        FROM {vals}"""
    )
    con.execute(f"DROP TABLE {vals}")
    return _Stage(file, table, tuple(staged), "line")


def _stage_flat(
    con: duckdb.DuckDBPyConnection, file: Path, table: str, tz: str, store_tz: str
) -> _Stage:
    reader = "read_parquet" if file.suffix.lower() in (".parquet", ".pq") else "read_csv"
    offset = 1 if reader == "read_csv" else 0  # CSV: the header is line 1
    src = f"{reader}({_lit(str(file))}) WITH ORDINALITY AS t"
    described = con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()
    types = {str(r[0]): str(r[1]) for r in described}
    ordinality = list(types)[-1]
    for required in ("event_name", "ts", "identity"):
        if required not in types:
            raise DataImportError(f"{file}: missing column {required!r}")
    props: list[tuple[str, str, str]] = []  # scope, name, source column
    for column in list(types)[:-1]:
        if column in ("event_name", "ts", "identity"):
            continue
        if column == "platform":
            props.append(("technographics", "platform", column))
            continue
        prefix, dot, name = column.partition(".")
        if not dot or not name or (prefix not in _FLAT_PREFIXES and prefix not in store.SCOPES):
            raise DataImportError(
                f"{file}: unknown column {column!r} (expected event.NAME, session.NAME,"
                " profile.NAME or PROPERTY_TYPE.NAME)"
            )
        scope = _FLAT_PREFIXES.get(prefix, prefix) or store.scope_of_profile_field(name)
        props.append((scope, name, column))

    def q(column: str) -> str:
        return '"' + column.replace('"', '""') + '"'

    ts_type = types["ts"]
    if ts_type.startswith("TIMESTAMP") and "TIME ZONE" not in ts_type:
        epoch = f"epoch(timezone({_lit(tz)}, {q('ts')}))::BIGINT"
    elif "TIME ZONE" in ts_type:
        epoch = f"epoch({q('ts')})::BIGINT"
    else:
        epoch, _ = _ts_sql(f"CAST({q('ts')} AS VARCHAR)", tz, store_tz)
    staged: list[_Prop] = []
    cols: list[str] = []
    for k, (scope, name, column) in enumerate(props, start=1):
        ctype, ref = types[column], q(column)
        exprs: dict[str, str] = {}
        if ctype == "VARCHAR":
            is_date = f"regexp_matches({ref}, '{_DATE_RE}')"
            exprs["STR"] = f"CASE WHEN NOT {is_date} THEN {ref} END"
            exprs["DATE"] = f"CASE WHEN {is_date} THEN TRY_CAST(substr({ref}, 4) AS BIGINT) END"
        elif ctype == "BOOLEAN":
            exprs["STR"] = f"CAST({ref} AS VARCHAR)"
        elif ctype in _NUMERIC or ctype.startswith("DECIMAL"):
            exprs["NUMBER"] = f"CAST({ref} AS DOUBLE)"
        elif ctype == "DATE":
            exprs["DATE"] = f"epoch(CAST({ref} AS TIMESTAMP))::BIGINT"
        elif ctype.startswith("TIMESTAMP"):
            exprs["DATE"] = f"epoch({ref})::BIGINT"
        else:
            raise DataImportError(f"{file}: column {column!r} has unsupported type {ctype}")
        stage_cols = {}
        for typ, expr in exprs.items():
            alias = f"s{k}_{typ.lower()}"
            cols.append(f"{expr} AS {alias}")
            stage_cols[typ] = alias
        staged.append(_Prop(scope, name, stage_cols))
    reason = (
        f"CASE WHEN coalesce(CAST({q('event_name')} AS VARCHAR), '') = '' "
        "THEN 'missing event_name' "
        f"WHEN ({epoch}) IS NULL THEN 'bad ts ' || coalesce(CAST({q('ts')} AS VARCHAR), '')"
        " || ' (expected YYYYMMDDHHMMSS or epoch seconds)' "
        f"WHEN coalesce(CAST({q('identity')} AS VARCHAR), '') = '' THEN 'missing identity' END"
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {table} AS
        SELECT {q(ordinality)} + {offset} AS line,
               CAST({q("event_name")} AS VARCHAR) AS event_name, ({epoch}) AS ts,
               CAST({q("identity")} AS VARCHAR) AS identity, {reason} AS reason
               {"".join(", " + c for c in cols)}
        FROM {src}"""
    )
    return _Stage(file, table, tuple(staged), "row" if offset == 0 else "line")


# -- loading a validated stage ------------------------------------------------------------------


def _load(con: duckdb.DuckDBPyConnection, st: _Stage) -> int:
    tz = store.get_meta(con, "timezone") or "UTC"
    if not tz:
        raise InvalidInput("the store has no timezone")
    counts = con.execute(
        "SELECT count(*)"
        + "".join(f", count({c})" for p in st.props for c in p.stage_cols.values())
        + f" FROM {st.table}"
    ).fetchone()
    assert counts is not None
    if not counts[0]:
        return 0
    held = iter(counts[1:])
    event_cols: list[tuple[str, str]] = []  # (store column, stage column)
    profile_cols: list[tuple[str, str]] = []
    for prop in st.props:
        for typ, stage_col in prop.stage_cols.items():
            if not next(held):
                continue
            column = store.add_column(con, prop.scope, prop.name, typ)
            target = event_cols if column.table == "events" else profile_cols
            target.append((column.col, stage_col))
    store.ensure_event_names(con, st.table)
    store.ensure_identities(con, st.table)
    local = f"timezone({_lit(tz)}, to_timestamp(s.ts))"
    names = "".join(f", {c}" for c, _ in event_cols)
    values = "".join(f", s.{s}" for _, s in event_cols)
    con.execute(
        f"""INSERT INTO events (eid, day, ts, pid, hour{names})
        SELECT n.eid, CAST({local} AS DATE), s.ts, i.pid, hour({local}){values}
        FROM {st.table} s JOIN event_names n ON n.name = s.event_name
        JOIN identities i ON i.identity = s.identity"""
    )
    if profile_cols:
        names = "".join(f", {c}" for c, _ in profile_cols)
        values = "".join(f", s.{s}" for _, s in profile_cols)
        any_value = " OR ".join(f"s.{s} IS NOT NULL" for _, s in profile_cols)
        con.execute(
            f"""INSERT INTO profile_history (pid, ts{names})
            SELECT i.pid, s.ts{values}
            FROM {st.table} s JOIN identities i ON i.identity = s.identity
            WHERE {any_value}"""
        )
    return int(counts[0])
