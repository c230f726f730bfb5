"""The schema is the single source of truth: docs and editors see every key with its help, and
every YAML example a user might copy from the README or docs/ is a valid definition."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from reportkit.language.model import WindowSpec
from reportkit.language.spec import parse_report
from reportkit.language.windows import previous_window, resolve_window

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "schemas" / "report.schema.json").read_text())
README = (ROOT / "README.md").read_text()
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
REFERENCE = (ROOT / "docs" / "definitions.md").read_text()
REPORT_KEYS = set(SCHEMA["properties"])
QUERY_KEYS = set(SCHEMA["$defs"]["query"]["properties"])
BASE = {
    "version": 1,
    "title": "Example",
    "queries": [{"id": "q", "event": "Charged", "kind": "count"}],
}


def _properties(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found = []
    if isinstance(node, dict):
        for name, sub in node.get("properties", {}).items():
            found.append((f"{path}.{name}", sub))
        for key, sub in node.items():
            if key in ("properties", "$defs"):
                for name, child in sub.items():
                    found.extend(_properties(child, f"{path}.{name}"))
            elif isinstance(sub, dict | list):
                found.extend(_properties(sub, path) if isinstance(sub, dict) else [])
    return found


def test_every_schema_property_has_a_title_and_description() -> None:
    props = _properties(SCHEMA)
    assert len(props) > 40
    for path, node in props:
        if "$ref" in node and len(node) == 1:
            continue  # the referenced definition carries them
        assert node.get("title"), path
        assert node.get("description"), path


def test_the_reference_documents_every_report_and_query_key() -> None:
    documented = set(re.findall(r"^\| `([a-z_]+)`", REFERENCE, flags=re.M))
    documented |= {
        k
        for pair in re.findall(r"^\| `([a-z_]+)`, `([a-z_]+)`", REFERENCE, flags=re.M)
        for k in pair
    }
    assert documented >= REPORT_KEYS, REPORT_KEYS - documented
    assert documented >= QUERY_KEYS, QUERY_KEYS - documented


def test_the_readme_links_every_docs_page() -> None:
    for page in (ROOT / "docs").glob("*.md"):
        assert f"](docs/{page.name})" in README, page.name


def _yaml_examples() -> list[tuple[str, str]]:
    found = []
    for path in DOC_FILES:
        text = path.read_text("utf-8")
        for match in re.finditer(r"^```yaml\n(.*?)^```", text, flags=re.M | re.S):
            line = text.count("\n", 0, match.start()) + 2
            found.append((f"{path.relative_to(ROOT)}:{line}", match.group(1)))
    return found


EXAMPLES = _yaml_examples()


def _as_definition(block: str) -> str | None:
    """The example as a whole definition: itself when it is one, a fragment of a report or of a
    query set into a minimal one, None when it is not reportkit's (a pre-commit config)."""
    data = yaml.safe_load(block)
    if not isinstance(data, dict):
        return None
    if "version" in data:
        return block
    if set(data) <= REPORT_KEYS:
        return yaml.safe_dump({**BASE, **data}, sort_keys=False)
    if set(data) <= QUERY_KEYS:
        query = {"id": "q", "event": "Charged", **data}
        if "groups" not in query:
            query.setdefault("kind", "count")
        return yaml.safe_dump({**BASE, "queries": [query]})
    return None


def test_the_docs_have_examples_to_check() -> None:
    definitions = [where for where, block in EXAMPLES if _as_definition(block) is not None]
    assert len(definitions) >= 4, definitions


@pytest.mark.parametrize(("where", "block"), EXAMPLES, ids=[w for w, _ in EXAMPLES])
def test_every_yaml_example_in_the_docs_is_valid(where: str, block: str, tmp_path: Path) -> None:
    text = _as_definition(block)
    if text is None:
        yaml.safe_load(block)  # not a definition, but still good YAML
        return
    report = parse_report(text, tmp_path / "example.yaml")  # raises SpecError, located
    assert report.queries


def test_the_window_table_matches_the_resolver() -> None:
    as_of = date(2026, 11, 18)
    rows = re.findall(
        r"^\| `([a-z0-9_]+)` \| (\S+) \.\. (\S+) \| (\S+) \.\. (\S+) \| (\S+) \.\. (\S+) \|$",
        REFERENCE,
        flags=re.M,
    )
    assert len(rows) >= 20
    for token, *dates in rows:
        spec = WindowSpec(token=token)
        current = resolve_window(spec, as_of)
        period = previous_window(spec, current, "previous_period")
        year = previous_window(spec, current, "previous_year")
        expected = [str(d) for r in (current, period, year) for d in (r.start, r.end)]
        assert dates == expected, token
