"""Load event files (JSON Lines, CSV, Parquet) into a store, all or nothing.

JSON Lines records have the shape of CleverTap's Get Events records (`jsonlines`); CSV and
Parquet use a flat layout, one column per property (`flatfiles`). Each file becomes a stage table
(`stagetables`) with a reason per bad record; this module reports or skips those and loads the rest.

`ts` is YYYYMMDDHHMMSS local time (in `timezone`, default the store's) or Unix epoch seconds.
Values: strings -> STR, numbers -> NUMBER, `"$D_<epoch>"` strings (and CSV/Parquet DATE or
TIMESTAMP columns) -> DATE, booleans -> STR "true"/"false"; nested objects or lists are refused.

Everything is parsed by DuckDB in bulk, and a file is read in full before anything is written:
the store changes in one transaction at the end, or not at all. A failed import into a store that
did not exist leaves no file behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from reportkit import store
from reportkit.errors import DataImportError, InvalidInput
from reportkit.store import sql_literal as lit
from reportkit.store.jsonlines import stage_json, stage_jsonl
from reportkit.store.stagetables import Stage, bad_count, first_line, printable

if TYPE_CHECKING:
    import duckdb

MAX_REASONS = 100
# Limits on the width of the store (see docs/reliability.md): every distinct property is a
# column, and the work of an import grows with them. CleverTap itself caps an account at a few
# hundred custom properties, so these are far above any real account.
MAX_PROPERTIES_PER_IMPORT = 500
MAX_STORE_PROPERTIES = 2000
# DuckDB's memory for one import into a store file; past it, DuckDB spills to a folder beside the
# store (STORE.tmp, gone when the import ends), so a good file of any size imports in bounded
# memory. (A file with a bad record is read the line-numbered way, which holds it in memory: that
# way lifts the limit to DuckDB's default, 80% of the machine's memory.)
MEMORY_LIMIT = "300MB"


@dataclass(frozen=True, slots=True)
class ImportSummary:
    """What an import loaded, and what it skipped and why ("FILE:LINE: reason", first 100)."""

    loaded: int
    skipped: int
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ImportLimits:
    """What one import may do (see docs/reliability.md)."""

    max_properties_per_import: int = MAX_PROPERTIES_PER_IMPORT
    max_store_properties: int = MAX_STORE_PROPERTIES
    allow_duplicate_file: bool = False  # load a file whose digest the store already holds
    memory_limit: str = MEMORY_LIMIT  # DuckDB's memory_limit for an import into a store file


def import_events(
    db: str | Path,
    files: Sequence[Path],
    *,
    timezone: str | None = None,
    skip_invalid: bool = False,
    limits: ImportLimits = ImportLimits(),
) -> ImportSummary:
    """Load `files` into the store at `db` in one transaction; a bad record stops everything
    with DataImportError("FILE:LINE: reason") unless `skip_invalid`."""
    import duckdb

    new_file = str(db) != ":memory:" and not Path(db).exists()
    con = store.connect(db)
    done = False
    try:
        if str(db) != ":memory:":
            con.execute(f"SET temp_directory = {lit(f'{db}.tmp')}")
            con.execute(f"SET memory_limit = {lit(limits.memory_limit)}")
        summary = _import(con, [Path(f) for f in files], timezone, skip_invalid, limits)
        done = True
        return summary
    except duckdb.Error as exc:
        raise DataImportError(f"import into {db} failed: {first_line(exc)}") from exc
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
    limits: ImportLimits = ImportLimits(),
) -> ImportSummary:
    """`import_events` on an open connection (tests load an in-memory engine this way)."""
    import duckdb

    try:
        return _import(con, [Path(f) for f in files], timezone, skip_invalid, limits)
    except duckdb.Error as exc:
        raise DataImportError(f"import failed: {first_line(exc)}") from exc


def _import(
    con: duckdb.DuckDBPyConnection,
    files: list[Path],
    timezone: str | None,
    skip_invalid: bool,
    limits: ImportLimits,
) -> ImportSummary:
    for file in files:
        if not file.is_file():
            raise DataImportError(f"{file}: no such file")
    initialized = store.is_initialized(con)
    # The files are hashed in a thread while the first is sampled and copied (`jsonlines`); the
    # duplicate check waits for it before any file is read in full.
    digesting = _Digesting(files)
    digests: list[str] = []

    def before_read() -> None:
        if not digests:
            digests.extend(digesting.result())
            if not limits.allow_duplicate_file:
                _refuse_duplicates(con, files, digests, initialized)

    store_tz = (store.get_meta(con, "timezone") if initialized else timezone) or "UTC"
    if timezone is not None:
        store._check_timezone(con, timezone)
    tz = timezone or store_tz
    stages: list[Stage] = []
    try:
        width = limits.max_properties_per_import
        for i, file in enumerate(files):
            try:
                stages.append(_stage(con, file, f"_stage{i}", tz, width, before_read))
            except OSError as exc:
                raise DataImportError(f"{file}: cannot read it: {exc.strerror or exc}") from exc
        before_read()
        _check_width(files, stages, limits)
        skipped, reasons = _drop_bad_records(con, stages, skip_invalid)
        loaded = _load_all(con, stages, initialized, store_tz, digests, limits.max_store_properties)
        return ImportSummary(loaded, skipped, reasons)
    except DataImportError:
        before_read()  # a file the store holds is named before anything wrong in it
        raise
    finally:
        for st in stages:
            con.execute(f"DROP TABLE IF EXISTS {st.table}")


class _Digesting:
    """The SHA-256 of every file (see `_digests`), computed in a thread of its own."""

    def __init__(self, files: list[Path]) -> None:
        self._digests: list[str] = []
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(files,), daemon=True)
        self._thread.start()

    def _run(self, files: list[Path]) -> None:
        try:
            self._digests = _digests(files)
        except BaseException as exc:  # handed to the caller by result()
            self._error = exc

    def result(self) -> list[str]:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._digests


def _drop_bad_records(
    con: duckdb.DuckDBPyConnection, stages: list[Stage], skip_invalid: bool
) -> tuple[int, tuple[str, ...]]:
    """Raise on the first bad record, or (with `skip_invalid`) drop them all and say why."""
    reasons: list[str] = []
    skipped = 0
    for st in stages:
        count = bad_count(con, st.table)
        if not count:
            continue
        bad = con.execute(
            f"SELECT line, reason FROM {st.table} WHERE reason IS NOT NULL ORDER BY line LIMIT ?",
            [MAX_REASONS],
        ).fetchall()
        if not skip_invalid:
            line, reason = bad[0]
            more = f" (and {count - 1} more bad records)" if count > 1 else ""
            raise DataImportError(f"{_where(st, line)}: {printable(reason)}{more}")
        skipped += count
        reasons.extend(f"{_where(st, line)}: {printable(reason)}" for line, reason in bad)
        con.execute(f"DELETE FROM {st.table} WHERE reason IS NOT NULL")
    return skipped, tuple(reasons[:MAX_REASONS])


def _digests(files: list[Path]) -> list[str]:
    """The SHA-256 of every file, read in blocks."""
    digests = []
    for file in files:
        digest = hashlib.sha256()
        try:
            with file.open("rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
        except OSError as exc:
            raise DataImportError(f"{file}: cannot read it: {exc.strerror or exc}") from exc
        digests.append(digest.hexdigest())
    return digests


def _refuse_duplicates(
    con: duckdb.DuckDBPyConnection, files: list[Path], digests: list[str], initialized: bool
) -> None:
    """Refuse a file whose content the store already holds (or that is given twice)."""
    held: dict[str, str] = {}
    if initialized and _has_file_table(con):
        rows = con.execute(
            "SELECT digest, name FROM imported_files WHERE digest IN (SELECT unnest($d))",
            {"d": digests},
        ).fetchall()
        held = {str(d): str(n) for d, n in rows}
    for file, digest in zip(files, digests, strict=True):
        if digest in held:
            raise DataImportError(
                f"{file}: the store already holds this file's events (imported as"
                f" {printable(held[digest])}); pass --allow-duplicate-file to load them again"
            )
        held[digest] = str(file)


def _has_file_table(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'imported_files'"
    ).fetchone()
    return bool(row and row[0])


def _check_width(files: list[Path], stages: list[Stage], limits: ImportLimits) -> None:
    """Refuse an import whose files bring more distinct properties than one import may."""
    found = {(prop.scope, prop.name) for st in stages for prop in st.props}
    if len(found) > limits.max_properties_per_import:
        raise DataImportError(
            f"{len(found)} distinct properties in {len(files)} files, more than"
            f" {limits.max_properties_per_import} per import"
            " (raise the limit with --max-properties-per-import)"
        )


def _check_store_width(
    con: duckdb.DuckDBPyConnection, wanted: list[tuple[str, str, str]], limit: int
) -> None:
    held = {
        (str(a), str(b), str(c))
        for a, b, c in con.execute("SELECT scope, name, type FROM props").fetchall()
    }
    new = len(set(wanted) - held)
    if new and len(held) + new > limit:
        raise DataImportError(
            f"the store would hold {len(held) + new} property columns ({len(held)} now, {new}"
            f" new; one per property and value type), more than {limit}"
            " (raise the limit with --max-store-properties)"
        )


def _where(st: Stage, line: int) -> str:
    """FILE:LINE, or FILE: record N for the records of a JSON document (they have no line)."""
    return f"{st.file}: record {line}" if st.unit == "record" else f"{st.file}:{line}"


def _load_all(
    con: duckdb.DuckDBPyConnection,
    stages: list[Stage],
    initialized: bool,
    store_tz: str,
    digests: list[str],
    max_store_properties: int,
) -> int:
    loaded = 0
    con.execute("BEGIN TRANSACTION")
    try:
        if not initialized:
            store.ensure_schema(con, store_tz)
        for st in stages:
            loaded += _load(con, st, max_store_properties)
        store.refresh_profiles(con)
        store.bump_generation(con)
        _record_files(con, stages, digests)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return loaded


def _record_files(con: duckdb.DuckDBPyConnection, stages: list[Stage], digests: list[str]) -> None:
    """Keep each file's digest, so that importing it again is noticed."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS imported_files (digest VARCHAR, name VARCHAR,"
        " generation INTEGER)"
    )
    generation = store.get_meta(con, "generation") or "0"
    con.execute(
        "INSERT INTO imported_files SELECT unnest($d), unnest($n), $g",
        {"d": digests, "n": [str(st.file) for st in stages], "g": int(generation)},
    )


def summarize_reasons(summary: ImportSummary) -> list[tuple[str, int]]:
    """Skip reasons without their locations, most frequent first."""
    counts = Counter(r.split(": ", 1)[-1] for r in summary.reasons)
    return counts.most_common()


# -- staging: every format becomes (line, event_name, ts, identity, reason, s1, s2, ...) --------


def _stage(
    con: duckdb.DuckDBPyConnection,
    file: Path,
    table: str,
    tz: str,
    max_properties: int,
    before_read: Callable[[], None],
) -> Stage:
    suffix = file.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return stage_jsonl(con, file, table, tz, max_properties, before_read)
    if suffix == ".json":
        return stage_json(con, file, table, tz, max_properties, before_read)
    if suffix in (".csv", ".parquet", ".pq"):
        from reportkit.store.flatfiles import stage_flat

        before_read()
        return stage_flat(con, file, table, tz, max_properties)
    raise DataImportError(f"{file}: unknown format (expected .jsonl, .csv or .parquet)")


# -- loading a validated stage ------------------------------------------------------------------


def _load(con: duckdb.DuckDBPyConnection, st: Stage, max_store_properties: int) -> int:
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
    used = [
        ((prop.scope, prop.name, typ), stage_col)
        for prop in st.props
        for typ, stage_col in prop.stage_cols.items()
        if next(held)
    ]
    _check_store_width(con, [key for key, _ in used], max_store_properties)
    columns = store.add_columns(con, [key for key, _ in used])
    event_cols: list[tuple[str, str]] = []  # (store column, stage column)
    profile_cols: list[tuple[str, str]] = []
    for key, stage_col in used:
        column = columns[key]
        target = event_cols if column.table == "events" else profile_cols
        target.append((column.col, stage_col))
    store.ensure_event_names(con, st.table)
    store.ensure_identities(con, st.table)
    day, hour = _local_day_hour("s.ts", tz)
    names = "".join(f", {c}" for c, _ in event_cols)
    values = "".join(f", s.{s}" for _, s in event_cols)
    con.execute(
        f"""INSERT INTO events (eid, day, ts, pid, hour{names})
        SELECT n.eid, {day}, s.ts, i.pid, {hour}{values}
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


def _local_day_hour(ts: str, tz: str) -> tuple[str, str]:
    """SQL for the local date and hour of day of epoch seconds `ts` in `tz`: by arithmetic in
    UTC (the same answers as the time zone library's, a fifth of its time), else by it."""
    if tz == "UTC":
        days = f"floor({ts} / 86400)"
        return (
            f"DATE '1970-01-01' + CAST({days} AS INTEGER)",
            f"CAST(floor(({ts} - {days} * 86400) / 3600) AS TINYINT)",
        )
    local = f"timezone({lit(tz)}, to_timestamp({ts}))"
    return f"CAST({local} AS DATE)", f"hour({local})"
