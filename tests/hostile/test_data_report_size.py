"""`validate` bounds what a report draws (charts, table rows), so that no valid definition can
take hours: the schema alone allowed 200 queries of 20 groups of 100 rows (189 s for the HTML,
the PDF unfinished after 240 s at 1.6 GB)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from reportkit.cli import cli
from reportkit.language.building import MAX_CHARTS, MAX_ROWS


def top_query(index: int, groups: int, top_n: int, *, chart: bool = True) -> dict[str, object]:
    query: dict[str, object] = {
        "id": f"q{index}",
        "event": "Charged",
        "groups": {
            f"g{g}": {"property_type": "event_properties", "name": f"p{g}", "top_n": top_n}
            for g in range(groups)
        },
    }
    if not chart:
        query["chart"] = {"show": False}
    return query


def trend_query(index: int, days: int) -> dict[str, object]:
    return {
        "id": f"t{index}",
        "event": "Charged",
        "kind": "trend",
        "granularity": "daily",
        "window": f"last_{days}_days",
    }


def validate(tmp_path: Path, queries: list[dict[str, object]]) -> tuple[int, list[str], Path]:
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "title": "t", "queries": queries}))
    result = CliRunner().invoke(cli, ["validate", str(path)])
    return result.exit_code, result.stderr.splitlines(), path


def test_the_largest_report_the_schema_allows_is_refused_at_the_query_that_crosses(
    tmp_path: Path,
) -> None:
    queries = [top_query(i, 20, 100) for i in range(200)]
    code, lines, path = validate(tmp_path, queries)
    assert code == 2
    # one line, not one per query past the limit; 2,000 rows a query: the rows cross first
    (line,) = lines
    crossing = MAX_ROWS // 2_000
    assert line.startswith(f"{path}:")
    assert f": queries[{crossing}]: with this query the report's tables hold up to" in line
    assert f"more than {MAX_ROWS:,}" in line


def test_many_small_breakdowns_cross_the_chart_budget(tmp_path: Path) -> None:
    code, lines, path = validate(
        tmp_path, [top_query(i, 20, 3) for i in range(MAX_CHARTS // 20 + 2)]
    )
    assert code == 2
    (line,) = lines
    crossing = MAX_CHARTS // 20
    assert f"{path}:" in line
    assert f": queries[{crossing}]: with this query the report draws" in line
    assert f"more than {MAX_CHARTS}:" in line


@pytest.mark.parametrize(
    ("queries", "fits"),
    [
        # charts: one per group breakdown
        ([top_query(i, 20, 5) for i in range(MAX_CHARTS // 20)], True),
        ([top_query(i, 20, 5) for i in range(MAX_CHARTS // 20)] + [top_query(99, 1, 5)], False),
        # a trend is one chart too
        ([top_query(i, 20, 5) for i in range(MAX_CHARTS // 20)] + [trend_query(0, 7)], False),
        # chart: {show: false} draws none, but its rows still count
        ([top_query(i, 20, 5, chart=False) for i in range(MAX_CHARTS // 20 + 5)], True),
        ([top_query(i, 20, 100, chart=False) for i in range(MAX_ROWS // 2_000 + 1)], False),
        # rows: each group's top_n, each trend's points
        ([top_query(0, 20, 100), top_query(1, MAX_ROWS // 100 - 20, 100)], True),
        (
            [top_query(0, 20, 100), top_query(1, MAX_ROWS // 100 - 20, 100), trend_query(0, 1)],
            False,
        ),
        ([trend_query(0, MAX_ROWS - 1_000), top_query(0, 10, 100)], True),
        ([trend_query(0, MAX_ROWS - 1_000), top_query(0, 10, 100), top_query(1, 1, 1)], False),
    ],
)
def test_charts_and_rows_have_one_budget_each(
    tmp_path: Path, queries: list[dict[str, object]], fits: bool
) -> None:
    code, lines, _ = validate(tmp_path, queries)
    if fits:
        assert (code, lines) == (0, [])
    else:
        assert code == 2
        (line,) = lines
        assert (f"more than {MAX_CHARTS}:" in line) or (f"more than {MAX_ROWS:,}:" in line)
        assert f": queries[{len(queries) - 1}]: with this query" in line


def test_count_queries_cost_nothing_against_the_budget(tmp_path: Path) -> None:
    queries = [{"id": f"c{i}", "event": "Charged", "kind": "count"} for i in range(200)]
    assert validate(tmp_path, queries)[:2] == (0, [])
