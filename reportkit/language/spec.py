"""YAML report definitions -> typed `Report`s, with every problem located as FILE:LINE:COLUMN.

Only this module (through its reader, `yamldoc.py`) sees raw YAML. The reader turns the text into
plain data and the position of every key, refusing what a definition never holds (tags, loops,
alias bombs, duplicate keys); `schema_check.py` checks the data against
`schemas/report.schema.json` (JSON Schema 2020-12); `building.py` applies the rules a schema cannot
say (timezones, date order, unique ids) and only then builds dataclasses. This module reads files,
runs those steps and locates what they find. Every message is one line, whatever it echoes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reportkit.errors import InvalidInput, SpecError, WindowError, one_line
from reportkit.language.building import ReportBuilder, check_timezone, window_spec
from reportkit.language.model import (
    Report,
)
from reportkit.language.schema_check import display_path, schema_problems
from reportkit.language.yamldoc import Doc, PathKey, YamlProblem, read_yaml

MAX_BYTES = 2_000_000


# --------------------------------------------------------------------------- public API


def _spec_error(lines: Iterable[str]) -> SpecError:
    # One problem reached by two schema routes prints once.
    return SpecError(list(dict.fromkeys(one_line(line) for line in lines)))


def _locate(path: Path, doc: Doc, where: PathKey, message: str) -> str:
    line, column = _order(doc, where)
    return f"{path}:{line}:{column}: {display_path(where)}: {message}"


def _decode(raw: bytes, path: Path) -> str:
    if len(raw) > MAX_BYTES:
        raise _spec_error([f"{path}: the file is larger than {MAX_BYTES // 1_000_000} MB"])
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _spec_error([f"{path}:1:1: the file is UTF-16 text: save it as UTF-8"])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = raw.rfind(b"\n", 0, exc.start) + 1
        column = len(raw[line_start : exc.start].decode("utf-8", "replace")) + 1
        line = raw.count(b"\n", 0, exc.start) + 1
        byte = raw[exc.start]
        raise _spec_error(
            [f"{path}:{line}:{column}: the file is not UTF-8 text (byte 0x{byte:02x})"]
        ) from None


def parse_report(text: str | bytes, path: Path, *, template_roots: Sequence[Path] = ()) -> Report:
    """Parse and check one definition's text; raise `SpecError` listing every problem.
    `template_roots`: folders besides the definition's repository that `output.template` may
    be in (a revision checked out without its .git, for `reportkit diff`)."""
    if isinstance(text, bytes):
        text = _decode(text, path)
    try:
        doc = read_yaml(text)
    except YamlProblem as exc:
        raise _spec_error([f"{path}:{exc.line}:{exc.column}: {exc.message}"]) from None
    problems = list(schema_problems(doc.data))
    if problems:
        # the date and timezone rules too, where the schema found nothing: one pass, not two
        problems += _rule_problems(doc.data, [where for where, _ in problems])
        problems.sort(key=lambda p: _order(doc, p[0]))
        raise _spec_error(_locate(path, doc, where, message) for where, message in problems)
    builder = ReportBuilder(path, doc, template_roots)
    report = builder.build()
    if builder.problems:
        ordered = sorted(builder.problems, key=lambda p: _order(doc, p[0]))
        raise _spec_error(_locate(path, doc, where, message) for where, message in ordered)
    return report


def _rule_problems(data: Any, flagged: Sequence[PathKey]) -> list[tuple[PathKey, str]]:
    """Windows and the timezone checked beside schema problems, where the schema found none
    at or under them (the builder checks them again once the schema is satisfied)."""

    def clean(where: PathKey) -> bool:
        return not any(f[: len(where)] == where for f in flagged)

    found: list[tuple[PathKey, str]] = []
    if not isinstance(data, dict):
        return found
    checks: list[tuple[PathKey, Any]] = []
    if "window" in data:
        checks.append((("window",), data["window"]))
    queries = data.get("queries")
    for index, raw in enumerate(queries if isinstance(queries, list) else []):
        if isinstance(raw, dict) and "window" in raw:
            checks.append((("queries", index, "window"), raw["window"]))
    for where, raw in checks:
        if clean(where) and (exc := _window_error(raw)) is not None:
            found.append((where, str(exc)))
    timezone = data.get("timezone")
    if isinstance(timezone, str) and clean(("timezone",)):
        try:
            check_timezone(timezone)
        except WindowError as exc:
            found.append((("timezone",), str(exc)))
    return found


def _window_error(raw: Any) -> WindowError | None:
    try:
        window_spec(raw)
    except WindowError as exc:
        return exc
    except (KeyError, TypeError):
        return None
    return None


def _order(doc: Doc, where: PathKey) -> tuple[int, int]:
    probe = where
    while probe not in doc.positions and probe:
        probe = probe[:-1]
    return doc.positions.get(probe, (1, 1))


def load_report(path: Path, *, template_roots: Sequence[Path] = ()) -> Report:
    """Read, check and build the report defined in `path`."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)  # never more: a definition is a few kB
    except OSError as exc:
        raise _spec_error([f"{path}: cannot read the file: {exc.strerror or exc}"]) from exc
    return parse_report(raw, path, template_roots=template_roots)


def find_report_files(paths: Sequence[Path]) -> list[Path]:
    """Expand folders into the .yaml/.yml files below them, in a stable order.

    A definition must really be a YAML file inside its folder (the folder named, or the folder
    a named file sits in): a symlink that leads elsewhere (to `../.env`), or a file whose real
    name is not .yaml/.yml, is refused before a byte of it is read, so no error can quote it."""
    files: list[Path] = []
    refused: list[str] = []
    for path in paths:
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.suffix in (".yaml", ".yml")
                and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not found:
                raise InvalidInput(f"{path}: no .yaml or .yml report definitions in this folder")
            for file in found:
                problem = _confinement_problem(file, path)
                if problem:
                    refused.append(problem)
                else:
                    files.append(file)
        elif path.is_file():
            problem = _confinement_problem(path, path.parent)
            if problem:
                refused.append(problem)
            else:
                files.append(path)
        else:
            raise InvalidInput(f"{path}: no such file or folder")
    if refused:
        raise _spec_error(refused)
    return files


def _confinement_problem(file: Path, folder: Path) -> str | None:
    real = file.resolve()
    if not real.is_relative_to(folder.resolve()):
        return f"{file}: leads outside {folder} (a symlink): refused, nothing of it was read"
    if real.suffix not in (".yaml", ".yml"):
        return f"{file}: is not a .yaml or .yml file: refused, nothing of it was read"
    return None


def load_reports(paths: Sequence[Path]) -> list[Report]:
    """Load every definition under `paths`; raise one `SpecError` listing every problem."""
    reports: list[Report] = []
    problems: list[str] = []
    for file in find_report_files(paths):
        try:
            reports.append(load_report(file))
        except SpecError as exc:
            problems.extend(exc.problems)
    if problems:
        raise SpecError(problems)
    ids: dict[str, Path] = {}
    for report in reports:
        if report.id in ids:
            problems.append(
                f"{report.path}:1:1: id: report id {report.id!r} is also used by {ids[report.id]}"
            )
        ids.setdefault(report.id, report.path or Path("?"))
    if problems:
        raise SpecError(problems)
    return reports


# --------------------------------------------------------------------------- names used


@dataclass(frozen=True, slots=True)
class NameReference:
    """An event or property name a definition uses, and where: `located` is the
    `FILE:LINE:COLUMN: path` prefix of a problem about it. `scope` is None for an event."""

    located: str
    name: str
    scope: str | None = None


def name_references(path: Path) -> list[NameReference]:
    """Every event name and property name (groups, sum_event_prop) that a valid definition uses,
    located, in file order."""
    text = _decode(path.read_bytes()[: MAX_BYTES + 1], path)
    doc = read_yaml(text)

    def at(where: PathKey) -> str:
        line, column = _order(doc, where)
        return f"{path}:{line}:{column}: {display_path(where)}"

    found: list[NameReference] = []
    for index, raw in enumerate(doc.data.get("queries", [])):
        event = raw.get("event")
        if isinstance(event, list):
            found += [
                NameReference(at(("queries", index, "event", i)), e) for i, e in enumerate(event)
            ]
        elif isinstance(event, str):
            found.append(NameReference(at(("queries", index, "event")), event))
        for key, group in (raw.get("groups") or {}).items():
            located = at(("queries", index, "groups", key, "name"))
            found.append(NameReference(located, group["name"], group["property_type"]))
        if isinstance(raw.get("sum_event_prop"), str):
            located = at(("queries", index, "sum_event_prop"))
            found.append(NameReference(located, raw["sum_event_prop"], "event_properties"))
    return found
