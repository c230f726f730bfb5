"""Our own JSON files (results.json, manifests, cache entries, sent records) edited into shapes
that make Python's decoder recurse past its limit: one line, never a RecursionError."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from reportkit.cli import cli
from reportkit.plan import Request
from reportkit.sources.cache import ResultCache
from tests.test_outputs import HTML_ONLY, _small, publish_report

DEPTHS = [100_000, 2_000]


def nested(depth: int, kind: str) -> str:
    if kind == "list":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("kind", ["list", "dict"])
@pytest.mark.parametrize("where", ["whole", "title"])
def test_render_of_a_deeply_nested_results_json_is_one_line(
    tmp_path: Path, depth: int, kind: str, where: str
) -> None:
    publish_report(tmp_path, _small(), HTML_ONLY)
    folder = tmp_path / "weekly-ecommerce" / "2026-11-29"
    results = folder / "results.json"
    if where == "whole":
        results.write_text(nested(depth, kind))
    else:
        text = results.read_text("utf-8")
        results.write_text(text.replace('"title": ', f'"title": {nested(depth, kind)}, "x": ', 1))
    done = CliRunner().invoke(cli, ["render", str(folder), "--format", "md"])
    assert done.exit_code == 1
    assert "Traceback" not in done.output and "RecursionError" not in done.output
    (line,) = done.stderr.splitlines()
    assert str(results) in line and "not a reportkit results.json" in line


def test_a_deeply_nested_manifest_is_ignored_like_any_corrupt_one(tmp_path: Path) -> None:
    publish_report(tmp_path, _small(), HTML_ONLY)
    folder = tmp_path / "weekly-ecommerce" / "2026-11-29"
    (folder / "manifest.json").write_text(nested(100_000, "list"))
    done = CliRunner().invoke(cli, ["render", str(folder)])
    assert done.exit_code == 0, done.output
    assert (folder / "report.html").is_file()


def test_a_deeply_nested_cache_entry_is_a_miss(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path, namespace="demo", today=date(2026, 11, 30))
    request = Request("/1/counts/events.json", {"event_name": "E", "from": 1, "to": 20261101})
    cache.put(request, {"count": 1})
    (entry,) = tmp_path.rglob("*.json")
    entry.write_text(nested(100_000, "dict"))
    assert cache.get(request) is None
    cache.put(request, {"count": 2})
    assert cache.get(request) == {"count": 2}


def test_results_json_that_is_fine_still_loads(tmp_path: Path) -> None:
    publish_report(tmp_path, _small(), HTML_ONLY)
    folder = tmp_path / "weekly-ecommerce" / "2026-11-29"
    assert json.loads((folder / "results.json").read_text("utf-8"))["report"]
    done = CliRunner().invoke(cli, ["render", str(folder), "--format", "md"])
    assert done.exit_code == 0, done.output
