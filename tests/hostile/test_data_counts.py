"""Counts a source answers are range-checked: a wrong number fails its query, by name."""

from __future__ import annotations

import re
from typing import Any

import pytest

from reportkit.errors import QueryFailed
from reportkit.results import MAX_COUNT, build_report_result
from tests.test_results import NOW, make_plan

BAD = [
    (-1, "a negative count"),
    (-0.5, "a negative count"),
    (2.5, "not a whole number"),
    (1e-9, "not a whole number"),
    (1e308, "more than 1e+15 events"),
    (10**40, "more than 1e+15 events"),
    (MAX_COUNT + 1, "more than 1e+15 events"),
    ("-3", "a negative count"),
    ("1.5", "not a whole number"),
    ("nan", "not a count"),
    ("inf", "not a count"),
    (float("-inf"), "not a count"),
    (True, "not a count"),
    (None, "not a count"),
    ([1], "not a count"),
]


def build(body: dict[str, Any], kind: str = "count") -> Any:
    plan = make_plan(f"  - {{id: orders, event: A, kind: {kind}}}\n")
    return build_report_result(
        plan, {r.key: body for r in plan.requests}, source="x", demo=False, generated_at=NOW
    )


@pytest.mark.parametrize(("value", "problem"), BAD)
def test_a_bad_count_fails_its_query_by_name(value: Any, problem: str) -> None:
    with pytest.raises(QueryFailed) as caught:
        build({"count": value})
    message = str(caught.value)
    assert message.startswith("query 'orders': the source answered count with ")
    assert problem in message and "\n" not in message


@pytest.mark.parametrize(("value", "problem"), BAD[:7])
def test_a_bad_trend_point_fails_its_query_by_name(value: Any, problem: str) -> None:
    with pytest.raises(QueryFailed, match=f"query .orders.: .*{re.escape(problem)}"):
        points = {"20261101": value, "20261102": 3}
        build({g: points for g in ("daily", "weekly", "monthly")}, kind="trend")


@pytest.mark.parametrize("value", [0, 7, 7.0, "12", MAX_COUNT])
def test_good_counts_pass(value: Any) -> None:
    result = build({"count": value})
    assert result.queries[0].total == int(float(value))
