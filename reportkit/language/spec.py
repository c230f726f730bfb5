"""YAML report definitions -> typed `Report`s, with every problem located as FILE:LINE:COLUMN.

Only this module (through its reader, `yamldoc.py`) sees raw YAML. The reader turns the text into
plain data and the position of every key, refusing what a definition never holds (tags, loops,
alias bombs, duplicate keys); this module checks the data against `schemas/report.schema.json`
(JSON Schema 2020-12), applies the rules a schema cannot say (timezones, date order, unique ids),
and only then builds dataclasses. Every message is one line, whatever the values it echoes.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from reportkit.assets import report_schema_path
from reportkit.errors import InvalidInput, SpecError, WindowError, one_line
from reportkit.language.model import (
    FILTER_LISTS,
    OPERATORS,
    PRESENCE_OPERATORS,
    Check,
    DeliverSpec,
    EmailSpec,
    Filter,
    FilterValue,
    Group,
    OutputSpec,
    Query,
    Report,
    SlackSpec,
    WebhookSpec,
    WindowSpec,
)
from reportkit.language.windows import MAX_TREND_POINTS, fewest_trend_points
from reportkit.language.yamldoc import Doc, PathKey, YamlProblem, clip, read_yaml

MAX_BYTES = 2_000_000


# --------------------------------------------------------------------------- schema


@lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    with report_schema_path().open(encoding="utf-8") as handle:
        schema: dict[str, Any] = json.load(handle)
    return schema


@lru_cache(maxsize=1)
def _validator() -> Any:
    from jsonschema import Draft202012Validator, validators

    checker = validators.extend(Draft202012Validator, {"pattern": _check_pattern})
    return checker(_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER)


def _check_pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    from jsonschema.exceptions import ValidationError

    if validator.is_type(instance, "string") and not ecma_regex(pattern).search(instance):
        yield ValidationError(f"{clip(instance)} does not match {pattern!r}")


@lru_cache(maxsize=64)
def ecma_regex(pattern: str) -> re.Pattern[str]:
    r"""Compile a schema pattern with the JSON Schema (ECMA-262) meaning of `$`: end of text.

    In Python `$` also matches before a final newline, so `^[a-z]+$` would take "abc\n". Every
    `$` outside a character class becomes `\Z`; the schema stays the ECMA regex editors read.
    """
    out: list[str] = []
    in_class = escaped = False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "$":
            char = r"\Z"
        out.append(char)
    return re.compile("".join(out))


def display_path(path: Iterable[str | int]) -> str:
    """`("queries", 2, "groups", "city")` -> `queries[2].groups.city`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,59}", part):
            out += f".{part}" if out else part
        else:
            out += f"[{clip(part)}]"
    return out or "(top level)"


def _schema_problems(data: Any) -> Iterator[tuple[PathKey, str]]:
    errors = list(_validator().iter_errors(data))
    # A value of the wrong type gets one message: "expected an integer" says it all for `.inf`,
    # without "inf is greater than the maximum of 100" as well.
    mistyped = {tuple(e.absolute_path) for e in errors if e.validator == "type"}
    problems = [
        problem
        for error in errors
        if error.validator == "type" or tuple(error.absolute_path) not in mistyped
        for problem in _describe(error)
    ]
    # A misspelt required key (`gropus:`) is one mistake: say only "unknown key 'gropus'; did
    # you mean 'groups'?" at the misspelt key, not also "missing required key 'groups'".
    suggested = {
        (where[:-1], message.rsplit("did you mean ", 1)[1].rstrip("?"))
        for where, message in problems
        if where and message.startswith("unknown key ") and "; did you mean " in message
    }
    for where, message in problems:
        missing = _MISSING.match(message)
        if missing and (where, missing.group(1)) in suggested:
            continue
        yield where, message


_YAML11_BOOLS = frozenset({"yes", "no", "on", "off", "y", "n"})
_MISSING = re.compile(r"missing required key ('[^']*')")


# Enum values a mistaken value means, where its spelling would point elsewhere:
# `previous_week` is closest to `previous_year` by letters but means `previous_period`.
_MEANT = {
    "previous_period": re.compile(
        r"(previous|prior|last|preceding)_(day|week|month|quarter|period|window)s?", re.I
    ),
}


def _describe(error: Any) -> Iterator[tuple[PathKey, str]]:
    path: PathKey = tuple(error.absolute_path)
    if "propertyNames" in error.schema_path and isinstance(error.instance, str):
        path = (*path, error.instance)  # point at the key, not at the mapping holding it
    schema = error.schema if isinstance(error.schema, dict) else {}
    custom = schema.get("errorMessage")
    kind = error.validator
    if kind == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(schema.get("properties", {}))
        for key in sorted(set(error.instance) - set(allowed)):
            hint = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            suffix = f"; did you mean {hint[0]!r}?" if hint else f" (allowed: {', '.join(allowed)})"
            yield (*path, key), f"unknown key {clip(key)}{suffix}"
        return
    if kind == "required":
        # jsonschema reports each missing key as its own error; the caller drops repeated lines
        for key in error.validator_value:
            if isinstance(error.instance, dict) and key not in error.instance:
                note = f" ({custom})" if custom else ""
                yield path, f"missing required key {key!r}{note}"
        return
    if kind == "not" and custom and "required" in error.validator_value:
        yield (*path, error.validator_value["required"][0]), custom
        return
    if custom and kind != "type":  # a list where an id belongs needs the type message
        yield path, f"{clip(error.instance)} {custom}"
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
            # every problem of the branch written for this value, not just the most relevant
            branch = max(fitting, key=relevance).relative_schema_path[0]
            for sub in fitting:
                if sub.relative_schema_path[0] == branch:
                    yield from _describe(sub)
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
        hint = [o for o in options if (p := _MEANT.get(o)) and p.fullmatch(str(error.instance))]
        hint = hint or difflib.get_close_matches(str(error.instance), options, n=1, cutoff=0.6)
        suffix = f"; did you mean {hint[0]!r}?" if hint else ""
        yield path, f"{clip(error.instance)} is not one of {', '.join(options)}{suffix}"
        return
    if kind in ("minItems", "minProperties"):
        noun = "item" if kind == "minItems" else "entry"
        count = error.validator_value
        yield path, f"needs at least {count} {noun}{'s' if count != 1 else ''}"
        return
    if kind == "const":
        yield path, f"must be {error.validator_value!r}, not {clip(error.instance)}"
        return
    if kind == "type":
        expected = error.validator_value
        names = (
            " or ".join(_article(k) for k in expected)
            if isinstance(expected, list)
            else _article(expected)
        )
        advice = ""
        if "boolean" in expected and str(error.instance).lower() in _YAML11_BOOLS:
            # YAML 1.2 (and reportkit) read yes/no/on/off as text
            advice = ": write true or false"
        yield path, f"expected {names}, got {_json_type(error.instance)}{advice}"
        return
    yield path, _limit_message(kind, error)


def _limit_message(kind: str, error: Any) -> str:
    limit, instance = error.validator_value, error.instance
    if kind == "maxLength":
        return f"{clip(instance)} is longer than {limit} characters"
    if kind == "minLength":
        return "must not be empty" if limit == 1 else f"is shorter than {limit} characters"
    if kind in ("maxItems", "maxProperties") and isinstance(instance, list | dict):
        noun = "items" if kind == "maxItems" else "entries"
        return f"has {len(instance)} {noun}; at most {limit} are allowed"
    if kind == "uniqueItems":
        return "lists the same value more than once"
    message: str = error.message
    if isinstance(instance, str | int | float):
        message = message.replace(repr(instance), clip(instance), 1)
    return message if len(message) <= 200 else message[:197] + "..."


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
    return f"{names.get(type(value), type(value).__name__)} ({clip(value)})"


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
        raise WindowError(f"{clip(value)} is not a date: write YYYY-MM-DD or YYYYMMDD") from exc


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
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: "Europe", a long name
        hint = difflib.get_close_matches(name, sorted(available_timezones()), n=1)
        suffix = (
            f"; did you mean {hint[0]!r}?" if hint else " (write an IANA name like Europe/Berlin)"
        )
        raise WindowError(f"unknown timezone {clip(name)}{suffix}") from exc


def _as_tuple(value: str | list[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


TEMPLATE_DIRS_ENV = "REPORTKIT_TEMPLATE_DIRS"


def repository_of(definition: Path) -> Path:
    """The repository a definition belongs to: the nearest folder above it holding `.git`, or
    the definition's own folder when it is in no repository."""
    folder = definition.resolve().parent
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return folder


def template_allowed(
    template: Path,
    definition: Path,
    env: Mapping[str, str] | None = None,
    roots: Sequence[Path] = (),
) -> bool:
    """Whether a definition may use `template` (resolved): a folder inside its repository, or
    inside a folder listed in $REPORTKIT_TEMPLATE_DIRS (separated by os.pathsep). Anything else
    (`/`, a home folder) would let the template and the PDF read files it has no business with."""
    listed = (os.environ if env is None else env).get(TEMPLATE_DIRS_ENV, "")
    allowed = [repository_of(definition), *(Path(root).resolve() for root in roots)]
    allowed += [Path(entry).expanduser().resolve() for entry in listed.split(os.pathsep) if entry]
    return any(template.is_relative_to(root) for root in allowed)


def _wire_value(value: Any) -> FilterValue:
    """A filter value as the API takes it: booleans as "True"/"False", lists as tuples."""
    if isinstance(value, list):
        return tuple(_wire_primitive(v) for v in value)
    return _wire_primitive(value)


def _wire_primitive(value: Any) -> str | int | float:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int | float | str):
        return value
    return str(value)  # the schema lets only primitives through


class _Builder:
    """Builds a `Report` from schema-valid data, collecting located rule violations."""

    def __init__(self, path: Path, doc: Doc, template_roots: Sequence[Path] = ()) -> None:
        self.path, self.doc = path, doc
        self.template_roots = template_roots
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
        if isinstance(data["version"], float):  # the schema's const 1 takes 1.0 as well
            self.problem(
                ("version",), f"write version: 1 (a whole number), not {data['version']!r}"
            )
        report_id = data.get("id") or _slug(self.path.stem).replace("_", "-") or "report"
        timezone = data.get("timezone", "UTC")
        try:
            _check_timezone(timezone)
        except WindowError as exc:
            self.problem(("timezone",), str(exc))
        window = self.window(data.get("window", "last_7_days"), ("window",))
        locale = self.locale(data.get("locale", "en_US"), ("locale",))
        include_today = bool(data.get("include_today", False))
        self.report_where = self.where(data.get("where"), ("where",))
        queries: list[Query] = []
        owners: list[int] = []  # the index in `queries:` each query was written at
        seen: dict[str, tuple[int, str]] = {}  # query id -> (index in queries, event)
        most = _schema()["properties"]["queries"]["maxItems"]
        for index, raw in enumerate(data["queries"]):
            made = list(self.queries(raw, index, window, include_today))
            if len(queries) <= most < len(queries) + len(made):
                self.problem(
                    ("queries", index, "event"),
                    f"event lists make this report more than {most} queries; split it in two",
                )
            for query in made:
                self.check_trend_size(query, raw, index, data.get("week_start", "monday"))
                if query.id in seen:
                    self.problem(("queries", index, "id"), self.duplicate(query, index, seen))
                seen.setdefault(query.id, (index, query.event))
                queries.append(query)
                owners.append(index)
        queries = self.query_checks(data["queries"], queries, owners)
        checks = tuple(self.checks(data.get("checks", []), ("checks",), queries, None))
        self.unique_check_ids(checks + tuple(c for q in queries for c in q.checks))
        return Report(
            id=report_id,
            title=data["title"],
            description=data.get("description", ""),
            timezone=timezone,
            week_start=data.get("week_start", "monday"),
            locale=locale,
            window=window,
            include_today=include_today,
            compare=data.get("compare"),
            where=self.report_where,
            queries=tuple(queries),
            output=self.output(data.get("output", {})),
            deliver=self.deliver(data.get("deliver", {})),
            path=self.path,
            checks=checks,
        )

    def check_trend_size(self, query: Query, raw: Any, index: int, week_start: Any) -> None:
        """What `plan` would refuse on any day: a trend with more than MAX_TREND_POINTS points."""
        if query.kind != "trend" or week_start not in ("monday", "sunday"):
            return
        fewest = fewest_trend_points(
            query.window,
            query.granularity,
            week_start=week_start,
            include_today=query.include_today,
        )
        if fewest is None or fewest[0] <= MAX_TREND_POINTS:
            return
        points, dates = fewest
        own = raw if isinstance(raw, dict) else {}
        where: PathKey = (
            ("queries", index, "window")
            if "window" in own
            else ("window",)
            if "window" in self.doc.data
            else ("queries", index, "granularity")
        )
        self.problem(
            where,
            f"query {query.id!r}: a {query.granularity} trend over {dates} has {points:,} points"
            + ("" if query.window.start is not None else " (at least that many on any day)")
            + f", more than {MAX_TREND_POINTS:,}: choose a shorter window or a coarser"
            " granularity",
        )

    def query_checks(
        self, raws: list[dict[str, Any]], queries: list[Query], owners: list[int]
    ) -> list[Query]:
        """Attach each query's own checks (they may name any query, so they come last)."""
        out: list[Query] = []
        for query, index in zip(queries, owners, strict=True):
            raw = raws[index].get("checks", [])
            where: PathKey = ("queries", index, "checks")
            out.append(replace(query, checks=tuple(self.checks(raw, where, queries, query))))
        return out

    def checks(
        self, raws: list[dict[str, Any]], where: PathKey, queries: list[Query], own: Query | None
    ) -> Iterator[Check]:
        from reportkit.language.expressions import check_expression, check_message, strip_braces

        known = {q.id: tuple(g.key for g in q.groups) for q in queries}
        own_id = own.id if own else None
        for index, raw in enumerate(raws):
            at: PathKey = (*where, index)
            for problem in check_expression(raw["expect"], known, own_query=own_id):
                self.problem((*at, "expect"), problem)
            if "message" in raw:
                for problem in check_message(raw["message"], known, own_query=own_id):
                    self.problem((*at, "message"), problem)
            yield Check(
                id=raw["id"],
                expect=strip_braces(raw["expect"]),
                message=raw.get("message", ""),
                severity=raw.get("severity", "fail"),
                title=raw.get("title", ""),
                query=own_id,
            )

    def unique_check_ids(self, checks: tuple[Check, ...]) -> None:
        seen: set[tuple[str | None, str]] = set()
        for check in checks:
            key = (check.query, check.id)
            if key in seen:
                where: PathKey = ("checks",)
                self.problem(where, f"duplicate check id {check.id!r}")
            seen.add(key)

    def locale(self, name: str, where: PathKey) -> str:
        from reportkit.language.locales import check_locale

        problem = check_locale(name)
        if problem is not None:
            self.problem(where, problem)
        return name

    def duplicate(self, query: Query, index: int, seen: dict[str, tuple[int, str]]) -> str:
        first, event = seen[query.id]
        if first == index:  # two events of one list that slug alike
            return (
                f"events {clip(event)} and {clip(query.event)} both make query id "
                f"{query.id!r}: list each event once, or split them into two queries"
            )
        line = self.doc.positions.get(("queries", first), (0, 0))[0]
        return f"duplicate query id {query.id!r} (first used at line {line})"

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
                top_n=int(group.get("top_n", 10)),  # the schema's integer takes 5.0 too
                order=group.get("order", "desc"),
            )
            for key, group in raw.get("groups", {}).items()
        )
        title = raw.get("title", raw["id"])
        where_ = self.report_where + self.where(raw.get("where"), (*where, "where"))
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
                where=where_,
            )

    def where(self, raw: Any, where: PathKey) -> tuple[Filter, ...]:
        """`where:` in either form -> Filters, in the order written (the schema checked types)."""
        if raw is None:
            return ()
        out: list[Filter] = []
        if isinstance(raw, dict):
            for scope, conditions in raw.items():
                for name, condition in conditions.items():
                    at: PathKey = (*where, scope, name)
                    if isinstance(condition, dict):
                        out.extend(
                            self.condition(scope, name, op, value, (*at, op))
                            for op, value in condition.items()
                        )
                    else:
                        out.append(self.condition(scope, name, "equals", condition, at))
            return tuple(out)
        for index, item in enumerate(raw):
            at = (*where, index)
            scopes = [k for k in item if k in FILTER_LISTS]
            operators = [k for k in item if k in OPERATORS]
            if len(scopes) != 1:
                self.problem(
                    at,
                    "name the property under exactly one of event:, session: or profile: "
                    "(e.g. {event: Amount, greater_than: 500})"
                    + (f", not {len(scopes)}" if scopes else ""),
                )
                continue
            if len(operators) != 1:
                written = ", ".join(operators)
                self.problem(
                    at,
                    "give exactly one operator (equals, not_equals, contains, does_not_contain, "
                    "exists, does_not_exist, greater_than, ...)"
                    + (
                        f"; this item has {written}: write one item per operator" if written else ""
                    ),
                )
                continue
            scope, operator = scopes[0], operators[0]
            out.append(self.condition(scope, item[scope], operator, item[operator], at))
        return tuple(out)

    def condition(self, scope: str, name: str, operator: str, value: Any, at: PathKey) -> Filter:
        if operator in PRESENCE_OPERATORS:
            return Filter(scope, name, operator)  # type: ignore[arg-type]
        return Filter(scope, name, operator, _wire_value(value))  # type: ignore[arg-type]

    def output(self, raw: dict[str, Any]) -> OutputSpec:
        template = None
        if "template" in raw:
            looked = self.path.parent / raw["template"]
            try:
                template = looked.resolve()
                found = template.is_dir()
            except (OSError, ValueError):  # a NUL byte, a name too long for the file system
                found = False
            if not found:
                missing = (
                    f"template folder {clip(raw['template'])} does not exist"
                    f" (looked for {clip(str(looked.absolute()), 200)}, beside the definition)"
                )
                self.problem(("output", "template"), missing)
            elif template is not None and not template_allowed(
                template, self.path, roots=self.template_roots
            ):
                self.problem(
                    ("output", "template"),
                    f"template folder {clip(raw['template'])} is outside the report's "
                    f"repository {repository_of(self.path)}: keep templates inside it, or list "
                    f"the folder in ${TEMPLATE_DIRS_ENV}",
                )
        return OutputSpec(
            formats=tuple(raw.get("formats", ("html", "pdf", "md"))),
            template=template,
            paper=raw.get("paper", "A4"),
            orientation=raw.get("orientation", "portrait"),
            highlights=bool(raw.get("highlights", True)),
            pdf_archive=bool(raw.get("pdf", {}).get("archive", False)),
        )

    def deliver(self, raw: dict[str, Any]) -> DeliverSpec:
        email = raw.get("email")
        if email is not None:
            subject = email.get("subject")
            if isinstance(subject, str):
                breaks = [c for c in subject if c in _HEADER_BREAKS]
                if breaks:
                    self.problem(
                        ("deliver", "email", "subject"),
                        f"holds U+{ord(breaks[0]):04X}, a line break or control character that"
                        " no mail header may hold: a subject is one line",
                    )
        slack = raw.get("slack")
        webhook = raw.get("webhook")
        return DeliverSpec(
            slack=None
            if slack is None
            else SlackSpec(
                webhook_url_env=slack.get("webhook_url_env"),
                token_env=slack.get("token_env"),
                channel=slack.get("channel"),
                upload_pdf=bool(slack.get("upload_pdf", True)),
                send_if=slack.get("send_if", "always"),
            ),
            webhook=None
            if webhook is None
            else WebhookSpec(
                url=webhook.get("url"),
                url_env=webhook.get("url_env"),
                secret_env=webhook.get("secret_env"),
                send_if=webhook.get("send_if", "always"),
            ),
            email=None
            if email is None
            else EmailSpec(
                to=_as_tuple(email["to"]),
                cc=_as_tuple(email.get("cc")),
                bcc=_as_tuple(email.get("bcc")),
                subject=email.get("subject", "{{ report.title }}"),
                body=email.get("body"),
                attach=tuple(email.get("attach", ("pdf",))),
                body_format=email.get("body_format", "text"),
                send_if=email.get("send_if", "always"),
                on_failure=_as_tuple(email.get("on_failure")),
                locale=(
                    self.locale(email["locale"], ("deliver", "email", "locale"))
                    if "locale" in email
                    else None
                ),
            ),
        )


# What str.splitlines() breaks a line on (and so Python's mail headers refuse), and the other
# control characters, which a subject has no use for.
_HEADER_BREAKS = frozenset([chr(c) for c in range(0x20)] + ["\x7f", "\x85", "\u2028", "\u2029"]) - {
    "\t"
}


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
    problems = list(_schema_problems(doc.data))
    if problems:
        # the date and timezone rules too, where the schema found nothing: one pass, not two
        problems += _rule_problems(doc.data, [where for where, _ in problems])
        problems.sort(key=lambda p: _order(doc, p[0]))
        raise _spec_error(_locate(path, doc, where, message) for where, message in problems)
    builder = _Builder(path, doc, template_roots)
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
            _check_timezone(timezone)
        except WindowError as exc:
            found.append((("timezone",), str(exc)))
    return found


def _window_error(raw: Any) -> WindowError | None:
    try:
        _window(raw)
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
