"""JSON Lines event files -> a stage table (see `stagetables`).

Records have the shape of CleverTap's Get Events records::

    {"event_name": "Charged", "ts": 20261120134501,
     "profile": {"identity": "u1", "platform": "Android", "profileData": {"Customer Type": "Gold"}},
     "event_props": {"Amount": 250}, "session_props": {"utm_source": "google"}}

Both ways of reading a file end in the same `docs` relation, one row per non-blank line:
line, pre (a reason found before parsing), ok (valid JSON), root (its JSON type), and
event_name, ts, profile, event_props, session_props (JSON, NULL when absent); `_stage_docs`
turns it into a stage with one rule set, so the two ways cannot disagree on what is valid.
The fast way (DuckDB's read_json) has no line numbers and stops at the first line it cannot
parse; the exact way (read_text, one row per line) locates every problem. A file goes the exact
way only when the fast way fails or finds a bad record.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reportkit import store
from reportkit.errors import DataImportError
from reportkit.store import jsonlheader
from reportkit.store import sql_literal as lit
from reportkit.store.stagetables import (
    DATE_RE,
    Params,
    Prop,
    Stage,
    bad_count,
    check_property_count,
    epoch_sql,
    pointer,
    quote,
)

if TYPE_CHECKING:
    import duckdb

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
_VARCHAR = "'VARCHAR'"


_JSON_SHAPES = (
    "a .json file holds JSON Lines (one record per line), a JSON array of records, or a "
    "CleverTap Get Events answer with a `records` array"
)


def _nothing() -> None:
    pass


def stage_json(
    con: duckdb.DuckDBPyConnection,
    file: Path,
    table: str,
    tz: str,
    max_properties: int,
    before_read: Callable[[], None] = _nothing,
) -> Stage:
    """The stage of a `.json` file: JSON Lines, or one JSON document holding the records (an
    array of them, or CleverTap's Get Events answer `{"status": ..., "records": [...]}`, one
    such answer per line for several pages). Records of a document are numbered from 1 in
    messages (`FILE: record N: ...`), since they have no line of their own."""
    records = _document_records(file)
    if records is None:
        return stage_jsonl(con, file, table, tz, max_properties, before_read)
    with tempfile.TemporaryDirectory(prefix="reportkit-import-") as tmp:
        lines = Path(tmp) / "records.jsonl"
        with lines.open("w", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
                handle.write("\n")
        before_read()
        staged = stage_jsonl(con, lines, table, tz, max_properties)  # into a table: the file can go
    return Stage(file, table, staged.props, "record")


def _document_records(file: Path) -> list[Any] | None:
    """The records of a file that is one JSON document (or one answer per line), or None for
    JSON Lines of records."""
    with file.open("rb") as handle:
        head = handle.read(4096).decode("utf-8", "replace").lstrip(_BOM + _BLANK)
    if not head.startswith(("[", "{")):
        return None
    if head.startswith("{"):
        first = head.split("\n", 1)[0]
        try:
            line = json.loads(first)
        except ValueError:
            line = None  # a pretty-printed document, or JSON Lines whose first line is long
        if isinstance(line, dict):
            if isinstance(line.get("records"), list):
                return _answer_pages(file)
            if "status" in line and "event_name" not in line:
                status = str(line["status"])[:40]
                raise DataImportError(
                    f"{file}:1: a CleverTap answer (status {status!r}) without a `records` "
                    f"array: {_JSON_SHAPES}"
                )
            return None  # JSON Lines of records
    try:
        document = json.loads(file.read_text(encoding="utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as exc:
        if head.startswith("{"):
            return None  # JSON Lines: the line reader names the bad line
        where = (
            f" at line {exc.lineno}, column {exc.colno}"
            if isinstance(exc, json.JSONDecodeError)
            else ""
        )
        raise DataImportError(f"{file}: not valid JSON{where}: {_JSON_SHAPES}") from None
    if isinstance(document, list):
        return document
    if isinstance(document, dict) and isinstance(document.get("records"), list):
        return list(document["records"])
    if isinstance(document, dict) and "event_name" not in document:
        raise DataImportError(f"{file}: a JSON object without a `records` array: {_JSON_SHAPES}")
    return None


def _answer_pages(file: Path) -> list[Any]:
    """The records of one Get Events answer per line (pages written one after another)."""
    records: list[Any] = []
    with file.open(encoding="utf-8-sig") as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip(_BLANK):
                continue
            try:
                page = json.loads(text)
            except ValueError:
                raise DataImportError(f"{file}:{number}: not valid JSON: {_JSON_SHAPES}") from None
            if not isinstance(page, dict) or not isinstance(page.get("records"), list):
                raise DataImportError(
                    f"{file}:{number}: expected a Get Events answer with a `records` array, "
                    "like the lines before it"
                )
            records.extend(page["records"])
    return records


def stage_jsonl(
    con: duckdb.DuckDBPyConnection,
    file: Path,
    table: str,
    tz: str,
    max_properties: int,
    before_read: Callable[[], None] = _nothing,
) -> Stage:
    """The stage of a JSON Lines file: the fast way when the whole file is good, else exact.
    A file with more than `max_properties` distinct properties is refused before its values
    are read (the stage's SQL grows with them). `before_read` is called before the file is read
    in full (a sample of it may be read before)."""
    props = _stage_fast(con, file, table, tz, max_properties, before_read)
    if props is not None:
        return Stage(file, table, props, "line")
    docs = f"{table}_lines"
    # The line-numbered way holds the whole file as text: bounded by the machine, not the limit.
    con.execute("RESET memory_limit")
    try:
        _docs_exact(con, file, docs)
        return Stage(file, table, _stage_docs(con, docs, table, tz, max_properties, file), "line")
    finally:
        con.execute(f"DROP TABLE IF EXISTS {docs}")


def _stage_fast(
    con: duckdb.DuckDBPyConnection,
    file: Path,
    table: str,
    tz: str,
    max_properties: int,
    before_read: Callable[[], None] = _nothing,
) -> tuple[Prop, ...] | None:
    """Stage through DuckDB's parallel NDJSON reader, or None when a record is bad or the
    reader refuses a line. The stage needs no order, as its records are all good.

    The file is read once, behind a header made from a sample of it (`_stage_headed`); when
    the sample missed something, twice: once for the keys of its objects (`_discover_file`),
    once for the values (`_stage_typed`), each property its own struct field that the reader
    fills in the same pass. Keys that a struct cannot hold apart (differing only in case, or
    repeated in one object) take the JSON way instead (`_stage_json`), which reads every
    container as JSON text."""
    import duckdb

    row = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()
    con.execute("SET preserve_insertion_order = false")
    try:
        props = _stage_headed(con, file, table, tz, max_properties, before_read)
        if props is not None:
            return props
        before_read()
        try:
            found = _discover_file(con, file)
        except duckdb.Error:
            return None  # a line the reader refuses: the exact way names it
        if _nested(file, found, max_properties):
            return None  # a nested value: the exact way names its line
        if found.fields:
            try:
                return _stage_typed(con, file, found, table, tz)
            except duckdb.Error:
                pass  # a container that is not an object, say: the JSON way decides
        props = _stage_json(con, file, table, tz, max_properties)
        return None if props is None or bad_count(con, table) else props
    finally:
        con.execute(f"SET preserve_insertion_order = {bool(row and row[0])}")


def _nested(file: Path, found: _Found, max_properties: int) -> bool:
    """Whether `found` holds a nested value; a file with more than `max_properties` properties
    is refused first (+ 1: profile.platform)."""
    check_property_count(file, len(found.props) + 1, max_properties)
    return any(found.kinds[key] & {"OBJECT", "ARRAY"} for key in found.props)


@dataclass(frozen=True, slots=True)
class _Headed:
    """How `_stage_typed` reads a file behind a header (see `jsonlheader`): the reader, and
    the columns the stage keeps besides its own, which refer to every top-level column
    (`_header`: a header's record; `_holes`: a record holding a key of the header's own;
    `_others`: the top-level keys the stage has no use for)."""

    reader: str
    extra: tuple[str, ...]
    plain: frozenset[str]  # the values (SQL references) the reader gives as text


def _stage_headed(
    con: duckdb.DuckDBPyConnection,
    file: Path,
    table: str,
    tz: str,
    max_properties: int,
    before_read: Callable[[], None] = _nothing,
) -> tuple[Prop, ...] | None:
    """The stage of a file read once, behind a header made from a sample of it; None when a
    record is bad, the file holds a key the sample missed, or its keys cannot be struct
    fields: the two-read way decides then."""
    import duckdb

    scratch = _scratch(con) or tempfile.gettempdir()
    if shutil.disk_usage(scratch).free < 2 * file.stat().st_size:
        return None  # no room for the headed copy (and the store's spill): two reads instead
    with jsonlheader.scratch_folder(scratch) as tmp:
        sample = Path(tmp) / "sample.jsonl"
        jsonlheader.write_sample(file, sample)
        try:
            found = _discover_file(con, sample)
            top, profile = _outer_keys(con, sample)
        except duckdb.Error:
            return None  # a line the reader refuses
        if _nested(file, found, max_properties) or not found.fields:
            return None
        if top is None or profile is None:
            return None  # keys that differ only in case, or a key of the header's own
        leaves = (["event_name", "ts", *top], ["identity", "objectId", "platform", *profile])
        events = {c: [k for kc, k in found.props if kc == c] for c in _EVENT_CONTAINERS}
        profiles = {c: [k for kc, k in found.props if kc == c] for c in _PROFILE_CONTAINERS}
        # Text is read as text (no quotes to strip) where the sample shows a key's values as
        # strings that no other JSON value reads as (`_plain_in`); else as JSON.
        text = _texts(found)
        probe = Path(tmp) / "probe.jsonl"
        jsonlheader.write_headed(sample, jsonlheader.header(*leaves, events, profiles, ()), probe)
        try:
            text = _plain_in(con, _headed_reader(probe), text)
        except duckdb.Error:
            return None
        headed = Path(tmp) / "headed.jsonl"
        jsonlheader.write_headed(file, jsonlheader.header(*leaves, events, profiles, text), headed)
        holes = [
            _value_ref(c, jsonlheader.HOLE) for c in (*_EVENT_CONTAINERS, *_PROFILE_CONTAINERS)
        ]
        others = " AND ".join(f"{quote(k)} IS NULL" for k in top) or "true"
        extra = (
            f"{quote(jsonlheader.MARK)} IS NOT NULL AS _header",
            f"({' OR '.join(f'{h} IS NOT NULL' for h in holes)}) AS _holes",
            f"({others}) AS _others",  # unused: the reader must read every column
        )
        before_read()
        try:
            plain = frozenset(text.values())
            return _stage_typed(
                con, file, found, table, tz, _Headed(_headed_reader(headed), extra, plain)
            )
        except duckdb.Error:
            return None  # a key the sample missed, a container that is not an object, ...


def _headed_reader(file: Path) -> str:
    """DuckDB's reader of a headed file, detecting its schema from the header alone."""
    return (
        f"read_json({lit(str(file))}, format = 'newline_delimited', records = true,"
        f" sample_size = {jsonlheader.HEADER_RECORDS}, maximum_sample_files = 1,"
        " map_inference_threshold = -1, field_appearance_threshold = 0)"
    )


def _texts(found: _Found) -> dict[tuple[str, str], str]:
    """(where, key) -> SQL reference of every value the sample shows as strings alone: where is
    "" for a record's own keys, "profile" for a profile's, else the container."""
    texts = {}
    for where, key, name in (
        ("", "event_name", "name"),
        ("profile", "identity", "id"),
        ("profile", "objectId", "ob"),
        ("profile", "platform", "platform"),
    ):
        kind = (_static_kind if name == "platform" else _top_kind)(found.top[name])
        if kind == "VARCHAR":
            texts[(where, key)] = _TOP_FIELDS[name]
    for c, k in found.props:
        if _static_kind(found.kinds[(c, k)]) == "VARCHAR":
            texts[(c, k)] = _value_ref(c, k)
    return texts


def _value_ref(container: str, key: str) -> str:
    """SQL reference to `key` of a container in a row of the reader."""
    if container in _EVENT_CONTAINERS:
        return f"{container}.{quote(key)}"
    return f"profile.{quote(container)}.{quote(key)}"


def _plain_in(
    con: duckdb.DuckDBPyConnection, reader: str, texts: dict[tuple[str, str], str]
) -> dict[tuple[str, str], str]:
    """Those of `texts` whose strings in the headed sample `reader` reads are all plain text:
    none starts with a digit, a minus, a brace or a bracket, none is "true" or "false" (what a
    number, a boolean, an object or a list reads as when read as text)."""
    if not texts:
        return {}
    checks = [
        f"bool_or({_not_plain(f'ord({content})', content)})"
        for content in (_unquoted(f"CAST({ref} AS VARCHAR)") for ref in texts.values())
    ]
    row = con.execute(
        f"SELECT {', '.join(checks)} FROM {reader} WHERE {quote(jsonlheader.MARK)} IS NULL"
    ).fetchone()
    odd = row or [True] * len(texts)
    return {where: ref for (where, ref), bad in zip(texts.items(), odd, strict=True) if not bad}


def _not_plain(code: str, text: str) -> str:
    """SQL: `text` (whose first character's code is `code`) is what a number, a boolean, an
    object or a list reads as when read as text."""
    return f"{code} BETWEEN 48 AND 57 OR {code} IN (45, 123, 91) OR {text} IN ('true', 'false')"


def _scratch(con: duckdb.DuckDBPyConnection) -> str | None:
    """Where the headed copy of a file goes: beside the store's temporary folder (the import
    sets one beside the store), else the system's."""
    row = con.execute("SELECT current_setting('temp_directory')").fetchone()
    folder = Path(str(row[0])) if row and row[0] else None
    if folder is None or not folder.is_absolute() or not folder.parent.is_dir():
        return None
    return str(folder.parent)


_PROFILE_KEYS = ("identity", "objectId", "platform", *_PROFILE_CONTAINERS)


def _outer_keys(
    con: duckdb.DuckDBPyConnection, sample: Path
) -> tuple[list[str] | None, list[str] | None]:
    """The keys of records (besides the containers) and of profiles (besides identity, objectId,
    platform and the containers) in `sample`; None for a level where two keys differ only in
    case or one is the header's own."""
    row = con.execute(  # one read; json_keys of a profile that is not an object is NULL
        """SELECT list_distinct(flatten(list(json_keys(json)))),
                  list_distinct(flatten(list(json_keys(json, '$.profile'))))
        FROM read_ndjson_objects($f)""",
        {"f": str(sample)},
    ).fetchone()
    levels: list[list[str] | None] = []
    for found, ours in zip(row or ([], []), (_TOP_KEYS, _PROFILE_KEYS), strict=True):
        keys = sorted({str(k) for k in found or ()} | set(ours))
        folded = {k.casefold() for k in keys}
        mine = {jsonlheader.MARK.casefold(), jsonlheader.HOLE.casefold()}
        clash = len(folded) != len(keys) or folded & mine
        levels.append(None if clash else [k for k in keys if k not in ours])
    return levels[0], levels[1]


def _read_json(file: Path, columns: dict[str, str]) -> str:
    spec = ", ".join(f"{quote(k)}: {lit(v)}" for k, v in columns.items())
    return (
        f"read_json({lit(str(file))}, format = 'newline_delimited', records = true,"
        f" columns = {{{spec}}})"
    )


@dataclass(frozen=True, slots=True)
class _Found:
    """What one read of a file found: its properties (container, key) in `_discover`'s order,
    the JSON types (json_type's names) of each one's values and of the top-level fields
    (event_name, ts, identity, objectId, platform), and whether every container's keys can be
    struct fields (no key empty, none repeated in an object, none differing from another only
    in case)."""

    props: list[tuple[str, str]]
    kinds: dict[tuple[str, str], set[str]]
    top: dict[str, set[str]]
    fields: bool


_TOP_FIELDS = {
    "name": "event_name",
    "ts": "ts",
    "id": "profile.identity",
    "ob": 'profile."objectId"',
    "platform": "profile.platform",
}


def _discover_file(con: duckdb.DuckDBPyConnection, file: Path) -> _Found:
    """The properties of a file and the types of its values, in one read of it."""
    containers = [*_EVENT_CONTAINERS, *_PROFILE_CONTAINERS]
    refs = [*_EVENT_CONTAINERS, *(f"profile.{quote(c)}" for c in _PROFILE_CONTAINERS)]
    profile = ", ".join(
        f"{quote(c)} JSON" for c in ("identity", "objectId", "platform", *_PROFILE_CONTAINERS)
    )
    columns = {
        "event_name": "JSON",
        "ts": "JSON",
        "profile": f"STRUCT({profile})",
        **{c: "JSON" for c in _EVENT_CONTAINERS},
    }
    # Records mostly share a few key lists (and value types): DISTINCT keeps the rest small.
    rows = con.execute(
        f"""SELECT DISTINCT {", ".join(_json_type(r) for r in _TOP_FIELDS.values())},
                   {", ".join(f"json_keys({r}), json_type({r}, '$.*')" for r in refs)}
        FROM {_read_json(file, columns)}"""
    ).fetchall()
    top: dict[str, set[str]] = {name: set() for name in _TOP_FIELDS}
    kinds: dict[tuple[str, str], set[str]] = {}
    fields = True
    for row in rows:
        for name, t in zip(_TOP_FIELDS, row, strict=False):
            top[name].add(str(t))  # "None" when absent
        for i, c in enumerate(containers):
            ks, ts = row[len(_TOP_FIELDS) + 2 * i], row[len(_TOP_FIELDS) + 2 * i + 1]
            if not ks:
                continue
            fields = fields and len(set(ks)) == len(ks)
            if not isinstance(ts, list):
                ts = [ts]  # one key: json_type gives its type, not a list
            for k, t in zip(ks, ts, strict=True):
                kinds.setdefault((c, str(k)), set()).add(str(t))
    for c in containers:
        names = [k for kc, k in kinds if kc == c]
        fields = fields and len({k.casefold() for k in names}) == len(names) and "" not in names
    ordered = con.execute(
        "SELECT c, k FROM (SELECT unnest($c) AS c, unnest($k) AS k) ORDER BY c, k",
        {"c": [containers.index(c) for c, _ in kinds], "k": [k for _, k in kinds]},
    ).fetchall()
    return _Found([(containers[int(c)], str(k)) for c, k in ordered], kinds, top, fields)


def _json_type(ref: str) -> str:
    """json_type of a JSON value, parsing only numbers (a string's first character says it)."""
    text = f"CAST({ref} AS VARCHAR)"
    return f"CASE WHEN ord({text}) = 34 THEN 'VARCHAR' ELSE json_type({ref}) END"


def _top_kind(types: set[str]) -> str:
    """How event_name, ts, identity or objectId can be read, from the JSON types it has in the
    file: VARCHAR when it is text alone, HUGEINT when integers alone (their text is the JSON
    text), else JSON. ("None": absent in some record.)"""
    present = types - {"NULL", "None"}
    if present == {"VARCHAR"}:
        return "VARCHAR"
    if present and present <= set(_JSON_INTEGER):
        return "HUGEINT"
    return "JSON"


def _static_kind(types: set[str]) -> str:
    """The type a property's values can be read as, from the JSON types they have in the file:
    VARCHAR, DOUBLE or BOOLEAN when that is all they are (besides null, or "None": absent),
    else JSON."""
    present = types - {"NULL", "None"}
    for kind, fits in (
        ("VARCHAR", {"VARCHAR"}),
        ("DOUBLE", set(_JSON_NUMBER)),
        ("BOOLEAN", {"BOOLEAN"}),
    ):
        if present and present <= fits:
            return kind
    return "JSON"


def _stage_typed(
    con: duckdb.DuckDBPyConnection,
    file: Path,
    discovered: _Found,
    table: str,
    tz: str,
    headed: _Headed | None = None,
) -> tuple[Prop, ...] | None:
    """The stage of a file (None when a record is bad): each container a struct whose fields
    the reader fills in its one pass, each typed as the JSON types `discovered` in the file
    allow (a key with values of several JSON types is read as JSON: its text's first character
    says the type -- a JSON text from the reader never starts with whitespace). No value is
    parsed twice.

    With `headed`, the reader gives every value as JSON text and `discovered` is a sample's:
    values of a key the sample shows with one type are typed from their text, and the stage's
    `_odd` marks a record whose value is not of that type (the file then takes the two-read
    way) or that holds a key of the header's own."""
    found = discovered.props
    static = [_static_kind(discovered.kinds[key]) for key in found]
    # event_name, ts, identity and objectId: text or integers alone are read as such
    top = {name: _top_kind(discovered.top[name]) for name in ("name", "ts", "id", "ob")}
    platform = _static_kind(discovered.top["platform"])
    keys: dict[str, list[tuple[str, str]]] = {}
    for (c, k), kind in zip(found, static, strict=True):
        keys.setdefault(c, []).append((k, kind))

    def container(name: str) -> str:
        ks = keys.get(name)
        return f"STRUCT({', '.join(f'{quote(k)} {t}' for k, t in ks)})" if ks else "JSON"

    if headed is None:
        profile_type = ", ".join(
            [f"identity {top['id']}", f'"objectId" {top["ob"]}', f"platform {platform}"]
            + [f"{quote(c)} {container(c)}" for c in _PROFILE_CONTAINERS]
        )
        columns = {
            "event_name": top["name"],
            "ts": top["ts"],
            "profile": f"STRUCT({profile_type})",
            **{c: container(c) for c in _EVENT_CONTAINERS},
        }
        reader, extra = _read_json(file, columns), []
    else:
        reader, extra = headed.reader, list(headed.extra)
    elements = [_value_ref(c, k) for c, k in found if c in _EVENT_CONTAINERS]
    elements.append("profile.platform")
    elements += [_value_ref(c, k) for c, k in found if c in _PROFILE_CONTAINERS]

    def shape(ref: str, name: str) -> str:  # the json_type of a container
        if name in keys or headed is not None:
            return f"CASE WHEN {ref} IS NOT NULL THEN 'OBJECT' END"
        return _kind(f"ord(CAST({ref} AS VARCHAR))", "")

    # the values, as the rules name them: j<n> a JSON text, x<n> a typed value; t_name,
    # x_name ... for event_name, ts, identity and objectId, t0, x0 ... for the values
    events = len(found) - sum(1 for c, _ in found if c in _PROFILE_CONTAINERS)
    kinds = [*static[:events], platform, *static[events:]]
    refs = {f"_{name}": _TOP_FIELDS[name] for name in top}
    refs.update({str(n): e for n, e in enumerate(elements)})
    kind_of = {f"_{name}": kind for name, kind in top.items()}
    kind_of.update({str(n): kind for n, kind in enumerate(kinds)})
    texts, codes, typed, odd = [], [], [], []
    for n, ref in refs.items():
        kind, text = kind_of[n], f"CAST({ref} AS VARCHAR)"

        def present(column: str, n: str = n, kind: str = kind) -> str:  # t_name ... (top only)
            if n.isdigit():
                return ""
            return f"CASE WHEN {column} IS NOT NULL THEN '{_TOP_TYPE[kind]}' END AS t{n}, "

        plain = headed is not None and ref in headed.plain
        if kind == "JSON" or (headed is not None and not plain):
            texts.append(f"{text} AS j{n}")
            codes.append(f"ord(j{n}) AS o{n}")
        if kind == "JSON":
            typed.append(
                f"{_kind(f'o{n}', f'j{n}', integer=n in ('_id', '_ob'))} AS t{n},"
                f" {_text(f'o{n}', f'j{n}')} AS x{n}"
            )
        elif headed is None or plain:  # as json_type and ->> would give them
            texts.append(f"{present(ref)}{ref if n.isdigit() else text} AS x{n}")
            if plain:  # what else reads as such text (see `_plain_in`)
                codes.append(f"ord(x{n}) AS o{n}")
                odd.append(_not_plain(f"o{n}", f"x{n}"))
        else:
            typed.append(f"{present(f'j{n}')}{_typed(kind, n)} AS x{n}")
            odd.append(_odd(kind, n))
    texts += [shape(c, c) + f" AS t_{c}" for c in _EVENT_CONTAINERS]
    texts.append("CASE WHEN profile IS NOT NULL THEN 'OBJECT' END AS t_profile")
    pcs = ", ".join(shape(f"profile.{quote(c)}", c) for c in _PROFILE_CONTAINERS)
    texts.append(f"[{pcs}] AS t_pc")
    keep = [e.rsplit(" AS ", 1)[1] for e in extra]
    if headed is not None:
        typed.append(f"({' OR '.join(f'({x})' for x in ['_holes', *odd])}) AS _odd")
        keep = [k for k in keep if k != "_holes"] + ["_odd"]
    source = f"""SELECT 0 AS line, NULL::VARCHAR AS pre, true AS ok, 'OBJECT' AS root,
               {", ".join(["*", *typed])}
        FROM (SELECT {", ".join(["*", *codes])}
              FROM (SELECT {", ".join(texts + extra)} FROM {reader}))"""
    p = Params()
    # ts's text is an integer's where the reader reads integers alone, or the sample shows
    # integers alone (a record whose ts is not an integer is odd: the stage is not kept)
    ts_integer = top["ts"] == "HUGEINT"
    select, props = _rules(source, _values(found), tz, p, kinds, keep, ts_integer=ts_integer)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {select}", p.values)
    if headed is not None:
        row = con.execute(f"DELETE FROM {table} WHERE _header").fetchone()
        if not row or row[0] != jsonlheader.HEADER_RECORDS or _count(con, table, "_odd"):
            return None  # a value of a type the sample did not show, or a header's key
    return None if bad_count(con, table) else props


# json_type's name of event_name, ts, identity and objectId when read as text or integers
_TOP_TYPE = {"VARCHAR": "VARCHAR", "HUGEINT": _JSON_INTEGER[0], "JSON": ""}


def _typed(kind: str, n: str) -> str:
    """SQL for the value of a JSON text j<n> (whose first character's code is o<n>) that is of
    `kind`, as a reader given that kind gives it (`_odd` says when it is not of that kind)."""
    if kind == "VARCHAR":
        return _unquoted(f"j{n}")
    if kind == "DOUBLE":  # a text that is not a number fails the cast: the two-read way then
        return f"CASE WHEN o{n} <> 34 THEN CAST(j{n} AS DOUBLE) END"  # (the header has "a")
    if kind == "BOOLEAN":
        return f"o{n} = 116"
    return f"j{n}"  # HUGEINT: integers' text is the JSON text


def _odd(kind: str, n: str) -> str:
    """SQL: the JSON text j<n> is not of `kind` (JSON null is SQL NULL: no text at all)."""
    if kind == "VARCHAR":
        return f"o{n} <> 34"
    if kind == "DOUBLE":  # a JSON number starts with a minus or a digit
        return f"(o{n} <> 45 AND o{n} NOT BETWEEN 48 AND 57)"
    if kind == "BOOLEAN":
        return f"o{n} NOT IN (116, 102)"
    # HUGEINT: an integer within BIGINT's range (as json_type says BIGINT): the reader writes
    # other numbers with a point or an exponent, and strings, booleans and the rest start with
    # something other than a minus or a digit (cheaper than a regular expression)
    return (
        f"o{n} <> 45 AND o{n} NOT BETWEEN 48 AND 57 OR length(j{n}) > 18"
        f" OR contains(j{n}, '.') OR contains(j{n}, 'e') OR contains(j{n}, 'E')"
    )


def _count(con: duckdb.DuckDBPyConnection, table: str, where: str) -> int:
    row = con.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchone()
    return int(row[0]) if row else 0


def _kind(code: str, text: str, *, integer: bool = False) -> str:
    """SQL for what json_type says of a JSON text, from `code`, the ord() of its first character
    (a JSON text from the reader never starts with whitespace): numbers are DOUBLE, or with
    `integer` BIGINT where json_type says BIGINT or UBIGINT (digits within their range)."""
    number = "'DOUBLE'"
    if integer:
        number = (
            f"CASE WHEN regexp_full_match({text}, '-?[0-9]+') AND TRY_CAST({text} AS HUGEINT)"
            f" BETWEEN {-(2**63)} AND {2**64 - 1} THEN 'BIGINT' ELSE 'DOUBLE' END"
        )
    return (
        f"CASE WHEN {code} IS NULL THEN NULL WHEN {code} = 34 THEN 'VARCHAR'"
        f" WHEN {code} = 110 THEN 'NULL' WHEN {code} IN (116, 102) THEN 'BOOLEAN'"
        f" WHEN {code} = 123 THEN 'OBJECT' WHEN {code} = 91 THEN 'ARRAY' ELSE {number} END"
    )


def _text(code: str, text: str) -> str:
    """SQL for what ->> '$' gives of a JSON text: a string's content (parsed only when it holds
    an escape: otherwise it is the text between the quotes), NULL for null, else the text."""
    return (
        f"CASE WHEN {code} = 34 THEN {_unquoted(text)} WHEN {code} = 110 THEN NULL ELSE {text} END"
    )


def _unquoted(text: str) -> str:
    """SQL for the content of the JSON string `text`: parsed only when it holds an escape,
    otherwise the text between its quotes."""
    return (
        f"CASE WHEN contains({text}, '\\') THEN {text} ->> '$'"
        f" ELSE substr({text}, 2, length({text}) - 2) END"
    )


def _stage_json(
    con: duckdb.DuckDBPyConnection, file: Path, table: str, tz: str, max_properties: int
) -> tuple[Prop, ...] | None:
    """The stage of a file the reader takes, every container read as JSON text (`docs` is a
    view, so the file is read again by each step instead of held in memory); None when the
    reader refuses a line."""
    import duckdb

    docs = f"{table}_json"
    columns = {k: "JSON" for k in _TOP_KEYS}
    try:
        con.execute(
            f"""CREATE OR REPLACE TEMP VIEW {docs} AS
            SELECT 0 AS line, NULL::VARCHAR AS pre, true AS ok, 'OBJECT' AS root,
                   {", ".join(_TOP_KEYS)}
            FROM {_read_json(file, columns)}"""
        )
        return _stage_docs(con, docs, table, tz, max_properties, file)
    except duckdb.Error:
        return None  # a line the reader refuses: the exact way names it
    finally:
        con.execute(f"DROP VIEW IF EXISTS {docs}")


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
            "paths": [pointer(k) for k in _TOP_KEYS],
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
        {"paths": [pointer(c) for c in _PROFILE_CONTAINERS]},
    ).fetchall()
    containers = [*_EVENT_CONTAINERS, *_PROFILE_CONTAINERS]
    return [(containers[int(c)], str(k)) for c, k in rows]


def _stage_docs(
    con: duckdb.DuckDBPyConnection,
    docs: str,
    table: str,
    tz: str,
    max_properties: int,
    file: Path,
) -> tuple[Prop, ...]:
    """The stage of `docs`: typed values and a reason (NULL when the record is good) per line."""
    p = Params()
    found = _discover(con, docs)
    check_property_count(file, len(found) + 1, max_properties)  # + 1: profile.platform
    # Every value is pulled out of its container once, into a list per container.
    event_keys = {c: [k for kc, k in found if kc == c] for c in _EVENT_CONTAINERS}
    profile_found = [(c, k) for c, k in found if c in _PROFILE_CONTAINERS]
    profile_paths = ["/identity", "/objectId", "/platform"]
    profile_paths += [pointer(c, k) for c, k in profile_found]
    values = _values(found)
    elements = [f"v_{c}[{i}]" for c in _EVENT_CONTAINERS for i in range(1, len(event_keys[c]) + 1)]
    elements += [f"v_profile[{i}]" for i in range(3, len(profile_found) + 4)]

    extract = [
        f"json_extract({c}, {p([pointer(k) for k in keys])}) AS v_{c}"
        for c, keys in event_keys.items()
        if keys
    ]
    extract.append(f"json_extract(profile, {p(profile_paths)}) AS v_profile")
    kinds = [f"json_type({c}) AS t_{c}" for c in ("profile", *_EVENT_CONTAINERS)]
    kinds.append(f"json_type(profile, {p([pointer(c) for c in _PROFILE_CONTAINERS])}) AS t_pc")
    typed = [
        "json_type(event_name) AS t_name, event_name ->> '$' AS x_name",
        "json_type(ts) AS t_ts, ts ->> '$' AS x_ts",
        "json_type(v_profile[1]) AS t_id, v_profile[1] ->> '$' AS x_id",
        "json_type(v_profile[2]) AS t_ob, v_profile[2] ->> '$' AS x_ob",
    ]
    typed += [f"json_type({e}) AS t{n}, {e} ->> '$' AS x{n}" for n, e in enumerate(elements)]
    source = f"""SELECT *, {", ".join(typed)}
        FROM (SELECT line, pre, ok, root, event_name, ts, {", ".join(extract + kinds)}
              FROM {docs})"""
    select, props = _rules(source, values, tz, p)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {select}", p.values)
    return props


def _values(found: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(scope, name) of every value a record can hold, in stage order: the event containers'
    keys, profile.platform, then the profile containers' keys."""
    values = [(_EVENT_CONTAINERS[c], k) for c, k in found if c in _EVENT_CONTAINERS]
    values.append(("technographics", "platform"))
    for c, k in found:
        if c in _PROFILE_CONTAINERS:
            values.append((_PROFILE_CONTAINERS[c] or store.scope_of_profile_field(k), k))
    return values


def _rules(
    source: str,
    values: list[tuple[str, str]],
    tz: str,
    p: Params,
    kinds: list[str] | None = None,
    keep: list[str] | None = None,
    *,
    ts_integer: bool = False,
) -> tuple[str, tuple[Prop, ...]]:
    """The SELECT of a stage (and its properties) from `source`, a relation of every record's
    JSON types and texts (as json_type and ->> '$' name them): line, pre, ok, root; t_/x_ name,
    ts, id (identity) and ob (objectId); t_profile, t_event_props, t_session_props, t_pc (the
    profile containers, in `_PROFILE_CONTAINERS` order); and for the n-th of `values`, t<n> and
    x<n>, or only x<n> typed VARCHAR, DOUBLE or BOOLEAN when `kinds` says all its values are of
    that type (then its rules are the ones that type can meet). `keep`: more columns of `source`
    the stage keeps; `ts_integer`: x_ts is an integer's text wherever the stage is kept. One
    rule set for every way of reading a file."""
    kinds = kinds or ["JSON"] * len(values)
    derived = [
        f"({epoch_sql('x_ts', tz, integer=ts_integer)}) AS epoch",
        f"CASE WHEN t_id IN {_JSON_INTEGER} OR (t_id = 'VARCHAR' AND x_id <> '') THEN x_id"
        f" WHEN t_ob IN {_JSON_INTEGER} OR (t_ob = 'VARCHAR' AND x_ob <> '') THEN x_ob END"
        " AS identity",
    ]
    dates: list[str] = []
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
    props: list[Prop] = []
    for n, ((scope, name), kind) in enumerate(zip(values, kinds, strict=True)):
        nested = f"property {name!r}: nested objects and lists are not supported"
        out_of_range = f"property {name!r}: number out of range"
        bad_date = f"property {name!r}: date out of range"
        # Each value's number, is-a-date and date once, for the checks and the stage columns.
        is_date = (
            f"CASE WHEN {'' if kind == 'VARCHAR' else f't{n} = {_VARCHAR} AND '}"
            f"starts_with(x{n}, '$D_') THEN regexp_matches(x{n}, '{DATE_RE}') ELSE false END"
        )
        date = f"CASE WHEN d{n} THEN TRY_CAST(substr(x{n}, 4) AS BIGINT) END AS e{n}"
        exprs: dict[str, str] = {}
        if kind == "JSON":
            derived += [
                f"CASE WHEN t{n} IN {_JSON_NUMBER} THEN TRY_CAST(x{n} AS DOUBLE) END AS n{n}",
                f"{is_date} AS d{n}",
            ]
            dates.append(date)
            checks += [
                f"WHEN t{n} IN ('OBJECT', 'ARRAY') THEN {p(nested)}",
                f"WHEN t{n} = 'DOUBLE' AND NOT isfinite(n{n}) THEN {p(out_of_range)}",
                f"WHEN d{n} AND e{n} IS NULL THEN {p(bad_date)}",
            ]
            exprs = {
                "STR": f"CASE WHEN (t{n} = 'VARCHAR' AND NOT d{n}) OR t{n} = 'BOOLEAN'"
                f" THEN x{n} END",
                "NUMBER": f"n{n}",
                "DATE": f"e{n}",
            }
        elif kind == "VARCHAR":
            derived.append(f"{is_date} AS d{n}")
            dates.append(date)
            checks.append(f"WHEN d{n} AND e{n} IS NULL THEN {p(bad_date)}")
            exprs = {"STR": f"CASE WHEN NOT d{n} THEN x{n} END", "DATE": f"e{n}"}
        elif kind == "DOUBLE":
            # json_type's DOUBLE is the only number that can be out of range
            checks.append(f"WHEN NOT isfinite(x{n}) THEN {p(out_of_range)}")
            exprs = {"NUMBER": f"x{n}"}
        else:  # BOOLEAN: the text json_type's ->> gives
            exprs = {"STR": f"CASE WHEN x{n} THEN 'true' WHEN NOT x{n} THEN 'false' END"}
        stage_cols = {}
        for typ, expr in exprs.items():
            alias = f"s{n}_{typ.lower()}"
            columns.append(f"{expr} AS {alias}")
            stage_cols[typ] = alias
        props.append(Prop(scope, name, stage_cols))
    # Layers: the source's JSON types and texts, what follows from those (ts in epoch seconds,
    # the identity, numbers, is-a-date), dates, then the stage columns and the reason.
    select = f"""SELECT line, x_name AS event_name, epoch AS ts, identity,
               CASE {" ".join(checks)} END AS reason
               {"".join(", " + c for c in [*columns, *(keep or [])])}
        FROM (SELECT *{"".join(", " + d for d in dates)}
              FROM (SELECT *, {", ".join(derived)} FROM ({source})))"""
    return select, tuple(props)
