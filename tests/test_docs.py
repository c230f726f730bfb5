"""The schema is the single source of truth: docs and editors see every key with its help."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

from reportkit.language.model import WindowSpec
from reportkit.language.windows import previous_window, resolve_window

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "schemas" / "report.schema.json").read_text())
README = (ROOT / "README.md").read_text()


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


def test_readme_documents_every_report_and_query_key() -> None:
    report_keys = set(SCHEMA["properties"])
    query_keys = set(SCHEMA["$defs"]["query"]["properties"])
    documented = set(re.findall(r"^\| `([a-z_]+)`", README, flags=re.M))
    documented |= {
        k for pair in re.findall(r"^\| `([a-z_]+)`, `([a-z_]+)`", README, flags=re.M) for k in pair
    }
    assert report_keys <= documented, report_keys - documented
    assert query_keys <= documented, query_keys - documented


def test_readme_window_table_matches_the_resolver() -> None:
    as_of = date(2026, 11, 18)
    rows = re.findall(
        r"^\| `([a-z0-9_]+)` \| (\S+) \.\. (\S+) \| (\S+) \.\. (\S+) \| (\S+) \.\. (\S+) \|$",
        README,
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
