"""Stage tables: what every reader of event files produces, and the SQL pieces they share.

A stage has one row per record: `line` (its place in the file), `event_name`, `ts` (epoch
seconds), `identity`, `reason` (NULL when the record is good, else why not) and typed value
columns `s<k>_<type>` described by its `Prop`s. The importer drops or reports the bad rows and
loads the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from reportkit.store import sql_literal as lit
from reportkit.text import REPLACEMENT, inert_text, shorten

if TYPE_CHECKING:
    import duckdb

MAX_REASON_CHARS = 200  # a reason quotes the bad value; a 10 MB value is cut short
DATE_RE = r"^\$D_-?[0-9]+$"
NUMERIC = ("BIGINT", "UBIGINT", "DOUBLE", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "FLOAT")


@dataclass(frozen=True, slots=True)
class Prop:
    """A property of the staged file and its stage column per value type."""

    scope: str
    name: str
    stage_cols: dict[str, str]  # type -> staging column


@dataclass(frozen=True, slots=True)
class Stage:
    """A staged file: its stage table and properties."""

    file: Path
    table: str
    props: tuple[Prop, ...]
    unit: str  # "line" or "row", for messages


class Params:
    """Named SQL parameters, so that keys and messages never have to be quoted into SQL."""

    def __init__(self) -> None:
        self.values: dict[str, object] = {}

    def __call__(self, value: object) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f"${name}"


def check_property_count(file: Path, count: int, limit: int) -> None:
    """Refuse a file with more distinct properties than an import may add (see
    docs/reliability.md): the work of staging and storing grows with them."""
    if count > limit:
        from reportkit.errors import DataImportError

        raise DataImportError(
            f"{file}: {count} distinct properties, more than {limit} per import"
            " (raise the limit with --max-properties-per-import)"
        )


def bad_count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    row = con.execute(f"SELECT count(*) FROM {table} WHERE reason IS NOT NULL").fetchone()
    return int(row[0]) if row else 0


def pointer(*parts: str) -> str:
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def epoch_sql(text: str, tz: str, *, integer: bool = False) -> str:
    """SQL for epoch seconds from the text of a timestamp (digits only), NULL when invalid.
    `integer`: `text` is known to be an integer's text (a JSON integer's), which needs no check
    for other characters than digits and a leading minus."""
    if integer:
        number = f"CASE WHEN NOT starts_with({text}, '-') THEN TRY_CAST({text} AS BIGINT) END"
    else:
        number = f"CASE WHEN regexp_matches({text}, '^[0-9]+$') THEN TRY_CAST({text} AS BIGINT) END"
    local = f"try_strptime({text}, '%Y%m%d%H%M%S')"
    # a TIMESTAMP's epoch is its UTC reading: in UTC, no time zone library is needed
    seconds = f"epoch({local})" if tz == "UTC" else f"epoch(timezone({lit(tz)}, {local}))"
    return (
        f"CASE WHEN ({number}) BETWEEN 10000101000000 AND 99991231235959 THEN {seconds}::BIGINT"
        f" WHEN ({number}) BETWEEN 0 AND 9999999999 THEN ({number}) END"
    )


def quote(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def printable(text: str) -> str:
    """One line of reasonable length: the characters that never reach a terminal as themselves
    (text.inert_text) and line breaks replaced by U+FFFD, long values cut."""
    one_line = inert_text(text).replace("\r", REPLACEMENT).replace("\n", REPLACEMENT)
    return shorten(one_line, MAX_REASON_CHARS)


def first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return printable(lines[0]) if lines else type(exc).__name__
