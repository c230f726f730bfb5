"""API bodies -> result tables: ranking, trimming, several type tags, compare values."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from reportkit.errors import QueryFailed
from reportkit.language.spec import parse_report
from reportkit.plan import Plan, plan_requests
from reportkit.results import Row, build_report_result, in_range_order, rank_rows

AS_OF = date(2026, 11, 30)
NOW = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)


def make_plan(queries: str, header: str = "") -> Plan:
    report = parse_report(f"version: 1\ntitle: T\n{header}queries:\n{queries}", Path("t.yaml"))
    return plan_requests(report, AS_OF)


def answer(
    plan: Plan, by_endpoint_and_from: dict[tuple[str, int], dict[str, Any]]
) -> dict[str, Any]:
    return {
        r.key: by_endpoint_and_from[(r.endpoint.split("/")[-1], r.body["from"])]
        for r in plan.requests
    }


TOP = """\
  - id: q
    event: Charged
    groups:
      city: {property_type: geo_fields, name: City, top_n: 3}
      amount: {property_type: event_properties, name: Amount, top_n: 2, order: asc}
"""


def test_top_rows_are_ranked_tied_by_value_and_trimmed_across_type_tags() -> None:
    plan = make_plan(TOP)
    bodies = answer(
        plan,
        {
            ("top.json", 20261123): {
                "status": "success",
                "city": {
                    "STR": {"Pune": 5, "Berlin": 9, "-1": 5, "Austin": 2},
                    "ENUM": {"Oslo": "9"},
                },
                "amount": {"NUMBER": {"200-300": 4, "0-100": 7, "100-200": 4}},
            },
            ("events.json", 20261123): {"status": "success", "count": 30},
        },
    )
    result = build_report_result(plan, bodies, source="demo", demo=True, generated_at=NOW)
    (query,) = result.queries
    city, amount = query.groups
    assert city.rows == (
        Row("STR", "Berlin", 9),
        Row("ENUM", "Oslo", 9),
        Row("STR", "-1", 5),
    )
    # asc, ties by the range's low end
    assert amount.rows == (Row("NUMBER", "100-200", 4), Row("NUMBER", "200-300", 4))
    assert query.total == 30
    assert query.window.start == date(2026, 11, 23)


def test_compare_fills_previous_counts_by_value() -> None:
    plan = make_plan(TOP, header="compare: previous_period\n")
    bodies = answer(
        plan,
        {
            ("top.json", 20261123): {
                "status": "success",
                "city": {"STR": {"Pune": 5, "Berlin": 9}},
            },
            ("top.json", 20261116): {"status": "success", "city": {"STR": {"Pune": 1}}},
            ("events.json", 20261123): {"status": "success", "count": 14},
            ("events.json", 20261116): {"status": "success", "count": "3"},
        },
    )
    (query,) = build_report_result(plan, bodies, source="demo", demo=True, generated_at=NOW).queries
    # the previous list is shorter than top_n (3): it is complete, so Berlin had none then
    assert query.groups[0].rows == (Row("STR", "Berlin", 9, 0), Row("STR", "Pune", 5, 1))
    assert query.groups[1].rows == ()  # the source left the group out: no rows
    assert (query.total, query.previous_total) == (14, 3)
    assert query.previous_window is not None and query.previous_window.end == date(2026, 11, 22)


def test_a_value_outside_the_previous_top_n_is_marked_never_blank() -> None:
    """Face Cream is 3rd now and was 4th before, outside the previous top 3: its previous count
    is unknown, and says so. A type whose previous list was short is complete: 0."""
    plan = make_plan(TOP, header="compare: previous_period\n")
    bodies = answer(
        plan,
        {
            ("top.json", 20261123): {
                "status": "success",
                "city": {"STR": {"Pune": 50, "Berlin": 40, "Face Cream": 30}, "ENUM": {"Oslo": 1}},
            },
            ("top.json", 20261116): {
                "status": "success",
                "city": {"STR": {"Pune": 45, "Berlin": 41, "Lyon": 28}, "ENUM": {"Rome": 2}},
            },
            ("events.json", 20261123): {"status": "success", "count": 121},
            ("events.json", 20261116): {"status": "success", "count": 140},
        },
    )
    (query,) = build_report_result(plan, bodies, source="demo", demo=True, generated_at=NOW).queries
    assert query.groups[0].rows == (
        Row("STR", "Pune", 50, 45),
        Row("STR", "Berlin", 40, 41),
        Row("STR", "Face Cream", 30, None, previous_outside_top_n=True),
    )
    plan_one = make_plan(TOP.replace("top_n: 3", "top_n: 5"), header="compare: previous_period\n")
    (wide,) = build_report_result(
        plan_one,
        answer(plan_one, {k: v for k, v in _keys(bodies, plan)}),
        source="demo",
        demo=True,
        generated_at=NOW,
    ).queries
    by_value = {r.value: r for r in wide.groups[0].rows}
    # the previous answer listed 4 values, fewer than top_n 5: complete, so these had none
    assert by_value["Oslo"] == Row("ENUM", "Oslo", 1, 0)
    assert by_value["Face Cream"].previous == 0


def _keys(bodies: dict[str, Any], plan: Plan) -> list[tuple[tuple[str, int], dict[str, Any]]]:
    return [((r.endpoint.split("/")[-1], r.body["from"]), bodies[r.key]) for r in plan.requests]


def test_count_and_trend_results() -> None:
    plan = make_plan(
        """\
  - {id: orders, event: Charged, kind: count, unique: true}
  - {id: daily, event: Charged, kind: trend, sum_event_prop: Amount}
""",
        header="compare: previous_period\n",
    )
    bodies = answer(
        plan,
        {
            # a unique count's total is the profiles answer's tcount (no events.json asked)
            ("profiles.json", 20261123): {"status": "success", "count": 80, "tcount": 120},
            ("profiles.json", 20261116): {"status": "success", "count": 70, "tcount": 100},
            ("trends.json", 20261123): {
                "status": "success",
                "daily": {"20261124": 5, "20261123": 4},
            },
            ("trends.json", 20261116): {"status": "success", "daily": {"20261116": 1}},
        },
    )
    orders, daily = build_report_result(
        plan, bodies, source="demo", demo=True, generated_at=NOW
    ).queries
    assert (orders.total, orders.previous_total, orders.unique, orders.previous_unique) == (
        120,
        100,
        80,
        70,
    )
    assert [(p.period, p.count, p.previous) for p in daily.trend] == [
        ("20261123", 4, 1),
        ("20261124", 5, None),
    ]
    assert daily.granularity == "daily"
    assert daily.measure == "Sum of Amount"


def test_a_query_without_answers_is_left_out() -> None:
    plan = make_plan("  - {id: a, event: A, kind: count}\n  - {id: b, event: B, kind: count}\n")
    a = next(r for r in plan.requests if r.body["event_name"] == "A")
    result = build_report_result(
        plan, {a.key: {"count": 1}}, source="demo", demo=False, generated_at=NOW
    )
    assert [q.query_id for q in result.queries] == ["a"]


def test_a_count_that_is_not_a_number_names_the_query() -> None:
    plan = make_plan("  - {id: a, event: A, kind: count}\n")
    with pytest.raises(QueryFailed, match="query 'a': the source answered count with 'lots'"):
        build_report_result(
            plan,
            {plan.requests[0].key: {"count": "lots"}},
            source="x",
            demo=False,
            generated_at=NOW,
        )


def test_rank_rows_desc_and_asc() -> None:
    rows = [Row("STR", "b", 2), Row("STR", "a", 2), Row("STR", "c", 5)]
    assert [r.value for r in rank_rows(rows, "desc", 10)] == ["c", "a", "b"]
    assert [r.value for r in rank_rows(rows, "asc", 2)] == ["a", "b"]


def test_ranges_are_put_in_range_order_for_histograms() -> None:
    rows = [Row("NUMBER", "100-200", 9), Row("NUMBER", "-50-0", 1), Row("NUMBER", "0-50", 3)]
    assert [r.value for r in in_range_order(rows)] == ["-50-0", "0-50", "100-200"]


def test_a_split_trend_is_merged_back_into_one_series() -> None:
    plan = make_plan(
        "  - id: t\n    event: E\n    kind: trend\n    granularity: monthly\n"
        "    window: {from: 2025-01-15, to: 2026-11-29}\n"
    )
    first, second = plan.requests
    bodies = {
        first.key: {"status": "success", "monthly": {"20250101": 3, "20251201": 4}},
        second.key: {"status": "success", "monthly": {"20260101": 5, "20261101": 6}},
    }
    (query,) = build_report_result(plan, bodies, source="x", demo=False, generated_at=NOW).queries
    assert [(p.period, p.count) for p in query.trend] == [
        ("20250101", 3),
        ("20251201", 4),
        ("20260101", 5),
        ("20261101", 6),
    ]
