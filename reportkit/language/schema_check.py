"""A definition's data against `schemas/report.schema.json` (JSON Schema 2020-12): the validator,
ECMA-262 patterns (where `$` means end of text), and each schema error turned into one readable
line at the path it concerns."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any

from reportkit.assets import report_schema_path
from reportkit.language.yamldoc import PathKey, clip


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    with report_schema_path().open(encoding="utf-8") as handle:
        schema: dict[str, Any] = json.load(handle)
    return schema


@lru_cache(maxsize=1)
def _validator() -> Any:
    from jsonschema import Draft202012Validator, validators

    checker = validators.extend(Draft202012Validator, {"pattern": _check_pattern})
    return checker(schema(), format_checker=Draft202012Validator.FORMAT_CHECKER)


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


def schema_problems(data: Any) -> Iterator[tuple[PathKey, str]]:
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
