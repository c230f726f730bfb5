"""Check expressions (`checks[].expect`) and messages: parsed and checked at load time.

A check's `expect` is a Jinja expression, written bare or inside `{{ }}`; its `message` a Jinja
template. Both see the check context (`reportkit.results.context`): `queries.<id>` with its
numbers, `report`, `window`, and in a query's own checks `query`. Parsing here (Jinja's parser
only, nothing is run) lets `validate` name, with file, line and column, a syntax error, a query id
the report does not have, an attribute a query does not have, or a filter that does not exist,
instead of a run failing on it later.

The names below are the contract between this module and the context the results stage builds;
a test keeps them equal to the fields of the context's dataclasses.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

QUERY_FIELDS: tuple[str, ...] = (
    "id",
    "title",
    "event",
    "kind",
    "description",
    "window",
    "previous_window",
    "total",
    "previous_total",
    "total_change",
    "total_pct_change",
    "unique",
    "previous_unique",
    "unique_change",
    "unique_pct_change",
    "granularity",
    "measure",
    "currency",
    "groups",
    "points",
)
GROUP_FIELDS: tuple[str, ...] = ("key", "name", "property_type", "rows")
ROW_FIELDS: tuple[str, ...] = (
    "value",
    "label",
    "type",
    "count",
    "previous",
    "change",
    "pct_change",
    "share",
)
POINT_FIELDS: tuple[str, ...] = ("period", "count", "previous", "change", "pct_change")
REPORT_FIELDS: tuple[str, ...] = (
    "id",
    "title",
    "description",
    "timezone",
    "as_of",
    "source",
    "demo",
)
# the formatting filters every report text template has (render.environment.FILTERS)
OUR_FILTERS: tuple[str, ...] = (
    "number",
    "percent",
    "delta",
    "money",
    "daterange",
    "value_label",
    "period",
    "days",
)
# what sequences answer besides items: Jinja lets `rows.0` and `rows|first` through too
_SEQUENCE_ATTRS = frozenset({"count", "index"})


class ExpressionProblem(Exception):
    """Why an expression or message cannot be parsed."""


def strip_braces(text: str) -> str:
    """`"{{ a > 1 }}"` -> `"a > 1"`; a bare expression stays as it is."""
    stripped = text.strip()
    if stripped.startswith("{{") and stripped.endswith("}}"):
        inner = stripped[2:-2]
        if "{{" not in inner and "}}" not in inner:
            return inner.strip()
    return stripped


def _environment() -> Any:
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    return ImmutableSandboxedEnvironment()


def _parse(text: str) -> Any:
    import jinja2

    try:
        return _environment().parse(text)
    except jinja2.TemplateSyntaxError as exc:
        raise ExpressionProblem(
            f"Jinja syntax error: {' '.join(str(exc.message).split())}"
        ) from None


def check_expression(
    expect: str, queries: Mapping[str, Sequence[str]], *, own_query: str | None = None
) -> list[str]:
    """Problems (empty when none) with `expect` for a report whose queries are `queries`
    (id -> its group keys); `own_query` is the query a query-level check belongs to."""
    body = strip_braces(expect)
    if not body:
        return ["the expression is empty"]
    try:
        tree = _parse("{{ " + body + " }}")
    except ExpressionProblem as exc:
        return [str(exc)]
    return list(_names(tree, queries, own_query))


def check_message(
    message: str, queries: Mapping[str, Sequence[str]], *, own_query: str | None = None
) -> list[str]:
    """Problems with a message template."""
    try:
        tree = _parse(message)
    except ExpressionProblem as exc:
        return [str(exc)]
    return list(_names(tree, queries, own_query))


def _chain(node: Any) -> tuple[str | None, list[Any]] | None:
    """`queries.orders.groups.city` -> ("queries", [Const("orders"), ...]): a name and the
    attributes or items read from it, outermost last; None when the root is not a plain name."""
    from jinja2 import nodes

    steps: list[Any] = []
    while isinstance(node, nodes.Getattr | nodes.Getitem):
        steps.append(node.attr if isinstance(node, nodes.Getattr) else node.arg)
        node = node.node
    if not isinstance(node, nodes.Name):
        return None
    steps.reverse()
    return node.name, steps


def _const(step: Any) -> str | int | None:
    from jinja2 import nodes

    if isinstance(step, str):
        return step
    if isinstance(step, nodes.Const) and isinstance(step.value, str | int):
        return step.value
    return None


def _hint(name: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(options), n=1, cutoff=0.6)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f" (known: {', '.join(options)})" if len(options) <= 20 else ""


def _names(tree: Any, queries: Mapping[str, Sequence[str]], own_query: str | None) -> Iterator[str]:
    from jinja2 import nodes
    from jinja2.defaults import DEFAULT_NAMESPACE
    from jinja2.filters import FILTERS as DEFAULT_FILTERS
    from jinja2.tests import TESTS as DEFAULT_TESTS

    roots = ["queries", "report", "window"] + (["query"] if own_query else [])
    # names a message template makes itself ({% for row in ... %}, {% set x = ... %}, loop)
    # and Jinja's globals (range, dict ...) are not the context's: nothing to check
    local = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    local |= set(DEFAULT_NAMESPACE) | ({"loop"} if any(tree.find_all(nodes.For)) else set())
    inner: set[int] = set()  # nodes read by a longer chain (`a.b` in `a.b.c`)
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        inner.add(id(node.node))
    for node in tree.find_all(nodes.Filter):
        if node.name not in DEFAULT_FILTERS and node.name not in OUR_FILTERS:
            known = sorted(set(OUR_FILTERS) | set(DEFAULT_FILTERS))
            yield f"unknown filter {node.name!r}{_hint(node.name, known)}"
    for node in tree.find_all(nodes.Test):
        if node.name not in DEFAULT_TESTS:
            yield f"unknown test {node.name!r}{_hint(node.name, sorted(DEFAULT_TESTS))}"
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Name)):
        if id(node) in inner:
            continue  # part of a longer chain, checked with it
        found = _chain(node)
        if found is None:
            continue
        root, steps = found
        if root in local and root not in roots:
            continue
        if root not in roots:
            yield f"unknown name {root!r}{_hint(root or '', roots)}"
            continue
        if root == "query" and own_query is not None:
            yield from _query_steps(own_query, queries[own_query], steps, "query")
        elif root == "queries":
            yield from _queries_steps(queries, steps)
        elif root == "report" and steps:
            attr = _const(steps[0])
            if isinstance(attr, str) and attr not in REPORT_FIELDS:
                yield f"report has no attribute {attr!r}{_hint(attr, REPORT_FIELDS)}"


def _queries_steps(queries: Mapping[str, Sequence[str]], steps: list[Any]) -> Iterator[str]:
    if not steps:
        return
    first = _const(steps[0])
    if not isinstance(first, str):
        return  # a computed id: cannot be checked before the run
    if first in queries:
        yield from _query_steps(first, queries[first], steps[1:], f"queries.{first}")
        return
    # `queries.funnel.charged` for the id `funnel.charged`, made from an event list
    for count in range(2, len(steps) + 1):
        parts = [_const(s) for s in steps[:count]]
        if all(isinstance(p, str) for p in parts):
            joined = ".".join(str(p) for p in parts)
            if joined in queries:
                yield (
                    f"query id {joined!r} holds a dot: write queries[{joined!r}], "
                    f"not queries.{joined}"
                )
                return
    yield f"unknown query id {first!r}{_hint(first, sorted(queries))}"


def _query_steps(
    query_id: str, groups: Sequence[str], steps: list[Any], where: str
) -> Iterator[str]:
    if not steps:
        return
    attr = _const(steps[0])
    if not isinstance(attr, str):
        return
    if attr not in QUERY_FIELDS:
        yield f"{where} has no attribute {attr!r}{_hint(attr, QUERY_FIELDS)}"
        return
    rest = steps[1:]
    if attr == "groups" and rest:
        key = _const(rest[0])
        if isinstance(key, str):
            if key not in groups:
                known = sorted(groups)
                detail = _hint(key, known) if known else " (the query has no groups)"
                yield f"{where}.groups has no group {key!r}{detail}"
                return
            yield from _item_steps(rest[1:], GROUP_FIELDS, f"{where}.groups.{key}", "rows")
    elif attr == "points":
        yield from _sequence_steps(rest, POINT_FIELDS, f"{where}.points")


def _item_steps(steps: list[Any], fields: Sequence[str], where: str, nested: str) -> Iterator[str]:
    if not steps:
        return
    attr = _const(steps[0])
    if not isinstance(attr, str):
        return
    if attr not in fields:
        yield f"{where} has no attribute {attr!r}{_hint(attr, fields)}"
    elif attr == nested:
        yield from _sequence_steps(steps[1:], ROW_FIELDS, f"{where}.{nested}")


def _sequence_steps(steps: list[Any], fields: Sequence[str], where: str) -> Iterator[str]:
    """`rows[0].count`: an index, then an attribute of the item."""
    if not steps:
        return
    index = _const(steps[0])
    if isinstance(index, str):
        if index not in _SEQUENCE_ATTRS:
            yield f"{where} is a list: write {where}[0].{index} or use a filter such as first"
        return
    if len(steps) > 1:
        attr = _const(steps[1])
        if isinstance(attr, str) and attr not in fields:
            yield f"{where}[...] has no attribute {attr!r}{_hint(attr, fields)}"
