"""CSV and Parquet event files (the flat layout) -> a stage table (see `stagetables`).

Columns: `event_name`, `ts`, `identity`, optional `platform`, then one column per property named
`event.<name>`, `session.<name>`, `profile.<name>` (scope from the field's name, see
`store.PROFILE_FIELD_SCOPES`) or `<property_type>.<name>` (`geo_fields.City`).

CSV is read as text in a fixed dialect (comma, double quotes, a header line; DuckDB's sniffer is
not used, as it can silently drop every row of a file with one ragged line), and each column
is then typed by what all of its values look like: numbers -> NUMBER, ISO dates and timestamps
-> DATE, the rest STR. As with JSON Lines there are two ways: DuckDB reads a clean file directly;
a file it refuses, or with a bad record, is first rewritten by Python's csv module into a clean
copy that carries each record's line number (structural problems: not UTF-8, a wrong number of
fields, broken quoting, are noted on the way), and the copy is staged by the same code.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from reportkit import store
from reportkit.errors import DataImportError
from reportkit.store import sql_literal as lit
from reportkit.store.stagetables import (
    DATE_RE,
    NUMERIC,
    Params,
    Prop,
    Stage,
    bad_count,
    check_property_count,
    epoch_sql,
    first_line,
    printable,
    quote,
)

if TYPE_CHECKING:
    import duckdb

_FLAT_PREFIXES = {"event": "event_properties", "session": "session_properties", "profile": ""}

_CSV_OPTIONS = (
    "header = true, delim = ',', quote = '\"', escape = '\"', strict_mode = true,"
    " auto_detect = false"
)
_LINE_COLUMN = "__line"
_NUMBER_RE = r"^[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][+-]?[0-9]+)?$"
_DAY_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_TIMESTAMP_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?$"


def stage_flat(
    con: duckdb.DuckDBPyConnection, file: Path, table: str, tz: str, max_properties: int
) -> Stage:
    import duckdb

    if file.suffix.lower() not in (".parquet", ".pq"):
        return _stage_csv(con, file, table, tz, max_properties)
    src = f"read_parquet({lit(str(file))}) WITH ORDINALITY AS t"
    try:
        types = _describe(con, src)
        columns = _flat_columns(file, list(types)[:-1])
        check_property_count(file, len(columns), max_properties)
        staged = _stage_rows(con, file, src, types, quote(list(types)[-1]), columns, table, tz)
    except duckdb.Error as exc:
        raise DataImportError(f"{file}: cannot read it as Parquet: {first_line(exc)}") from exc
    return Stage(file, table, staged, "row")


def _stage_csv(
    con: duckdb.DuckDBPyConnection, file: Path, table: str, tz: str, max_properties: int
) -> Stage:
    import duckdb

    header = _csv_header(file)
    columns = _flat_columns(file, header)
    check_property_count(file, len(columns), max_properties)
    try:
        staged = _stage_csv_text(con, file, header, False, columns, table, tz)
        if not bad_count(con, table):
            return Stage(file, table, staged, "line")
    except duckdb.Error:
        pass  # a record DuckDB's reader refuses: the rewrite names it
    with tempfile.TemporaryDirectory(prefix="reportkit-import-") as tmp:
        clean = Path(tmp) / "records.csv"
        problems = _rewrite_csv(file, clean, len(header))
        try:
            staged = _stage_csv_text(con, clean, header, True, columns, table, tz)
        except duckdb.Error as exc:
            raise DataImportError(f"{file}: cannot read it as CSV: {first_line(exc)}") from exc
    if problems:
        con.executemany(f"INSERT INTO {table} (line, reason) VALUES (?, ?)", problems)
    return Stage(file, table, staged, "line")


def _stage_csv_text(
    con: duckdb.DuckDBPyConnection,
    file: Path,
    header: list[str],
    numbered: bool,
    columns: list[tuple[str, str, str]],
    table: str,
    tz: str,
) -> tuple[Prop, ...]:
    """Stage a CSV read as text; `numbered`: its first column holds each record's line."""
    names = [_LINE_COLUMN, *header] if numbered else header
    spec = ", ".join(f"{lit(n)}: 'VARCHAR'" for n in names)
    raw = f"{table}_csv"
    con.execute(
        f"""CREATE OR REPLACE TEMP VIEW {raw} AS SELECT * FROM
        read_csv({lit(str(file))}, columns = {{{spec}}}, {_CSV_OPTIONS}) WITH ORDINALITY AS t"""
    )
    try:
        types = _text_types(con, raw, [c for _, _, c in columns], header)
        line = f"CAST({quote(_LINE_COLUMN)} AS BIGINT)" if numbered else "ordinality + 1"
        typed = ", ".join(f"CAST({quote(c)} AS {t}) AS {quote(c)}" for c, t in types.items())
        src = f"(SELECT {line} AS {quote(_LINE_COLUMN)}, {typed} FROM {raw})"
        return _stage_rows(con, file, src, types, quote(_LINE_COLUMN), columns, table, tz)
    finally:
        con.execute(f"DROP VIEW IF EXISTS {raw}")


def _text_types(
    con: duckdb.DuckDBPyConnection, raw: str, props: list[str], header: list[str]
) -> dict[str, str]:
    """The type of every column of a CSV read as text: DOUBLE, DATE or TIMESTAMP when every
    value reads as one (ts: only DATE or TIMESTAMP), else VARCHAR."""
    # CASE, not AND: a cast is slow when it fails, so it only meets values of the right shape.
    tests = {
        "DOUBLE": "regexp_matches({v}, '" + _NUMBER_RE + "')",
        "DATE": "CASE WHEN regexp_matches({v}, '" + _DAY_RE + "')"
        " THEN TRY_CAST({v} AS DATE) IS NOT NULL ELSE false END",
        "TIMESTAMP": "CASE WHEN regexp_matches({v}, '" + _TIMESTAMP_RE + "')"
        " THEN TRY_CAST({v} AS TIMESTAMP) IS NOT NULL ELSE false END",
    }
    candidates = {c: list(tests) for c in props}
    candidates["ts"] = ["DATE", "TIMESTAMP"]
    aggregates = []
    for column, kinds in candidates.items():
        v = quote(column)
        aggregates.append(f"count({v})")
        aggregates += [f"bool_and({v} IS NULL OR ({tests[k].replace('{v}', v)}))" for k in kinds]
    row = con.execute(f"SELECT {', '.join(aggregates)} FROM {raw}").fetchone()
    assert row is not None
    found = iter(row)
    types = dict.fromkeys(header, "VARCHAR")
    for column, kinds in candidates.items():
        held = next(found)
        fits = [kind for kind in kinds if next(found)]
        if held and fits:
            types[column] = fits[0]
    return types


def _describe(con: duckdb.DuckDBPyConnection, src: str) -> dict[str, str]:
    return {str(r[0]): str(r[1]) for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()}


def _list_sql(values: list[str]) -> str:
    return "[" + ", ".join(lit(v) for v in values) + "]"


@contextmanager
def _any_field_size() -> Iterator[None]:
    """Python's csv refuses fields over 128 KiB by default; DuckDB takes them."""
    limit = csv.field_size_limit(2**31 - 1)
    try:
        yield
    finally:
        csv.field_size_limit(limit)


def _csv_header(file: Path) -> list[str]:
    """The header's column names, read by Python's csv module (DuckDB renames duplicates)."""
    with (
        _any_field_size(),
        file.open(newline="", encoding="utf-8-sig", errors="surrogateescape") as f,
    ):
        try:
            header = next(csv.reader(f, strict=True), None)
        except csv.Error as exc:
            raise DataImportError(f"{file}:1: header: {exc}") from exc
    if not header:
        raise DataImportError(f"{file}: no header line (expected event_name,ts,identity,...)")
    for column in header:
        if _has_surrogates(column):
            raise DataImportError(f"{file}:1: header is not valid UTF-8")
        if header.count(column) > 1:
            raise DataImportError(f"{file}:1: column {printable(column)!r} appears twice")
    return header


def _has_surrogates(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def _rewrite_csv(source: Path, target: Path, width: int) -> list[tuple[int, str]]:
    """Copy the records of `source` after its header into `target`, each with its first line's
    number in front; return (line, reason) for the records left out."""
    problems: list[tuple[int, str]] = []
    with (
        _any_field_size(),
        source.open(newline="", encoding="utf-8-sig", errors="surrogateescape") as f,
        target.open("w", newline="", encoding="utf-8") as out,
    ):
        reader = csv.reader(f, strict=True)
        writer = csv.writer(out)
        writer.writerow([_LINE_COLUMN] + [f"c{i}" for i in range(width)])
        next(reader, None)
        while True:
            first = reader.line_num + 1
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                problems.append((first, f"not a valid CSV record ({exc})"))
                continue
            if not record:
                continue  # an empty line
            if any(_has_surrogates(value) for value in record):
                problems.append((first, "not valid UTF-8"))
            elif len(record) != width:
                problems.append((first, f"expected {width} fields, found {len(record)}"))
            else:
                writer.writerow([first, *record])
    return problems


def _flat_columns(file: Path, columns: list[str]) -> list[tuple[str, str, str]]:
    """(scope, name, column) of every column besides event_name, ts and identity."""
    for required in ("event_name", "ts", "identity"):
        if required not in columns:
            raise DataImportError(f"{file}: missing column {required!r}")
    props: list[tuple[str, str, str]] = []
    for column in columns:
        if column in ("event_name", "ts", "identity"):
            continue
        if column == "platform":
            props.append(("technographics", "platform", column))
            continue
        prefix, dot, name = column.partition(".")
        if not dot or not name or (prefix not in _FLAT_PREFIXES and prefix not in store.SCOPES):
            raise DataImportError(
                f"{file}: unknown column {printable(column)!r} (expected event.NAME,"
                " session.NAME, profile.NAME or PROPERTY_TYPE.NAME)"
            )
        scope = _FLAT_PREFIXES.get(prefix, prefix) or store.scope_of_profile_field(name)
        props.append((scope, name, column))
    return props


def _stage_rows(
    con: duckdb.DuckDBPyConnection,
    file: Path,
    src: str,
    types: dict[str, str],
    line: str,
    columns: list[tuple[str, str, str]],
    table: str,
    tz: str,
) -> tuple[Prop, ...]:
    """Stage the typed columns of `src` (one of DuckDB's readers); `line` numbers the rows."""
    _check_key_types(file, types)
    p = Params()
    epoch = _flat_epoch_sql(types["ts"], quote("ts"), tz)
    ts = quote("ts")
    checks = [
        f"WHEN coalesce(CAST({quote('event_name')} AS VARCHAR), '') = '' THEN 'missing event_name'",
        f"WHEN ({epoch}) IS NULL THEN 'bad ts ' || coalesce(CAST({ts} AS VARCHAR), '')"
        " || ' (expected YYYYMMDDHHMMSS or epoch seconds)'",
        f"WHEN coalesce(CAST({quote('identity')} AS VARCHAR), '') = '' THEN 'missing identity'",
    ]
    selected: list[str] = []
    props: list[Prop] = []
    for k, (scope, name, column) in enumerate(columns):
        exprs, check = _flat_value_sql(types[column], quote(column))
        if exprs is None:
            raise DataImportError(
                f"{file}: column {printable(column)!r} has unsupported type {types[column]}"
            )
        if check:
            checks.append(
                f"WHEN {check} THEN " + p(f"column {printable(column)!r}: value out of range")
            )
        stage_cols = {}
        for typ, expr in exprs.items():
            alias = f"s{k}_{typ.lower()}"
            selected.append(f"{expr} AS {alias}")
            stage_cols[typ] = alias
        props.append(Prop(scope, name, stage_cols))
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {table} AS
        SELECT {line} AS line, CAST({quote("event_name")} AS VARCHAR) AS event_name,
               ({epoch}) AS ts, CAST({quote("identity")} AS VARCHAR) AS identity,
               CASE {" ".join(checks)} END AS reason
               {"".join(", " + c for c in selected)}
        FROM {src}""",
        p.values,
    )
    return tuple(props)


_INTEGER_TYPES = (
    "BIGINT",
    "UBIGINT",
    "INTEGER",
    "UINTEGER",
    "SMALLINT",
    "USMALLINT",
    "TINYINT",
    "UTINYINT",
    "HUGEINT",
    "UHUGEINT",
)


def _check_key_types(file: Path, types: dict[str, str]) -> None:
    """The rule JSON Lines applies: event_name is a string, identity a string or an integer.
    (A CSV is read as text, so only typed files such as Parquet can break it.)"""
    if types["event_name"] != "VARCHAR":
        raise DataImportError(
            f"{file}: column 'event_name' has type {types['event_name']}:"
            " event_name must be a non-empty string"
        )
    if types["identity"] != "VARCHAR" and types["identity"] not in _INTEGER_TYPES:
        raise DataImportError(
            f"{file}: column 'identity' has type {types['identity']}:"
            " identity must be a string or an integer"
        )


def _flat_epoch_sql(ts_type: str, ts: str, tz: str) -> str:
    if "TIME ZONE" in ts_type:
        return f"epoch({ts})::BIGINT"
    if ts_type.startswith("TIMESTAMP") or ts_type == "DATE":
        return f"epoch(timezone({lit(tz)}, CAST({ts} AS TIMESTAMP)))::BIGINT"
    if ts_type in ("DOUBLE", "FLOAT") or ts_type.startswith("DECIMAL"):
        # 1790000000.0 (Parquet written from a float column) is a whole second
        text = f"CASE WHEN {ts} = trunc({ts}) THEN CAST(TRY_CAST({ts} AS BIGINT) AS VARCHAR) END"
        return epoch_sql(text, tz)
    return epoch_sql(f"CAST({ts} AS VARCHAR)", tz)


def _flat_value_sql(ctype: str, ref: str) -> tuple[dict[str, str] | None, str | None]:
    """Stage expressions by value type for a column of DuckDB type `ctype`, and the condition
    under which a value is out of range."""
    if ctype == "VARCHAR":
        is_date = f"regexp_matches({ref}, '{DATE_RE}')"
        date = f"TRY_CAST(substr({ref}, 4) AS BIGINT)"
        exprs = {
            "STR": f"CASE WHEN NOT {is_date} THEN {ref} END",
            "DATE": f"CASE WHEN {is_date} THEN {date} END",
        }
        return exprs, f"{is_date} AND {date} IS NULL"
    if ctype in NUMERIC or ctype.startswith("DECIMAL"):
        return {"NUMBER": f"CAST({ref} AS DOUBLE)"}, f"NOT isfinite(CAST({ref} AS DOUBLE))"
    if ctype == "DATE":
        return {"DATE": f"epoch(CAST({ref} AS TIMESTAMP))::BIGINT"}, f"NOT isfinite({ref})"
    if ctype.startswith("TIMESTAMP"):
        return {"DATE": f"epoch({ref})::BIGINT"}, f"NOT isfinite({ref})"
    if any(nested in ctype for nested in ("[]", "STRUCT", "MAP", "UNION")):
        return None, None
    return {"STR": f"CAST({ref} AS VARCHAR)"}, None  # BOOLEAN, TIME, UUID, ...
