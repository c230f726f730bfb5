"""Filters of a count request -> one SQL condition: the rule book of every engine over the store.

A request body carries filters in three lists, as the CleverTap count APIs take them:
`event_properties` and `session_properties` (the event's own columns) and
`common_profile_properties` (the profile's latest values), each a list of
`{"name", "operator", "value"}`. Every filter must hold (AND). The rules, spelled out once:

- Values are strings, numbers, or lists of them; a list means "any of these" for `equals` and
  `contains`, and "none of these" for `not_equals` and `does_not_contain`. Booleans travel as the
  strings "True" / "False" and match stored booleans whatever their case ("true" from an import).
- A string value compares with the property's text; a number with its numeric value (NUMBER
  columns, and DATE columns as Unix epoch seconds). A number never equals a text and a string never
  equals a number.
- `equals`: the property has the value (one of the values).
- `not_equals`: the property is set and has none of the values (an event without it does not
  match: ask `does_not_exist` for those).
- `contains`: the text holds the value as a substring, case-sensitive (any of the values).
- `does_not_contain`: the text is set and holds none of the values.
- `exists` / `does_not_exist`: the property has a value of any type / has none. No value needed.
- `greater_than`, `greater_than_equals`, `less_than`, `less_than_equals`: the numeric value
  compares so with the number given (a string value is refused).

A filter that cannot be applied is refused with a message naming it, never ignored: an unknown
operator or list, a property the store has never seen, a value of the wrong type for its operator,
an operator that needs a type the property never holds (`greater_than` on a text-only property,
`contains` on a number-only one), session `time_of_day` (not in the store), `advanced_query`.

`filter_condition(body, lookup)` returns the SQL (with `?` parameters, never values pasted in) and
whether it needs the `profiles` table joined as `p`; events are `e`. Pure: no DuckDB import, so a
warehouse source can render the same condition against its own tables.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

from reportkit.language.model import NUMBER_OPERATORS, OPERATORS, PRESENCE_OPERATORS
from reportkit.store import Column

__all__ = ["FILTER_KEYS", "FilterError", "SqlCondition", "WireFilter", "filter_condition"]

# body key -> the table alias its columns live in
FILTER_KEYS: dict[str, str] = {
    "event_properties": "e",
    "session_properties": "e",
    "common_profile_properties": "p",
}
_UNSUPPORTED_KEYS = ("advanced_query",)
_NUMERIC = ("NUMBER", "DATE")
_TEXT_OPERATORS = ("contains", "does_not_contain")
_COMPARE = {
    "greater_than": ">",
    "greater_than_equals": ">=",
    "less_than": "<",
    "less_than_equals": "<=",
}
_BOOLEAN_TEXT = ("true", "false")

Value = str | int | float


class FilterError(ValueError):
    """A filter the engine cannot apply; the message names it."""


@dataclass(frozen=True, slots=True)
class WireFilter:
    """One filter as the body carries it, checked for shape."""

    key: str  # event_properties | session_properties | common_profile_properties
    index: int
    name: str
    operator: str
    values: tuple[Value, ...]  # empty for exists / does_not_exist

    def describe(self) -> str:
        shown = ", ".join(repr(v) for v in self.values)
        value = f" [{shown}]" if len(self.values) > 1 else f" {shown}" if shown else ""
        return f"{self.key}[{self.index}] {self.name!r} {self.operator}{value}"


@dataclass(frozen=True, slots=True)
class SqlCondition:
    sql: str  # "TRUE" when there is no filter
    params: tuple[Any, ...]
    needs_profiles: bool


def _primitive(value: Any) -> TypeGuard[Value]:
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def read_filters(body: Mapping[str, Any]) -> list[WireFilter]:
    """The filters of a request body, checked for shape (FilterError when one is not a filter)."""
    for key in _UNSUPPORTED_KEYS:
        if key in body:
            raise FilterError(f"{key} is not supported by this engine")
    out: list[WireFilter] = []
    for key in FILTER_KEYS:
        if key not in body:
            continue
        items = body[key]
        if not isinstance(items, list):
            raise FilterError(f"{key} must be a list of {{name, operator, value}}")
        for index, item in enumerate(items):
            where = f"{key}[{index}]"
            if not isinstance(item, dict):
                raise FilterError(f"{where} must be an object {{name, operator, value}}")
            name, operator = item.get("name"), item.get("operator", "equals")
            if not isinstance(name, str) or not name:
                raise FilterError(f"{where} has no name")
            if operator not in OPERATORS:
                raise FilterError(
                    f"{where} {name!r}: unknown operator {str(operator)[:40]!r} "
                    f"(expected one of {', '.join(OPERATORS)})"
                )
            raw = item.get("value")
            if operator in PRESENCE_OPERATORS:
                values: tuple[Value, ...] = ()
            else:
                listed = raw if isinstance(raw, list) else [raw]
                if not listed or not all(_primitive(v) for v in listed):
                    raise FilterError(
                        f"{where} {name!r} {operator}: the value must be a string, a number or a "
                        f"list of them, not {str(raw)[:40]!r}"
                    )
                values = tuple(v for v in listed if _primitive(v))
            found = WireFilter(key, index, name, operator, values)
            if operator in NUMBER_OPERATORS and (
                len(values) != 1 or not isinstance(values[0], int | float)
            ):
                raise FilterError(f"{found.describe()}: {operator} takes one number")
            if operator in _TEXT_OPERATORS and not all(isinstance(v, str) for v in values):
                raise FilterError(f"{found.describe()}: {operator} takes strings")
            out.append(found)
    return out


def _refs(alias: str, columns: tuple[Column, ...], types: tuple[str, ...]) -> list[str]:
    return [f"{alias}.{c.col}" for c in columns if c.type in types]


def _any(parts: list[str]) -> str:
    return "(" + " OR ".join(parts) + ")" if parts else "FALSE"


def _one(item: WireFilter, columns: tuple[Column, ...], alias: str) -> tuple[str, list[Any]]:
    """The condition of one filter over the property's typed columns."""
    texts = _refs(alias, columns, ("STR",))
    numbers = _refs(alias, columns, _NUMERIC)
    present = _any([f"{ref} IS NOT NULL" for ref in texts + numbers])
    op = item.operator
    if op == "exists":
        return present, []
    if op == "does_not_exist":
        return f"NOT {present}", []
    if op in _COMPARE:
        if not numbers:
            raise FilterError(f"{item.describe()}: the property never holds a number")
        return _any([f"{ref} {_COMPARE[op]} ?" for ref in numbers]), [item.values[0]] * len(numbers)
    if op in _TEXT_OPERATORS:
        if not texts:
            raise FilterError(f"{item.describe()}: the property never holds text")
        params: list[Any] = []
        parts = []
        for ref in texts:
            for value in item.values:
                parts.append(f"strpos({ref}, ?) > 0")
                params.append(value)
        matched = _any(parts)
        if op == "contains":
            return matched, params
        text_present = _any([f"{ref} IS NOT NULL" for ref in texts])
        return f"({text_present} AND NOT coalesce({matched}, FALSE))", params
    # equals / not_equals
    parts, params = [], []
    for value in item.values:
        if isinstance(value, str):
            for ref in texts:
                if value.lower() in _BOOLEAN_TEXT:
                    parts.append(f"lower({ref}) = ?")
                    params.append(value.lower())
                else:
                    parts.append(f"{ref} = ?")
                    params.append(value)
        else:
            for ref in numbers:
                parts.append(f"{ref} = ?")
                params.append(value)
    if not parts:
        kind = "text" if all(isinstance(v, str) for v in item.values) else "a number"
        raise FilterError(f"{item.describe()}: the property never holds {kind}")
    matched = _any(parts)
    if op == "equals":
        return matched, params
    return f"({present} AND NOT coalesce({matched}, FALSE))", params


def filter_condition(
    body: Mapping[str, Any],
    lookup: Callable[[str, str], tuple[Column, ...]],
) -> SqlCondition:
    """The SQL condition every filter of `body` makes (all must hold).

    `lookup(key, name)` gives the typed columns of a property for a body key (an empty tuple when
    the store does not know it). Raises FilterError naming a filter that cannot be applied.
    """
    parts: list[str] = []
    params: list[Any] = []
    needs_profiles = False
    for item in read_filters(body):
        if item.key == "session_properties" and item.name == "time_of_day":
            raise FilterError(f"{item.describe()}: time_of_day filters are not supported")
        columns = lookup(item.key, item.name)
        if not columns:
            raise FilterError(f"{item.describe()}: unknown property {item.name!r}")
        alias = FILTER_KEYS[item.key]
        needs_profiles = needs_profiles or alias == "p"
        sql, values = _one(item, columns, alias)
        parts.append(sql)
        params.extend(values)
    return SqlCondition(" AND ".join(parts) or "TRUE", tuple(params), needs_profiles)
