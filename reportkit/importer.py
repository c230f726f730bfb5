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

Everything is parsed by DuckDB in bulk, and a file is read in full before anything is written:
the store changes in one transaction at the end, or not at all. A failed import into a store that
did not exist leaves no file behind.
"""

from __future__ import annotations

import contextlib
import csv
import tempfile
import unicodedata
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
MAX_REASON_CHARS = 200  # a reason quotes the bad value; a 10 MB value is cut short
_DATE_RE = r"^\$D_-?[0-9]+$"
_NUMERIC = ("BIGINT", "UBIGINT", "DOUBLE", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "FLOAT")
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

    new_file = str(db) != ":memory:" and not Path(db).exists()
    con = store.connect(db)
    done = False
    try:
        summary = _import(con, [Path(f) for f in files], timezone, skip_invalid)
        done = True
        return summary
    except duckdb.Error as exc:
        raise DataImportError(f"import into {db} failed: {_first_line(exc)}") from exc
    finally:
        con.close()
        if new_file and not done:
            for leftover in (Path(db), Path(f"{db}.wal")):
                with contextlib.suppress(OSError):
                    leftover.unlink()


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
        raise DataImportError(f"import failed: {_first_line(exc)}") from exc


def _import(
    con: duckdb.DuckDBPyConnection, files: list[Path], timezone: str | None, skip_invalid: bool
) -> ImportSummary:
    for file in files:
        if not file.is_file():
            raise DataImportError(f"{file}: no such file")
    initialized = store.is_initialized(con)
    store_tz = (store.get_meta(con, "timezone") if initialized else timezone) or "UTC"
    if timezone is not None:
        store._check_timezone(con, timezone)
    tz = timezone or store_tz
    stages: list[_Stage] = []
    try:
        for i, file in enumerate(files):
            stages.append(_stage(con, file, f"_stage{i}", tz))
        skipped, reasons = _drop_bad_records(con, stages, skip_invalid)
        return ImportSummary(_load_all(con, stages, initialized, store_tz), skipped, reasons)
    finally:
        for st in stages:
            con.execute(f"DROP TABLE IF EXISTS {st.table}")


def _drop_bad_records(
    con: duckdb.DuckDBPyConnection, stages: list[_Stage], skip_invalid: bool
) -> tuple[int, tuple[str, ...]]:
    """Raise on the first bad record, or (with `skip_invalid`) drop them all and say why."""
    reasons: list[str] = []
    skipped = 0
    for st in stages:
        count = _bad_count(con, st.table)
        if not count:
            continue
        bad = con.execute(
            f"SELECT line, reason FROM {st.table} WHERE reason IS NOT NULL ORDER BY line LIMIT ?",
            [MAX_REASONS],
        ).fetchall()
        if not skip_invalid:
            line, reason = bad[0]
            more = f" (and {count - 1} more bad records)" if count > 1 else ""
            raise DataImportError(f"{st.file}:{line}: {_printable(reason)}{more}")
        skipped += count
        reasons.extend(f"{st.file}:{line}: {_printable(reason)}" for line, reason in bad)
        con.execute(f"DELETE FROM {st.table} WHERE reason IS NOT NULL")
    return skipped, tuple(reasons[:MAX_REASONS])


def _load_all(
    con: duckdb.DuckDBPyConnection, stages: list[_Stage], initialized: bool, store_tz: str
) -> int:
    loaded = 0
    con.execute("BEGIN TRANSACTION")
    try:
        if not initialized:
            store.ensure_schema(con, store_tz)
        for st in stages:
            loaded += _load(con, st)
        store.refresh_profiles(con)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return loaded


def summarize_reasons(summary: ImportSummary) -> list[tuple[str, int]]:
    """Skip reasons without their locations, most frequent first."""
    counts = Counter(r.split(": ", 1)[-1] for r in summary.reasons)
    return counts.most_common()


def _printable(text: str) -> str:
    """One line of reasonable length: control characters escaped, long values cut."""
    out = "".join(
        repr(ch)[1:-1] if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch for ch in text
    )
    return out if len(out) <= MAX_REASON_CHARS else out[: MAX_REASON_CHARS - 1] + "…"


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return _printable(lines[0]) if lines else type(exc).__name__


# -- staging: every format becomes (line, event_name, ts, identity, reason, s1, s2, ...) --------


def _stage(con: duckdb.DuckDBPyConnection, file: Path, table: str, tz: str) -> _Stage:
    suffix = file.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return _stage_jsonl(con, file, table, tz)
    if suffix in (".csv", ".parquet", ".pq"):
        return _stage_flat(con, file, table, tz)
    raise DataImportError(f"{file}: unknown format (expected .jsonl, .csv or .parquet)")


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _pointer(*parts: str) -> str:
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def _epoch_sql(text: str, tz: str) -> str:
    """SQL for epoch seconds from the text of a timestamp (digits only), NULL when invalid."""
    number = f"CASE WHEN regexp_matches({text}, '^[0-9]+$') THEN TRY_CAST({text} AS BIGINT) END"
    return (
        f"CASE WHEN ({number}) BETWEEN 10000101000000 AND 99991231235959 THEN "
        f"epoch(timezone({_lit(tz)}, try_strptime({text}, '%Y%m%d%H%M%S')))::BIGINT "
        f"WHEN ({number}) BETWEEN 0 AND 9999999999 THEN ({number}) END"
    )


# -- JSON Lines ---------------------------------------------------------------------------------
#
# Both ways of reading a file end in the same `docs` relation, one row per non-blank line:
#   line, pre (a reason found before parsing), ok (valid JSON), root (its JSON type),
#   event_name, ts, profile, event_props, session_props (JSON, NULL when absent)
# and `_stage_docs` turns it into a stage with one rule set, so the two cannot disagree on what
# is valid. The fast way (read_json) has no line numbers and stops at the first unparsable line;
# the exact way (read_text, one row per line) locates every problem. A file goes the exact way
# only when the fast way fails or finds a bad record.

_TOP_KEYS = ("event_name", "ts", "profile", "event_props", "session_props")
_EVENT_CONTAINERS = {"event_props": "event_properties", "session_props": "session_properties"}
# profile.<key> objects, with the scope their fields answer under ("" = from the field's name)
_PROFILE_CONTAINERS = {
    "profileData": "",
    **{s: s for s in store.PROFILE_SCOPES if s != "profile_fields"},
}
_BLANK = " \t\n\r\x0b\x0c"  # what read_json skips as an empty line, and trims around a record
_BOM = "\ufeff"
_JSON_INTEGER = ("BIGINT", "UBIGINT")
_JSON_NUMBER = (*_JSON_INTEGER, "DOUBLE")


class _Params:
    """Named SQL parameters, so that keys and messages never have to be quoted into SQL."""

    def __init__(self) -> None:
        self.values: dict[str, object] = {}

    def __call__(self, value: object) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f"${name}"


def _stage_jsonl(
    con: duckdb.DuckDBPyConnection, file: Path, table: str, tz: str, *, exact: bool = False
) -> _Stage:
    """The stage of a JSON Lines file: the fast way when the whole file is good, else exact."""
    if not exact:
        props = _stage_fast(con, file, table, tz)
        if props is not None:
            return _Stage(file, table, props, "line")
    docs = f"{table}_lines"
    try:
        _docs_exact(con, file, docs)
        return _Stage(file, table, _stage_docs(con, docs, table, tz), "line")
    finally:
        con.execute(f"DROP TABLE IF EXISTS {docs}")


def _stage_fast(
    con: duckdb.DuckDBPyConnection, file: Path, table: str, tz: str
) -> tuple[_Prop, ...] | None:
    """Stage through DuckDB's parallel NDJSON reader, or None when a record is bad or the
    reader refuses a line. `docs` is a view, so the file is read twice (keys, then values)
    instead of held in memory; the stage needs no order, as its records are all good."""
    import duckdb

    docs = f"{table}_json"
    columns = ", ".join(f"{k}: 'JSON'" for k in _TOP_KEYS)
    row = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()
    con.execute("SET preserve_insertion_order = false")
    try:
        con.execute(
            f"""CREATE OR REPLACE TEMP VIEW {docs} AS
            SELECT 0 AS line, NULL::VARCHAR AS pre, true AS ok, 'OBJECT' AS root,
                   {", ".join(_TOP_KEYS)}
            FROM read_json({_lit(str(file))}, format = 'newline_delimited', records = true,
                           columns = {{{columns}}})"""
        )
        props = _stage_docs(con, docs, table, tz)
        return None if _bad_count(con, table) else props
    except duckdb.Error:
        return None  # a line the reader refuses: the exact way names it
    finally:
        con.execute(f"SET preserve_insertion_order = {bool(row and row[0])}")
        con.execute(f"DROP VIEW IF EXISTS {docs}")


def _bad_count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    row = con.execute(f"SELECT count(*) FROM {table} WHERE reason IS NOT NULL").fetchone()
    return int(row[0]) if row else 0


def _docs_exact(con: duckdb.DuckDBPyConnection, file: Path, docs: str) -> None:
    """One row per non-blank line, with its number; lines that are not UTF-8 get a reason."""
    import duckdb

    try:
        _docs_from_text(con, file, docs)
        return
    except duckdb.Error:
        bad = _lines_not_utf8(file)
        if not bad:
            raise
    with tempfile.TemporaryDirectory(prefix="reportkit-import-") as tmp:
        clean = Path(tmp) / file.name
        _blank_lines(file, clean, set(bad))
        _docs_from_text(con, clean, docs)
    con.executemany(
        f"INSERT INTO {docs} (line, pre, ok) VALUES (?, 'not valid UTF-8', false)",
        [[n] for n in bad],
    )


def _docs_from_text(con: duckdb.DuckDBPyConnection, file: Path, docs: str) -> None:
    keys = ", ".join(f"v[{i}] AS {k}" for i, k in enumerate(_TOP_KEYS, start=1))
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {docs} AS
        SELECT line, NULL::VARCHAR AS pre, ok, CASE WHEN ok THEN json_type(text) END AS root,
               {keys}
        FROM (SELECT line, text, json_valid(text) AS ok,
                     CASE WHEN ok THEN json_extract(text, $paths) END AS v
              FROM (SELECT line, trim(CASE WHEN line = 1 THEN ltrim(text, $bom) ELSE text END,
                                      $blank) AS text
                    FROM (SELECT generate_subscripts(l, 1) AS line, unnest(l) AS text
                          FROM (SELECT string_split(content, chr(10)) AS l FROM read_text($file))))
              WHERE text <> '')""",
        {
            "file": str(file),
            "paths": [_pointer(k) for k in _TOP_KEYS],
            "bom": _BOM,
            "blank": _BLANK,
        },
    )


def _lines_not_utf8(file: Path) -> list[int]:
    bad = []
    with file.open("rb") as f:
        for number, line in enumerate(f, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                bad.append(number)
    return bad


def _blank_lines(source: Path, target: Path, lines: set[int]) -> None:
    """A copy of `source` with `lines` emptied, so every other line keeps its number."""
    with source.open("rb") as f, target.open("wb") as out:
        for number, line in enumerate(f, start=1):
            out.write(b"\n" if number in lines else line)


def _discover(con: duckdb.DuckDBPyConnection, docs: str) -> list[tuple[str, str]]:
    """(container, key) of every property in `docs`, containers in a fixed order, keys sorted."""
    parts = [
        f"""SELECT DISTINCT {i} AS c, unnest(json_keys({name})) AS k FROM {docs}
        WHERE json_type({name}) = 'OBJECT'"""
        for i, name in enumerate(_EVENT_CONTAINERS)
    ]
    parts.append(
        f"""SELECT DISTINCT {len(_EVENT_CONTAINERS)} + c AS c, unnest(ks) AS k
        FROM (SELECT generate_subscripts($paths, 1) - 1 AS c,
                     unnest(json_keys(profile, $paths)) AS ks
              FROM {docs} WHERE json_type(profile) = 'OBJECT')"""
    )
    rows = con.execute(
        f"SELECT c, k FROM ({' UNION ALL '.join(parts)}) ORDER BY c, k",
        {"paths": [_pointer(c) for c in _PROFILE_CONTAINERS]},
    ).fetchall()
    containers = [*_EVENT_CONTAINERS, *_PROFILE_CONTAINERS]
    return [(containers[int(c)], str(k)) for c, k in rows]


def _stage_docs(
    con: duckdb.DuckDBPyConnection, docs: str, table: str, tz: str
) -> tuple[_Prop, ...]:
    """The stage of `docs`: typed values and a reason (NULL when the record is good) per line."""
    p = _Params()
    found = _discover(con, docs)
    # Every value is pulled out of its container once, into a list per container.
    event_keys = {c: [k for kc, k in found if kc == c] for c in _EVENT_CONTAINERS}
    profile_found = [(c, k) for c, k in found if c in _PROFILE_CONTAINERS]
    profile_paths = ["/identity", "/objectId", "/platform"]
    profile_paths += [_pointer(c, k) for c, k in profile_found]
    values: list[tuple[str, str, str]] = []  # (scope, name, list element)
    for c, scope in _EVENT_CONTAINERS.items():
        values += [(scope, k, f"v_{c}[{i}]") for i, k in enumerate(event_keys[c], start=1)]
    values.append(("technographics", "platform", "v_profile[3]"))
    for i, (c, k) in enumerate(profile_found, start=4):
        scope = _PROFILE_CONTAINERS[c] or store.scope_of_profile_field(k)
        values.append((scope, k, f"v_profile[{i}]"))

    extract = [
        f"json_extract({c}, {p([_pointer(k) for k in keys])}) AS v_{c}"
        for c, keys in event_keys.items()
        if keys
    ]
    extract.append(f"json_extract(profile, {p(profile_paths)}) AS v_profile")
    kinds = [f"json_type({c}) AS t_{c}" for c in ("profile", *_EVENT_CONTAINERS)]
    kinds.append(f"json_type(profile, {p([_pointer(c) for c in _PROFILE_CONTAINERS])}) AS t_pc")
    typed = [
        "json_type(event_name) AS t_name, event_name ->> '$' AS x_name",
        "json_type(ts) AS t_ts, ts ->> '$' AS x_ts",
        "json_type(v_profile[1]) AS t_id, v_profile[1] ->> '$' AS x_id",
        "json_type(v_profile[2]) AS t_ob, v_profile[2] ->> '$' AS x_ob",
    ]
    derived = [
        f"({_epoch_sql('x_ts', tz)}) AS epoch",
        f"CASE WHEN t_id IN {_JSON_INTEGER} OR (t_id = 'VARCHAR' AND x_id <> '') THEN x_id"
        f" WHEN t_ob IN {_JSON_INTEGER} OR (t_ob = 'VARCHAR' AND x_ob <> '') THEN x_ob END"
        " AS identity",
    ]
    for n, (_scope, _name, element) in enumerate(values):
        typed.append(f"json_type({element}) AS t{n}, {element} ->> '$' AS x{n}")
        derived.append(
            f"CASE WHEN t{n} = 'VARCHAR' AND starts_with(x{n}, '$D_')"
            f" THEN regexp_matches(x{n}, '{_DATE_RE}') ELSE false END AS d{n}"
        )
    checks = [
        "WHEN pre IS NOT NULL THEN pre",
        "WHEN NOT ok THEN 'not valid JSON'",
        "WHEN root IS DISTINCT FROM 'OBJECT' THEN 'not a JSON object'",
        "WHEN t_name IS NULL OR t_name = 'NULL' THEN 'missing event_name'",
        "WHEN t_name <> 'VARCHAR' OR x_name = '' THEN 'event_name must be a non-empty string'",
        "WHEN t_ts IS NULL OR t_ts = 'NULL' THEN 'missing ts'",
        "WHEN epoch IS NULL THEN 'bad ts ' || x_ts"
        " || ' (expected YYYYMMDDHHMMSS or epoch seconds)'",
        "WHEN t_profile NOT IN ('OBJECT', 'NULL') THEN 'profile is not an object'",
        "WHEN identity IS NULL AND coalesce(t_id, 'NULL') NOT IN ('NULL', 'VARCHAR')"
        " THEN 'profile.identity must be a string or an integer'",
        "WHEN identity IS NULL THEN 'missing profile.identity'",
    ]
    for c in _EVENT_CONTAINERS:
        checks.append(f"WHEN t_{c} NOT IN ('OBJECT', 'NULL') THEN '{c} is not an object'")
    for n, c in enumerate(_PROFILE_CONTAINERS, start=1):
        checks.append(
            f"WHEN t_pc[{n}] NOT IN ('OBJECT', 'NULL') THEN 'profile.{c} is not an object'"
        )
    columns: list[str] = []
    props: list[_Prop] = []
    for n, (scope, name, _element) in enumerate(values):
        checks += [
            f"WHEN t{n} IN ('OBJECT', 'ARRAY') THEN "
            + p(f"property {name!r}: nested objects and lists are not supported"),
            f"WHEN t{n} = 'DOUBLE' AND NOT isfinite(TRY_CAST(x{n} AS DOUBLE)) THEN "
            + p(f"property {name!r}: number out of range"),
            f"WHEN d{n} AND TRY_CAST(substr(x{n}, 4) AS BIGINT) IS NULL THEN "
            + p(f"property {name!r}: date out of range"),
        ]
        exprs = {
            "STR": f"CASE WHEN (t{n} = 'VARCHAR' AND NOT d{n}) OR t{n} = 'BOOLEAN' THEN x{n} END",
            "NUMBER": f"CASE WHEN t{n} IN {_JSON_NUMBER} THEN TRY_CAST(x{n} AS DOUBLE) END",
            "DATE": f"CASE WHEN d{n} THEN TRY_CAST(substr(x{n}, 4) AS BIGINT) END",
        }
        stage_cols = {}
        for typ, expr in exprs.items():
            alias = f"s{n}_{typ.lower()}"
            columns.append(f"{expr} AS {alias}")
            stage_cols[typ] = alias
        props.append(_Prop(scope, name, stage_cols))
    # Layers: values out of their containers, their JSON types and texts, what follows from
    # those (ts in epoch seconds, the identity, is-a-date), then the stage columns and the reason.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {table} AS
        SELECT line, x_name AS event_name, epoch AS ts, identity,
               CASE {" ".join(checks)} END AS reason
               {"".join(", " + c for c in columns)}
        FROM (SELECT *, {", ".join(derived)}
              FROM (SELECT *, {", ".join(typed)}
                    FROM (SELECT line, pre, ok, root, event_name, ts, {", ".join(extract + kinds)}
                          FROM {docs})))""",
        p.values,
    )
    return tuple(props)


# -- CSV and Parquet ----------------------------------------------------------------------------
#
# CSV is read as text in a fixed dialect (comma, double quotes, a header line; DuckDB's sniffer is
# not used, as it can silently drop every row of a file with one ragged line), and each column
# is then typed by what all of its values look like: numbers -> NUMBER, ISO dates and timestamps
# -> DATE, the rest STR. As with JSON Lines there are two ways: DuckDB reads a clean file directly;
# a file it refuses, or with a bad record, is first rewritten by Python's csv module into a clean
# copy that carries each record's line number (structural problems: not UTF-8, a wrong number of
# fields, broken quoting, are noted on the way), and the copy is staged by the same code.

_CSV_OPTIONS = (
    "header = true, delim = ',', quote = '\"', escape = '\"', strict_mode = true,"
    " auto_detect = false"
)
_LINE_COLUMN = "__line"
_NUMBER_RE = r"^[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][+-]?[0-9]+)?$"
_DAY_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_TIMESTAMP_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?$"


def _stage_flat(con: duckdb.DuckDBPyConnection, file: Path, table: str, tz: str) -> _Stage:
    import duckdb

    if file.suffix.lower() not in (".parquet", ".pq"):
        return _stage_csv(con, file, table, tz)
    src = f"read_parquet({_lit(str(file))}) WITH ORDINALITY AS t"
    try:
        types = _describe(con, src)
        columns = _flat_columns(file, list(types)[:-1])
        staged = _stage_rows(con, file, src, types, _quote(list(types)[-1]), columns, table, tz)
    except duckdb.Error as exc:
        raise DataImportError(f"{file}: cannot read it as Parquet: {_first_line(exc)}") from exc
    return _Stage(file, table, staged, "row")


def _stage_csv(
    con: duckdb.DuckDBPyConnection, file: Path, table: str, tz: str, *, exact: bool = False
) -> _Stage:
    import duckdb

    header = _csv_header(file)
    columns = _flat_columns(file, header)
    if not exact:
        try:
            staged = _stage_csv_text(con, file, header, False, columns, table, tz)
            if not _bad_count(con, table):
                return _Stage(file, table, staged, "line")
        except duckdb.Error:
            pass  # a record DuckDB's reader refuses: the rewrite names it
    with tempfile.TemporaryDirectory(prefix="reportkit-import-") as tmp:
        clean = Path(tmp) / "records.csv"
        problems = _rewrite_csv(file, clean, len(header))
        try:
            staged = _stage_csv_text(con, clean, header, True, columns, table, tz)
        except duckdb.Error as exc:
            raise DataImportError(f"{file}: cannot read it as CSV: {_first_line(exc)}") from exc
    if problems:
        con.executemany(f"INSERT INTO {table} (line, reason) VALUES (?, ?)", problems)
    return _Stage(file, table, staged, "line")


def _stage_csv_text(
    con: duckdb.DuckDBPyConnection,
    file: Path,
    header: list[str],
    numbered: bool,
    columns: list[tuple[str, str, str]],
    table: str,
    tz: str,
) -> tuple[_Prop, ...]:
    """Stage a CSV read as text; `numbered`: its first column holds each record's line."""
    names = [_LINE_COLUMN, *header] if numbered else header
    spec = ", ".join(f"{_lit(n)}: 'VARCHAR'" for n in names)
    raw = f"{table}_csv"
    con.execute(
        f"""CREATE OR REPLACE TEMP VIEW {raw} AS SELECT * FROM
        read_csv({_lit(str(file))}, columns = {{{spec}}}, {_CSV_OPTIONS}) WITH ORDINALITY AS t"""
    )
    try:
        types = _text_types(con, raw, [c for _, _, c in columns], header)
        line = f"CAST({_quote(_LINE_COLUMN)} AS BIGINT)" if numbered else "ordinality + 1"
        typed = ", ".join(f"CAST({_quote(c)} AS {t}) AS {_quote(c)}" for c, t in types.items())
        src = f"(SELECT {line} AS {_quote(_LINE_COLUMN)}, {typed} FROM {raw})"
        return _stage_rows(con, file, src, types, _quote(_LINE_COLUMN), columns, table, tz)
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
        v = _quote(column)
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


def _quote(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _list_sql(values: list[str]) -> str:
    return "[" + ", ".join(_lit(v) for v in values) + "]"


def _csv_header(file: Path) -> list[str]:
    """The header's column names, read by Python's csv module (DuckDB renames duplicates)."""
    with file.open(newline="", encoding="utf-8-sig", errors="surrogateescape") as f:
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
            raise DataImportError(f"{file}:1: column {_printable(column)!r} appears twice")
    return header


def _has_surrogates(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def _rewrite_csv(source: Path, target: Path, width: int) -> list[tuple[int, str]]:
    """Copy the records of `source` after its header into `target`, each with its first line's
    number in front; return (line, reason) for the records left out."""
    problems: list[tuple[int, str]] = []
    with (
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
                f"{file}: unknown column {_printable(column)!r} (expected event.NAME,"
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
) -> tuple[_Prop, ...]:
    """Stage the typed columns of `src` (one of DuckDB's readers); `line` numbers the rows."""
    p = _Params()
    epoch = _flat_epoch_sql(types["ts"], _quote("ts"), tz)
    ts = _quote("ts")
    checks = [
        f"WHEN coalesce(CAST({_quote('event_name')} AS VARCHAR), '') = ''"
        " THEN 'missing event_name'",
        f"WHEN ({epoch}) IS NULL THEN 'bad ts ' || coalesce(CAST({ts} AS VARCHAR), '')"
        " || ' (expected YYYYMMDDHHMMSS or epoch seconds)'",
        f"WHEN coalesce(CAST({_quote('identity')} AS VARCHAR), '') = '' THEN 'missing identity'",
    ]
    selected: list[str] = []
    props: list[_Prop] = []
    for k, (scope, name, column) in enumerate(columns):
        exprs, check = _flat_value_sql(types[column], _quote(column))
        if exprs is None:
            raise DataImportError(
                f"{file}: column {_printable(column)!r} has unsupported type {types[column]}"
            )
        if check:
            checks.append(
                f"WHEN {check} THEN " + p(f"column {_printable(column)!r}: value out of range")
            )
        stage_cols = {}
        for typ, expr in exprs.items():
            alias = f"s{k}_{typ.lower()}"
            selected.append(f"{expr} AS {alias}")
            stage_cols[typ] = alias
        props.append(_Prop(scope, name, stage_cols))
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {table} AS
        SELECT {line} AS line, CAST({_quote("event_name")} AS VARCHAR) AS event_name,
               ({epoch}) AS ts, CAST({_quote("identity")} AS VARCHAR) AS identity,
               CASE {" ".join(checks)} END AS reason
               {"".join(", " + c for c in selected)}
        FROM {src}""",
        p.values,
    )
    return tuple(props)


def _flat_epoch_sql(ts_type: str, ts: str, tz: str) -> str:
    if "TIME ZONE" in ts_type:
        return f"epoch({ts})::BIGINT"
    if ts_type.startswith("TIMESTAMP") or ts_type == "DATE":
        return f"epoch(timezone({_lit(tz)}, CAST({ts} AS TIMESTAMP)))::BIGINT"
    if ts_type in ("DOUBLE", "FLOAT") or ts_type.startswith("DECIMAL"):
        # 1790000000.0 (Parquet written from a float column) is a whole second
        text = f"CASE WHEN {ts} = trunc({ts}) THEN CAST(TRY_CAST({ts} AS BIGINT) AS VARCHAR) END"
        return _epoch_sql(text, tz)
    return _epoch_sql(f"CAST({ts} AS VARCHAR)", tz)


def _flat_value_sql(ctype: str, ref: str) -> tuple[dict[str, str] | None, str | None]:
    """Stage expressions by value type for a column of DuckDB type `ctype`, and the condition
    under which a value is out of range."""
    if ctype == "VARCHAR":
        is_date = f"regexp_matches({ref}, '{_DATE_RE}')"
        date = f"TRY_CAST(substr({ref}, 4) AS BIGINT)"
        exprs = {
            "STR": f"CASE WHEN NOT {is_date} THEN {ref} END",
            "DATE": f"CASE WHEN {is_date} THEN {date} END",
        }
        return exprs, f"{is_date} AND {date} IS NULL"
    if ctype in _NUMERIC or ctype.startswith("DECIMAL"):
        return {"NUMBER": f"CAST({ref} AS DOUBLE)"}, f"NOT isfinite(CAST({ref} AS DOUBLE))"
    if ctype == "DATE":
        return {"DATE": f"epoch(CAST({ref} AS TIMESTAMP))::BIGINT"}, f"NOT isfinite({ref})"
    if ctype.startswith("TIMESTAMP"):
        return {"DATE": f"epoch({ref})::BIGINT"}, f"NOT isfinite({ref})"
    if any(nested in ctype for nested in ("[]", "STRUCT", "MAP", "UNION")):
        return None, None
    return {"STR": f"CAST({ref} AS VARCHAR)"}, None  # BOOLEAN, TIME, UUID, ...


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
