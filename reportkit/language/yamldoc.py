"""YAML text -> plain data, with the line and column of every key and item.

The one place reportkit reads YAML (for `spec.py`). A report definition is plain values, lists and
mappings, a few hundred of them, so anything else is refused here with a located message before it
can cost time or memory: non-printable characters, YAML tags (`!!python/object`, `!foo`), nesting
deeper than `MAX_DEPTH` (PyYAML's composer recurses once per level), aliases that loop or expand
past `MAX_NODES` values (a billion laughs, merge-key chains), numbers too long to print, and text
that cannot be written as UTF-8. Merge keys (`<<: *defaults`) follow the YAML spec: the mapping's
own keys win, then earlier merged mappings over later ones.

Plain values are read with the YAML 1.2 core schema, not PyYAML's YAML 1.1 rules: only
`true`/`false` are booleans (`yes`, `no`, `on`, `off` stay text), `null`/`~`/nothing is null,
integers are decimal, `0o` octal or `0x` hex (`010` is ten), and `190:20:30` is text, not a
sexagesimal number. Dates stay the text written (the schema checks them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_NODES = 20_000  # a definition is a few hundred values; more means an alias bomb or a mistake
MAX_DEPTH = 40
MAX_NUMBER_CHARS = 100  # longer integers are a mistake, and Python refuses to print 4300+ digits

PathKey = tuple[str | int, ...]
Position = tuple[int, int]

_YAML = "tag:yaml.org,2002:"
_MERGE = _YAML + "merge"
_TIMESTAMP = _YAML + "timestamp"
_INT = _YAML + "int"
_PLAIN_TAGS = frozenset(
    _YAML + name for name in ("str", "int", "float", "bool", "null", "timestamp", "map", "seq")
)
_KEY_TAGS = _PLAIN_TAGS | {_YAML + "value"}  # `=` as a key is read as the text "="
_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")  # what YAML counts as a new line
_SURROGATE = re.compile("[\ud800-\udfff]")
_TOO_DEEP = f"the definition is nested more than {MAX_DEPTH} levels deep"


@dataclass(frozen=True, slots=True)
class Doc:
    """Plain data from one YAML file and where each of its keys and items stands (1-based)."""

    data: Any
    positions: dict[PathKey, Position]


class YamlProblem(Exception):
    """The text cannot be read as a report's plain data; `line` and `column` are 1-based."""

    def __init__(self, line: int, column: int, message: str) -> None:
        super().__init__(message)
        self.line, self.column, self.message = line, column, message


def _at(node_or_mark: Any, message: str) -> YamlProblem:
    """A problem at a node, or at a mark (PyYAML's pure and C marks differ in type)."""
    mark = node_or_mark.start_mark if isinstance(node_or_mark, Node) else node_or_mark
    return YamlProblem(mark.line + 1, mark.column + 1, message)


def _position(node: Node) -> Position:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _problem(where: Node | Position, message: str) -> YamlProblem:
    line, column = _position(where) if isinstance(where, Node) else where
    return YamlProblem(line, column, message)


def clip(value: object, limit: int = 60) -> str:
    """`repr(value)` cut to `limit` characters, so values echoed in messages stay short."""
    shown = repr(value)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def tag_name(tag: str) -> str:
    """`tag:yaml.org,2002:python/object:os.system` -> `!!python/object:os.system`."""
    short = "!!" + tag[len(_YAML) :] if tag.startswith(_YAML) else tag
    return short if len(short) <= 60 else short[:57] + "..."


def position_of(text: str, index: int) -> Position:
    """The 1-based line and column of character `index`, counting line breaks as YAML does."""
    breaks = list(_LINE_BREAK.finditer(text, 0, index))
    start = breaks[-1].end() if breaks else 0
    return len(breaks) + 1, index - start + 1


_CORE_INT = re.compile(r"(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)\Z")
_CORE_FLOAT = re.compile(
    r"(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))\Z"
)
_CORE_BOOL = re.compile(r"(?:true|True|TRUE|false|False|FALSE)\Z")
_CORE_NULL = re.compile(r"(?:~|null|Null|NULL|)\Z")
_FLOAT = _YAML + "float"
_BOOL = _YAML + "bool"
_NULL = _YAML + "null"
_CORE_PATTERNS = {_INT: _CORE_INT, _FLOAT: _CORE_FLOAT, _BOOL: _CORE_BOOL, _NULL: _CORE_NULL}


def _core_value(tag: str, text: str) -> Any:
    """A plain scalar the core schema resolved (`tag` is int, float, bool or null)."""
    if tag == _INT:
        sign, digits = (-1, text[1:]) if text.startswith("-") else (1, text.lstrip("+"))
        if digits.startswith("0o"):
            return sign * int(digits[2:], 8)
        if digits.startswith("0x"):
            return sign * int(digits[2:], 16)
        return sign * int(digits, 10)
    if tag == _FLOAT:
        lowered = text.lower()
        if lowered.endswith(".inf"):
            return float("-inf") if lowered.startswith("-") else float("inf")
        if lowered == ".nan":
            return float("nan")
        return float(text)
    if tag == _BOOL:
        return text.lower() == "true"
    return None


class _Loader(yaml.SafeLoader):
    """A SafeLoader with the YAML 1.2 core schema's plain values, whose composer refuses deep
    nesting and aliases to an enclosing node."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._depth = 0
        self._open: set[str] = set()  # anchors of the nodes being composed
        # where each alias in a list stands, by (id of the list, index): the node an alias
        # yields carries the position of its anchor
        self.alias_positions: dict[tuple[int, int], Position] = {}

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        event: Any = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            if event.anchor in self._open:
                raise _at(
                    event.start_mark,
                    f"the alias *{event.anchor} refers to a node that contains it (a loop)",
                )
            if isinstance(index, int):
                mark: Any = event.start_mark
                self.alias_positions[(id(parent), index)] = (mark.line + 1, mark.column + 1)
            return super().compose_node(parent, index)
        if self._depth > MAX_DEPTH:
            raise _at(event.start_mark, _TOO_DEEP)
        anchor: str | None = getattr(event, "anchor", None)
        self._depth += 1
        if anchor is not None:
            self._open.add(anchor)
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1
            if anchor is not None:
                self._open.discard(anchor)


_Loader.yaml_implicit_resolvers = {}  # only the core schema's, added below
for _tag, _pattern, _first in (
    (_BOOL, _CORE_BOOL, "tTfF"),
    (_INT, _CORE_INT, "-+0123456789"),
    (_FLOAT, _CORE_FLOAT, "-+0123456789."),
    (_NULL, _CORE_NULL, ["~", "n", "N", ""]),
    (_MERGE, re.compile(r"<<\Z"), "<"),
):
    _Loader.add_implicit_resolver(_tag, _pattern, list(_first))


def read_yaml(text: str) -> Doc:
    """Read one definition's text into plain data; raise `YamlProblem` for anything else."""
    bad = yaml.reader.Reader.NON_PRINTABLE.search(text)
    if bad:
        line, column = position_of(text, bad.start())
        raise YamlProblem(
            line,
            column,
            f"non-printable character U+{ord(bad.group()):04X} in the file "
            "(YAML allows tabs, line breaks and printable text only)",
        )
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise YamlProblem(1, 1, "the file is empty: a report needs version, title and queries")
        if node.tag not in _PLAIN_TAGS:  # a tag says more than the kind of node it carries
            raise _at(node, _tag_message(node.tag))
        if not isinstance(node, MappingNode):
            raise _at(
                node,
                "a report must be a mapping of keys (version, title, queries ...), "
                f"not {_node_kind(node)}",
            )
        reader = _Reader(loader)
        data = reader.build(node, (), 0)
        return Doc(data, reader.positions)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise YamlProblem(line, column, f"YAML syntax error: {_syntax_problem(exc)}") from exc
    except yaml.YAMLError as exc:
        raise YamlProblem(1, 1, f"YAML error: {' '.join(str(exc).split())}") from exc
    finally:
        loader.dispose()


def _plain_problem(problem: str) -> str | None:
    """PyYAML's parser words, for the mistakes people make, as a sentence about the text."""
    if problem.startswith("expected <block end>, but found"):
        found = problem.split("but found", 1)[1].strip()
        what = "a list item" if "-" in found or "sequence" in found else "a key"
        return (
            f"{what} here is indented differently from the lines above it: line it up with"
            " its neighbours (or indent it under the key it belongs to)"
        )
    if problem == "mapping values are not allowed here":
        return (
            "a ':' here, where a value is being written: put quotes around a value that holds"
            " ': ', or indent this line under its key"
        )
    if problem == "could not find expected ':'":
        return "a key without ':' after it (write key: value)"
    if problem == "did not find expected key":
        return "this line is not a key of the mapping it is indented under: check its indentation"
    if problem.startswith("did not find expected '-' indicator"):
        return "this line is indented like a list item but does not start with '- '"
    if problem.startswith("expected ',' or ']'"):
        return "a list in [ ] is not closed, or its items are not separated by commas"
    if problem.startswith("expected ',' or '}'"):
        return "a mapping in { } is not closed, or its entries are not separated by commas"
    return None


def _syntax_problem(exc: yaml.MarkedYAMLError) -> str:
    plain = _plain_problem(exc.problem or "")
    if plain is not None:
        if exc.context and exc.context.startswith("while ") and exc.context_mark:
            mark = exc.context_mark
            plain += f" (see line {mark.line + 1}, column {mark.column + 1})"
        return plain
    if exc.problem == "second occurrence" and exc.context and exc.context_mark:
        # PyYAML's duplicate anchor error puts its subject in the context
        first = exc.context_mark.line + 1
        return f"{exc.context.split(';')[0]} (first at line {first})"
    if exc.problem and exc.problem.startswith("but ") and exc.context:
        return f"{exc.context}, {exc.problem}"  # "expected a single document ..., but found ..."
    problem = exc.problem or exc.context or "invalid YAML"
    if "'\\t'" in problem:
        problem += " (indent with spaces: YAML does not allow tabs there)"
    elif exc.problem and exc.context and exc.context.startswith("while ") and exc.context_mark:
        # "while scanning a quoted scalar": where the unclosed quote or bracket opened
        mark = exc.context_mark
        problem += f" ({exc.context} at line {mark.line + 1}, column {mark.column + 1})"
    return problem


def _node_kind(node: Node) -> str:
    if isinstance(node, SequenceNode):
        return "a list"
    return f"a single value ({clip(str(node.value), 40)})"


class _Reader:
    """Builds plain data from composed nodes, spending one unit of `budget` per value made.

    An alias makes the composer hand back a node already built; from there on, problems of size
    and depth are located at the alias that started the expansion, not deep inside its anchor.
    """

    def __init__(self, loader: _Loader) -> None:
        self.loader = loader
        self.positions: dict[PathKey, Position] = {(): (1, 1)}
        self.budget = MAX_NODES
        self.built: set[int] = set()  # ids of the lists and mappings built so far

    def spend(self, where: Node | Position) -> None:
        self.budget -= 1
        if self.budget < 0:
            raise _problem(
                where,
                f"the definition expands to more than {MAX_NODES} values "
                "(an alias expanding exponentially?)",
            )

    def build(self, node: Node, path: PathKey, depth: int, alias: Position | None = None) -> Any:
        if isinstance(node, MappingNode | SequenceNode):
            if alias is None and id(node) in self.built:
                alias = self.positions.get(path)
            self.built.add(id(node))
        self.spend(alias or node)
        if depth > MAX_DEPTH:  # reached through aliases: the composer saw each piece shallower
            raise _problem(alias or node, _TOO_DEEP)
        if node.tag not in _PLAIN_TAGS:
            raise _at(node, _tag_message(node.tag))
        if isinstance(node, MappingNode):
            return self.mapping(node, path, depth, alias)
        if isinstance(node, SequenceNode):
            items = []
            for index, item in enumerate(node.value):
                where = self.loader.alias_positions.get((id(node), index)) or _position(item)
                self.positions[(*path, index)] = where
                items.append(self.build(item, (*path, index), depth + 1, alias))
            return items
        return self.scalar(node)

    def mapping(
        self, node: MappingNode, path: PathKey, depth: int, alias: Position | None
    ) -> dict[str, Any]:
        own = [(key, value) for key, value in node.value if key.tag != _MERGE]
        for key_node, _ in own:
            _key(key_node)  # refuse a bad key where it stands, before any merge is read
        taken = {_key(key) for key, _ in own}
        merged = self.merged(node, alias or _position(node), 0)
        pairs = [(k, n, v) for k, (n, v) in merged.items() if k not in taken]
        out: dict[str, Any] = {}
        for key, key_node, value_node in pairs + [(_key(n), n, v) for n, v in own]:
            where = _position(key_node)
            if key in out:
                first = self.positions[(*path, key)]
                raise YamlProblem(
                    *where, f"duplicate key {clip(key)} (first given at line {first[0]})"
                )
            self.positions[(*path, key)] = where
            out[key] = self.build(value_node, (*path, key), depth + 1, alias)
        return out

    def merged(
        self, node: MappingNode, origin: Position, level: int
    ) -> dict[str, tuple[Node, Node]]:
        """The pairs `<<` merge keys bring into `node`, earlier merged mappings first.

        Problems of size and depth are located at `origin`, the mapping the merging started from.
        """
        found: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            if key_node.tag != _MERGE:
                continue
            sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
            for source in sources:
                if not isinstance(source, MappingNode):
                    raise _at(key_node, "a merge key << takes a mapping or a list of mappings")
                if level >= MAX_DEPTH:
                    raise _problem(origin, f"merge keys are nested more than {MAX_DEPTH} deep")
                inner = self.merged(source, origin, level + 1)
                own = [(n, v) for n, v in source.value if n.tag != _MERGE]
                for key, pair in [*((_key(n), (n, v)) for n, v in own), *inner.items()]:
                    self.spend(origin)
                    found.setdefault(key, pair)
        return found

    def scalar(self, node: Node) -> Any:
        # PyYAML reads 2026-11-01 as a date (and fails on 2026-02-30): keep dates as the text
        # written, which the schema's date format then checks.
        if node.tag == _TIMESTAMP:
            return str(node.value)
        if node.tag == _INT and len(str(node.value)) > MAX_NUMBER_CHARS:
            raise _at(node, f"a number longer than {MAX_NUMBER_CHARS} characters")
        core = _CORE_PATTERNS.get(node.tag)
        if core and getattr(node, "style", None) is None and core.match(str(node.value)):
            # as the core schema resolved it; an explicit tag on a value it does not fit
            # (`!!bool maybe`) goes to PyYAML's constructor, which refuses it below
            return _core_value(node.tag, str(node.value))
        try:
            value = self.loader.construct_object(node, deep=True)
        except (ValueError, OverflowError, KeyError, IndexError) as exc:
            # Only an explicit tag (`!!int abc`, `!!bool maybe`) makes a plain constructor fail.
            raise _at(node, f"cannot read {clip(str(node.value))} as {tag_name(node.tag)}") from exc
        if isinstance(value, str):
            _check_text(node, value)
        return value


def _key(node: Node) -> str:
    if not isinstance(node, ScalarNode):
        raise _at(node, "a key must be a plain value, not a list or mapping")
    if node.tag not in _KEY_TAGS:
        raise _at(node, _tag_message(node.tag))
    key = str(node.value)
    _check_text(node, key)
    return key


def _check_text(node: Node, text: str) -> None:
    surrogate = _SURROGATE.search(text)
    if surrogate:
        raise _at(
            node,
            f"the text holds U+{ord(surrogate.group()):04X}, half of a surrogate pair, "
            "which is not a character",
        )


def _tag_message(tag: str) -> str:
    return f"the YAML tag {tag_name(tag)} is not allowed: write plain values, lists and mappings"
