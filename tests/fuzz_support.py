"""Hypothesis strategies for bad report definitions, and the one check every answer must pass.

Mutations start from the real examples in reports/: a strategy picks a path in the parsed
document and replaces, deletes or adds a value there, from plausible values (window tokens, demo
events and properties) and wild ones (huge and negative numbers, control characters, deep
nesting). Raw-byte strategies break the text itself: NUL and invalid UTF-8, anchors, aliases,
merge keys and tags spliced in, truncation, and the bombs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

REPORTS = Path(__file__).resolve().parent.parent / "reports"
EXAMPLES: tuple[str, ...] = tuple(p.read_text() for p in sorted(REPORTS.glob("*.yaml")))

DocPath = tuple[str | int, ...]

WINDOWS = (
    "today",
    "yesterday",
    "last_7_days",
    "last_9999_years",
    "last_12_months",
    "this_week",
    "month_to_date",
    "last_quarter",
    "last_0_days",
    "last_7_day",
)
EVENTS = ("App Launched", "Product Viewed", "Added To Cart", "Charged", "No Such Event")
PROPERTIES = ("Amount", "Product", "City", "Customer Type", "utm_source", "Delivery Date", "Nope")
KEYS = (
    "version", "id", "title", "description", "timezone", "week_start", "window", "include_today",
    "compare", "queries", "output", "deliver", "event", "kind", "groups", "unique", "granularity",
    "sum_event_prop", "chart", "property_type", "name", "top_n", "order", "from", "to", "formats",
    "email", "to", "subject", "<<", "titel", "",
)  # fmt: skip

plausible_scalars = st.one_of(
    st.sampled_from(WINDOWS + EVENTS + PROPERTIES),
    st.sampled_from([True, False, 1, 2, 5, 10, 100, "top", "count", "trend", "weekly", "asc"]),
    st.sampled_from(["event_properties", "profile_fields", "geo_fields", "technographics"]),
    st.sampled_from(["Europe/Berlin", "America/New_York", "Asia/Kolkata", "previous_year"]),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=12),
)

plain_scalars = st.one_of(
    plausible_scalars,
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.sampled_from([0, -1, 1, 100, 101, 19700101, 20261101, 99991231, 2**63, -(2**63)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8),
    st.sampled_from(WINDOWS + EVENTS + PROPERTIES + KEYS),
    st.sampled_from(["2026-11-01", "2026-02-30", "20261101", "0001-01-01", "9999-12-31"]),
    st.sampled_from(["Europe/Berlin", "Europe", "UTC", "../etc/passwd", "x" * 300, "a\nb"]),
    st.sampled_from(["top", "count", "trend", "daily", "monthly", "html", "pdf", "md", "docx"]),
    st.sampled_from(["a@example.com", "a@b\n", "not an address", "abc\n", "x" * 10_000]),
)


def values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    """Any value a parsed YAML document can hold, nested lists and string-keyed mappings."""
    return st.recursive(
        plain_scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=10), inner, max_size=4),
        ),
        max_leaves=max_leaves,
    )


def nested(depth: int) -> Any:
    """A value `depth` lists deep: `[[[...]]]`."""
    value: Any = "deep"
    for _ in range(depth):
        value = [value]
    return value


def paths_of(document: Any, prefix: DocPath = ()) -> list[DocPath]:
    """Every path into `document`, the root included."""
    found = [prefix]
    if isinstance(document, dict):
        for key, value in document.items():
            found.extend(paths_of(value, (*prefix, key)))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found.extend(paths_of(value, (*prefix, index)))
    return found


def _parent(document: Any, path: DocPath) -> Any:
    for part in path[:-1]:
        document = document[part]
    return document


@dataclass(frozen=True, slots=True)
class Mutation:
    op: str  # replace, delete or add
    path: DocPath
    value: Any = None

    def apply(self, document: Any) -> Any:
        if not self.path:
            return self.value if self.op == "replace" else document
        parent = _parent(document, self.path)
        last = self.path[-1]
        if self.op == "replace":
            parent[last] = self.value
        elif self.op == "delete":
            del parent[last]
        elif isinstance(parent[last], dict):
            parent[last][str(self.value[0])] = self.value[1]
        elif isinstance(parent[last], list):
            parent[last].append(self.value[1])
        else:
            parent[last] = self.value[1]
        return document


ABSOLUTE = st.fixed_dictionaries(
    {"from": st.sampled_from(["2026-11-01", "0001-01-01", 20261101]),
     "to": st.sampled_from(["2026-11-29", "9999-12-31", 20261115])}
)  # fmt: skip
FITTING: dict[str, st.SearchStrategy[Any]] = {
    "window": st.sampled_from(WINDOWS) | ABSOLUTE,
    "event": st.sampled_from(EVENTS) | st.lists(st.sampled_from(EVENTS), min_size=1, max_size=3),
    "name": st.sampled_from(PROPERTIES),
    "top_n": st.integers(-1, 102),
    "timezone": st.sampled_from(["UTC", "Europe/Berlin", "Pacific/Kiritimati", "Etc/GMT+12"]),
    "kind": st.sampled_from(["top", "count", "trend"]),
    "compare": st.sampled_from(["previous_period", "previous_year"]),
    "granularity": st.sampled_from(["daily", "weekly", "monthly"]),
    "order": st.sampled_from(["asc", "desc"]),
    "unique": st.booleans(),
    "include_today": st.booleans(),
    "week_start": st.sampled_from(["monday", "sunday"]),
    "property_type": st.sampled_from(["event_properties", "profile_fields", "demographics"]),
    "title": st.text(max_size=20),
    "description": st.text(max_size=40),
    "sum_event_prop": st.sampled_from(PROPERTIES),
    "chart": st.fixed_dictionaries(
        {},
        optional={
            "mark": st.sampled_from(["bar", "line", "area", "point", "tick"]),
            "color": st.sampled_from(["#ff0000", "teal", "not a colour", ""]),
            "show": st.booleans(),
            "vega_lite": st.dictionaries(
                st.sampled_from(["width", "height", "padding", "mark", "title", "config"]),
                st.integers(-10, 10**9) | values(4),
                max_size=2,
            ),
        },
    ),
}


@st.composite
def fitting_mutations(draw: st.DrawFn, document: Any) -> Mutation:
    """Replace a value with one of the right kind for its key: mostly valid, often odd."""
    paths = [p for p in paths_of(document) if p and p[-1] in FITTING]
    queries = [p for p in paths if len(p) == 3 and p[0] == "queries"]
    if queries and draw(st.booleans()):  # the examples hold no chart: add one
        query = draw(st.sampled_from(queries))[:2]
        return Mutation("add", query, ("chart", draw(FITTING["chart"])))
    path = draw(st.sampled_from(paths))
    return Mutation("replace", path, draw(FITTING[str(path[-1])]))


@st.composite
def fitting_definitions(draw: st.DrawFn) -> bytes:
    document = yaml.safe_load(draw(st.sampled_from(EXAMPLES)))
    for _ in range(draw(st.integers(1, 4))):
        document = draw(fitting_mutations(document)).apply(document)
    return dump(document, flow=draw(st.sampled_from([None, True])))


def wild_values() -> st.SearchStrategy[Any]:
    """Mostly any value, sometimes one nested around the depth limit."""
    return st.one_of(values(), values(), values(), st.integers(35, 45).map(nested))


@st.composite
def mutations(draw: st.DrawFn, document: Any, pool: st.SearchStrategy[Any]) -> Mutation:
    """Replace, delete or add one value at a path drawn from `document`, taking values from `pool`."""
    path = draw(st.sampled_from(paths_of(document)))
    op = draw(st.sampled_from(["replace", "replace", "delete", "add"] if path else ["replace"]))
    if op == "replace":
        return Mutation(op, path, draw(pool))
    if op == "add":
        return Mutation(op, path, (draw(st.sampled_from(KEYS)), draw(pool)))
    return Mutation(op, path)


@st.composite
def mutated_documents(draw: st.DrawFn, pool: st.SearchStrategy[Any] | None = None) -> Any:
    """One of the example reports, parsed, with one to three mutations applied."""
    document = yaml.safe_load(draw(st.sampled_from(EXAMPLES)))
    for _ in range(draw(st.integers(1, 3))):
        document = draw(mutations(document, wild_values() if pool is None else pool)).apply(
            document
        )
    return document


def dump(document: Any, *, flow: bool | None = None, unicode: bool = True) -> bytes:
    text = yaml.safe_dump(
        document, allow_unicode=unicode, default_flow_style=flow, sort_keys=False, width=80
    )
    return text.encode("utf-8")


@st.composite
def mutated_definitions(draw: st.DrawFn, pool: st.SearchStrategy[Any] | None = None) -> bytes:
    """A mutated example written back as YAML, in block or flow style."""
    document = draw(mutated_documents(pool))
    flow = draw(st.sampled_from([None, False, True]))
    return dump(document, flow=flow, unicode=draw(st.booleans()))


SPLICES = (
    b"\x00", b"\xff", b"\xc3", b"\xef\xbb\xbf", b"\x1b[31m", b"\x7f", b"\t", b"\r", b"\n",
    b"\xe2\x80\xa8", b"&a ", b"*a", b"*zz", b"<<: *a\n", b"!foo ", b"!!python/object:os.system ",
    b"!!binary ", b"!!set ", b"[", b"]", b"{", b"}", b"'", b'"', b"? ", b"- ", b": ", b"---\n",
    b"...\n", b"%YAML 1.1\n", b"#", b"|", b">", b"\\", b'"\\ud800"', b'"\\x00"', b"9" * 120,
)  # fmt: skip


@st.composite
def spliced_definitions(draw: st.DrawFn) -> bytes:
    """An example's text with bytes spliced in, cut out or cut off."""
    data = bytearray(draw(st.sampled_from(EXAMPLES)).encode("utf-8"))
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["insert", "insert", "cut", "truncate"]))
        if action == "insert":
            piece = draw(st.sampled_from(SPLICES) | st.binary(min_size=1, max_size=4))
            data[where:where] = piece
        elif action == "cut":
            del data[where : where + draw(st.integers(1, 40))]
        else:
            del data[where:]
    return bytes(data)


def billion_laughs(levels: int = 9, width: int = 9) -> bytes:
    lines = ["a0: &a0 [" + ", ".join(['"lol"'] * width) + "]"]
    for n in range(1, levels):
        lines.append(f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * width) + "]")
    return ("\n".join(lines) + "\n").encode()


def merge_bomb(levels: int = 9, width: int = 9) -> bytes:
    """Mappings that each merge the previous one `width` times, with a key of their own."""
    lines = ["m0: &m0 {" + ", ".join(f"k{i}: {i}" for i in range(width)) + "}"]
    for n in range(1, levels):
        merged = ", ".join([f"*m{n - 1}"] * width)
        lines.append(f"m{n}: &m{n} {{<<: [{merged}], own{n}: {n}}}")
    lines.append(f"version: 1\ntitle: t\nqueries:\n  - {{<<: *m{levels - 1}, id: q, event: E}}")
    return ("\n".join(lines) + "\n").encode()


def merge_chain(length: int = 3000) -> bytes:
    """Each mapping merges the one before and adds a key: quadratic if merges were copied."""
    lines = ["c0: &c0 {k0: 0}"]
    lines += [f"c{n}: &c{n} {{<<: *c{n - 1}, k{n}: {n}}}" for n in range(1, length)]
    return ("\n".join(lines) + "\n").encode()


def deep_flow(depth: int = 100_000) -> bytes:
    return b"version: 1\ntitle: " + b"[" * depth + b"]" * depth + b"\n"


BOMBS: dict[str, bytes] = {
    "billion-laughs": billion_laughs(),
    "billion-laughs-wide": billion_laughs(levels=30, width=50),
    "merge-bomb": merge_bomb(),
    "merge-chain": merge_chain(),
    "deep-flow": deep_flow(),
}

special_files = st.sampled_from(
    [
        b"",
        b"\n",
        b"# only a comment\n",
        b"\xef\xbb\xbf",
        b"---\n...\n",
        b"- a\n- b\n",
        b"just a scalar\n",
        b"~\n",
        "version: 1\ntitle: é\n".encode("utf-16"),
        *BOMBS.values(),
    ]
)


def definitions() -> st.SearchStrategy[bytes]:
    """Any of the bad (and sometimes good) definition files above."""
    return st.one_of(
        mutated_definitions(),
        mutated_definitions(),
        mutated_definitions(plausible_scalars),
        fitting_definitions(),
        spliced_definitions(),
        st.binary(max_size=200),
        special_files,
    )


def runnable_definitions() -> st.SearchStrategy[bytes]:
    """Mostly definitions that validate, so that `run` gets past the loader often."""
    return st.one_of(
        fitting_definitions(),
        fitting_definitions(),
        fitting_definitions(),
        mutated_definitions(plausible_scalars),
        spliced_definitions(),
    )


def one_line_problem(name: str) -> re.Pattern[str]:
    """`NAME:LINE:COL: message` or `NAME: message`, the only shapes a definition error takes."""
    return re.compile(rf"{re.escape(name)}(:[0-9]+:[0-9]+)?: \S.*")


def check_problem_lines(stderr: str, name: str) -> list[str]:
    """Assert stderr is one or more located one-line problems; return them."""
    lines = stderr.splitlines()
    assert lines, "exit 2 without a message"
    assert stderr.endswith("\n") and "\r" not in stderr
    pattern = one_line_problem(name)
    for line in lines:
        assert pattern.fullmatch(line), line
        assert line.isprintable(), line
        assert len(line) < 600, line
    return lines
