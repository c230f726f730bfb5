"""YAML report definitions -> typed `Report`s, with every problem located as FILE:LINE:COLUMN.

Only this module sees raw YAML. It composes the YAML into nodes (to know where every key stands),
builds plain data from them while refusing duplicate keys and runaway alias expansion, checks the
data against `schemas/report.schema.json` (JSON Schema 2020-12), applies the rules a schema cannot
say (timezones, date order, unique ids), and only then builds dataclasses.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from reportkit.assets import report_schema_path
from reportkit.errors import InvalidInput, SpecError, WindowError
from reportkit.model import (
    DeliverSpec,
    EmailSpec,
    Group,
    OutputSpec,
    Query,
    Report,
    WindowSpec,
)

MAX_NODES = 20_000  # a definition is a few hundred values; more means an alias bomb or a mistake
MAX_DEPTH = 40
MAX_BYTES = 2_000_000

PathKey = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class _Doc:
    """Plain data from one YAML file and where each of its keys and items stands (1-based)."""

    data: Any
    positions: dict[PathKey, tuple[int, int]]


class _Located(Exception):
    def __init__(self, line: int, column: int, message: str) -> None:
        super().__init__(message)
        self.line, self.column, self.message = line, column, message


# --------------------------------------------------------------------------- reading YAML


def _read_yaml(path: Path, text: str) -> _Doc:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise _Located(1, 1, "the file is empty: a report needs version, title and queries")
        if not isinstance(node, yaml.MappingNode):
            raise _Located(
                node.start_mark.line + 1,
                node.start_mark.column + 1,
                "a report must be a mapping of keys (version, title, queries ...), "
                f"not {_node_kind(node)}",
            )
        positions: dict[PathKey, tuple[int, int]] = {(): (1, 1)}
        budget = [MAX_NODES]
        data = _build(node, (), positions, loader, budget, 0)
        return _Doc(data, positions)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        raise _Located(line, column, f"YAML syntax error: {problem}") from exc
    except yaml.YAMLError as exc:
        raise _Located(1, 1, f"YAML error: {' '.join(str(exc).split())}") from exc
    finally:
        loader.dispose()


def _node_kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return f"a single value ({str(node.value)[:40]!r})"


def _build(
    node: yaml.Node,
    path: PathKey,
    positions: dict[PathKey, tuple[int, int]],
    loader: yaml.SafeLoader,
    budget: list[int],
    depth: int,
) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        raise _Located(
            node.start_mark.line + 1,
            node.start_mark.column + 1,
            f"the definition expands to more than {MAX_NODES} values "
            "(an alias expanding exponentially?)",
        )
    if depth > MAX_DEPTH:
        raise _Located(
            node.start_mark.line + 1,
            node.start_mark.column + 1,
            f"the definition is nested more than {MAX_DEPTH} levels deep",
        )
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)  # resolves `<<: *anchor` merge keys
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise _Located(
                    key_node.start_mark.line + 1,
                    key_node.start_mark.column + 1,
                    "a key must be a plain value, not a list or mapping",
                )
            key = str(key_node.value)
            where = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if key in out:
                first = positions[(*path, key)]
                raise _Located(*where, f"duplicate key {key!r} (first given at line {first[0]})")
            positions[(*path, key)] = where
            out[key] = _build(value_node, (*path, key), positions, loader, budget, depth + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for index, item in enumerate(node.value):
            positions[(*path, index)] = (item.start_mark.line + 1, item.start_mark.column + 1)
            items.append(_build(item, (*path, index), positions, loader, budget, depth + 1))
        return items
    # PyYAML reads 2026-11-01 as a date (and fails on 2026-02-30): keep dates as the text written,
    # which the schema's date format then checks.
    if node.tag == "tag:yaml.org,2002:timestamp":
        return str(node.value)
    try:
        return loader.construct_object(node, deep=True)
    except (ValueError, OverflowError) as exc:
        raise _Located(
            node.start_mark.line + 1, node.start_mark.column + 1, f"cannot read value: {exc}"
        ) from exc


# --------------------------------------------------------------------------- schema


@lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    with report_schema_path().open(encoding="utf-8") as handle:
        schema: dict[str, Any] = json.load(handle)
    return schema


@lru_cache(maxsize=1)
def _validator() -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER)


def display_path(path: Iterable[str | int]) -> str:
    """`("queries", 2, "groups", "city")` -> `queries[2].groups.city`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part):
            out += f".{part}" if out else part
        else:
            out += f"[{part!r}]"
    return out or "(top level)"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _schema_problems(data: Any) -> Iterator[tuple[PathKey, str]]:
    for error in _validator().iter_errors(data):
        yield from _describe(error)


def _describe(error: Any) -> Iterator[tuple[PathKey, str]]:
    path: PathKey = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    custom = schema.get("errorMessage")
    kind = error.validator
    if kind == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(schema.get("properties", {}))
        for key in sorted(set(error.instance) - set(allowed)):
            hint = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            suffix = f"; did you mean {hint[0]!r}?" if hint else f" (allowed: {', '.join(allowed)})"
            yield (*path, key), f"unknown key {key!r}{suffix}"
        return
    if kind == "required":
        for key in error.validator_value:
            if isinstance(error.instance, dict) and key not in error.instance:
                note = f" ({custom})" if custom else ""
                yield path, f"missing required key {key!r}{note}"
        return
    if kind == "not" and custom and "required" in error.validator_value:
        yield (*path, error.validator_value["required"][0]), custom
        return
    if custom:
        yield path, f"{_short(error.instance)} {custom}"
        return
    if kind in ("anyOf", "oneOf") and error.context:
        from jsonschema.exceptions import relevance

        # Explain the branch written for this kind of value (a string window vs {from, to}).
        fitting = [
            e
            for e in error.context
            if _fits(error.validator_value[e.relative_schema_path[0]], error.instance)
        ]
        if fitting:
            yield from _describe(max(fitting, key=relevance))
            return
        kinds = [
            str(b["type"]) for b in error.validator_value if isinstance(b, dict) and "type" in b
        ]
        if kinds and len(kinds) == len(error.validator_value):
            names = " or ".join(_article(k) for k in kinds)
            yield path, f"expected {names}, got {_json_type(error.instance)}"
            return
    if kind == "enum":
        options = [str(option) for option in error.validator_value]
        hint = difflib.get_close_matches(str(error.instance), options, n=1, cutoff=0.6)
        suffix = f"; did you mean {hint[0]!r}?" if hint else ""
        yield path, f"{_short(error.instance)} is not one of {', '.join(options)}{suffix}"
        return
    if kind in ("minItems", "minProperties"):
        noun = "item" if kind == "minItems" else "entry"
        count = error.validator_value
        yield path, f"needs at least {count} {noun}{'s' if count != 1 else ''}"
        return
    if kind == "const":
        yield path, f"must be {error.validator_value!r}, not {_short(error.instance)}"
        return
    if kind == "type":
        expected = error.validator_value
        names = (
            " or ".join(_article(k) for k in expected)
            if isinstance(expected, list)
            else _article(expected)
        )
        yield path, f"expected {names}, got {_json_type(error.instance)}"
        return
    yield path, error.message if len(error.message) <= 200 else error.message[:197] + "..."


def _fits(branch: Any, instance: Any) -> bool:
    kind = branch.get("type") if isinstance(branch, dict) else None
    types = {"string": str, "object": dict, "array": list, "boolean": bool}
    if kind == "integer":
        return isinstance(instance, int) and not isinstance(instance, bool)
    return kind in types and isinstance(instance, types[kind])


def _article(word: str) -> str:
    word = {"object": "mapping", "array": "list"}.get(word, word)
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


def _json_type(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    if value is None:
        return "nothing (null)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{names.get(type(value), type(value).__name__)} ({_short(value)})"


# --------------------------------------------------------------------------- rules and building


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _parse_date(value: str | int) -> date:
    text = str(value)
    try:
        if isinstance(value, int):
            return datetime.strptime(text, "%Y%m%d").date()
        return date.fromisoformat(text)
    except ValueError as exc:
        raise WindowError(f"{_short(value)} is not a date: write YYYY-MM-DD or YYYYMMDD") from exc


def _window(raw: Any) -> WindowSpec:
    if isinstance(raw, str):
        return WindowSpec(token=raw)
    start, end = _parse_date(raw["from"]), _parse_date(raw["to"])
    if start > end:
        raise WindowError(f"window from {start.isoformat()} is after to {end.isoformat()}")
    return WindowSpec(start=start, end=end)


def _check_timezone(name: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        hint = difflib.get_close_matches(name, sorted(available_timezones()), n=1)
        suffix = (
            f"; did you mean {hint[0]!r}?" if hint else " (write an IANA name like Europe/Berlin)"
        )
        raise WindowError(f"unknown timezone {name!r}{suffix}") from exc


def _as_tuple(value: str | list[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


class _Builder:
    """Builds a `Report` from schema-valid data, collecting located rule violations."""

    def __init__(self, path: Path, doc: _Doc) -> None:
        self.path, self.doc = path, doc
        self.problems: list[tuple[PathKey, str]] = []

    def problem(self, where: PathKey, message: str) -> None:
        self.problems.append((where, message))

    def window(self, raw: Any, where: PathKey) -> WindowSpec:
        try:
            return _window(raw)
        except WindowError as exc:
            self.problem(where, str(exc))
            return WindowSpec(token="last_7_days")

    def build(self) -> Report:
        data: dict[str, Any] = self.doc.data
        report_id = data.get("id") or _slug(self.path.stem).replace("_", "-") or "report"
        timezone = data.get("timezone", "UTC")
        try:
            _check_timezone(timezone)
        except WindowError as exc:
            self.problem(("timezone",), str(exc))
        window = self.window(data.get("window", "last_7_days"), ("window",))
        include_today = bool(data.get("include_today", False))
        queries: list[Query] = []
        seen: dict[str, int] = {}
        for index, raw in enumerate(data["queries"]):
            for query in self.queries(raw, index, window, include_today):
                if query.id in seen:
                    first = self.doc.positions.get(("queries", seen[query.id]), (0, 0))[0]
                    self.problem(
                        ("queries", index, "id"),
                        f"duplicate query id {query.id!r} (first used at line {first})",
                    )
                seen.setdefault(query.id, index)
                queries.append(query)
        return Report(
            id=report_id,
            title=data["title"],
            description=data.get("description", ""),
            timezone=timezone,
            week_start=data.get("week_start", "monday"),
            window=window,
            include_today=include_today,
            compare=data.get("compare"),
            queries=tuple(queries),
            output=self.output(data.get("output", {})),
            deliver=self.deliver(data.get("deliver", {})),
            path=self.path,
        )

    def queries(
        self, raw: dict[str, Any], index: int, default: WindowSpec, include_today: bool
    ) -> Iterator[Query]:
        where: PathKey = ("queries", index)
        events = raw["event"] if isinstance(raw["event"], list) else [raw["event"]]
        window = self.window(raw["window"], (*where, "window")) if "window" in raw else default
        groups = tuple(
            Group(
                key=key,
                property_type=group["property_type"],
                name=group["name"],
                top_n=group.get("top_n", 10),
                order=group.get("order", "desc"),
            )
            for key, group in raw.get("groups", {}).items()
        )
        title = raw.get("title", raw["id"])
        for event in events:
            many = len(events) > 1
            yield Query(
                id=f"{raw['id']}.{_slug(event) or len(event)}" if many else raw["id"],
                title=f"{title}: {event}" if many else title,
                event=event,
                kind=raw.get("kind", "top"),
                window=window,
                include_today=raw.get("include_today", include_today),
                groups=groups,
                unique=raw.get("unique", False),
                granularity=raw.get("granularity", "daily"),
                sum_event_prop=raw.get("sum_event_prop"),
                chart=raw.get("chart"),
                description=raw.get("description", ""),
            )

    def output(self, raw: dict[str, Any]) -> OutputSpec:
        template = None
        if "template" in raw:
            template = (self.path.parent / raw["template"]).resolve()
            if not template.is_dir():
                self.problem(
                    ("output", "template"), f"template folder {raw['template']!r} does not exist"
                )
        return OutputSpec(
            formats=tuple(raw.get("formats", ("html", "pdf", "md"))),
            template=template,
            paper=raw.get("paper", "A4"),
            orientation=raw.get("orientation", "portrait"),
        )

    def deliver(self, raw: dict[str, Any]) -> DeliverSpec:
        email = raw.get("email")
        if email is None:
            return DeliverSpec()
        return DeliverSpec(
            email=EmailSpec(
                to=_as_tuple(email["to"]),
                cc=_as_tuple(email.get("cc")),
                bcc=_as_tuple(email.get("bcc")),
                subject=email.get("subject", "{{ report.title }}"),
                body=email.get("body"),
                attach=tuple(email.get("attach", ("pdf",))),
                body_format=email.get("body_format", "text"),
                send_if=email.get("send_if", "always"),
                on_failure=_as_tuple(email.get("on_failure")),
            )
        )


# --------------------------------------------------------------------------- public API


def _locate(path: Path, doc: _Doc, where: PathKey, message: str) -> str:
    probe = where
    while probe not in doc.positions and probe:
        probe = probe[:-1]
    line, column = doc.positions.get(probe, (1, 1))
    return f"{path}:{line}:{column}: {display_path(where)}: {message}"


def parse_report(text: str | bytes, path: Path) -> Report:
    """Parse and check one definition's text; raise `SpecError` listing every problem."""
    if isinstance(text, bytes):
        if len(text) > MAX_BYTES:
            raise SpecError([f"{path}:1:1: the file is larger than {MAX_BYTES // 1_000_000} MB"])
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SpecError([f"{path}:1:{exc.start + 1}: the file is not UTF-8 text"]) from exc
    try:
        doc = _read_yaml(path, text)
    except _Located as exc:
        raise SpecError([f"{path}:{exc.line}:{exc.column}: {exc.message}"]) from None
    problems = sorted(_schema_problems(doc.data), key=lambda p: _order(doc, p[0]))
    if problems:
        raise SpecError([_locate(path, doc, where, message) for where, message in problems])
    builder = _Builder(path, doc)
    report = builder.build()
    if builder.problems:
        ordered = sorted(builder.problems, key=lambda p: _order(doc, p[0]))
        raise SpecError([_locate(path, doc, where, message) for where, message in ordered])
    return report


def _order(doc: _Doc, where: PathKey) -> tuple[int, int]:
    probe = where
    while probe not in doc.positions and probe:
        probe = probe[:-1]
    return doc.positions.get(probe, (1, 1))


def load_report(path: Path) -> Report:
    """Read, check and build the report defined in `path`."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SpecError([f"{path}:1:1: cannot read the file: {exc.strerror or exc}"]) from exc
    return parse_report(raw, path)


def find_report_files(paths: Sequence[Path]) -> list[Path]:
    """Expand folders into the .yaml/.yml files below them, in a stable order."""
    files: list[Path] = []
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
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise InvalidInput(f"{path}: no such file or folder")
    return files


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
