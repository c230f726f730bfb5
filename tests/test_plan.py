"""Report -> requests: merged by event and window, deduplicated, each remembering what it serves."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from reportkit.errors import WindowError
from reportkit.language.spec import load_report, parse_report
from reportkit.plan import plan_requests

AS_OF = date(2026, 11, 30)
REPORTS = Path(__file__).resolve().parent.parent / "reports"


def report(body: str, header: str = "") -> object:
    return parse_report(f"version: 1\ntitle: T\n{header}queries:\n{body}", Path("t.yaml"))


def test_the_vendor_example_plans_to_the_documented_request() -> None:
    plan = plan_requests(load_report(REPORTS / "charged-breakdown.yaml"), AS_OF)
    top = plan.requests[0]
    assert top.endpoint == "/1/counts/top.json"
    assert top.body == {
        "event_name": "Charged",
        "from": 20261031,
        "to": 20261129,
        "groups": {
            "foo": {
                "property_type": "event_properties",
                "name": "Amount",
                "top_n": 10,
                "order": "desc",
            },
            "bar": {
                "property_type": "profile_fields",
                "name": "Customer Type",
                "top_n": 2,
                "order": "asc",
            },
        },
    }
    assert [(s.query_id, s.group, s.request_key) for s in top.serves] == [
        ("charged", "foo", "foo"),
        ("charged", "bar", "bar"),
    ]
    # the share column needs the event's total in the same window
    assert plan.requests[1].endpoint == "/1/counts/events.json"
    assert plan.requests[1].body == {"event_name": "Charged", "from": 20261031, "to": 20261129}


def test_groups_of_one_event_and_window_share_one_request() -> None:
    r = report(
        """\
  - id: a
    event: Charged
    groups: {city: {property_type: geo_fields, name: City}}
  - id: b
    event: Charged
    groups:
      city: {property_type: geo_fields, name: City, top_n: 5}
      same: {property_type: geo_fields, name: City}
  - id: c
    event: Charged
    window: last_30_days
    groups: {city: {property_type: geo_fields, name: City}}
"""
    )
    plan = plan_requests(r, AS_OF)  # type: ignore[arg-type]
    tops = [q for q in plan.requests if q.endpoint == "/1/counts/top.json"]
    assert len(tops) == 2  # one per window
    merged = tops[0]
    assert list(merged.body["groups"]) == ["city", "b.city"]  # identical groups asked once
    assert merged.body["groups"]["b.city"]["top_n"] == 5
    assert [(s.query_id, s.group, s.request_key) for s in merged.serves] == [
        ("a", "city", "city"),
        ("b", "city", "b.city"),
        ("b", "same", "city"),
    ]
    totals = [q for q in plan.requests if q.endpoint == "/1/counts/events.json"]
    assert len(totals) == 2
    assert [s.query_id for s in totals[0].serves] == ["a", "b"]


def test_identical_requests_are_sent_once_and_compare_doubles_them() -> None:
    r = report(
        """\
  - id: orders
    event: Charged
    kind: count
    unique: true
  - id: orders_again
    event: Charged
    kind: count
""",
        header="compare: previous_year\n",
    )
    plan = plan_requests(r, AS_OF)  # type: ignore[arg-type]
    keys = [(q.endpoint, q.body["from"]) for q in plan.requests]
    # a unique count asks profiles.json alone: its tcount is the event total
    assert keys == [
        ("/1/counts/profiles.json", 20261123),
        ("/1/counts/profiles.json", 20251123),
        ("/1/counts/events.json", 20261123),
        ("/1/counts/events.json", 20251123),
    ]
    assert {(s.query_id, s.measure) for s in plan.requests[0].serves} == {
        ("orders", "total"),
        ("orders", "unique"),
    }
    assert {s.query_id for s in plan.requests[2].serves} == {"orders_again"}
    assert {s.role for s in plan.requests[1].serves} == {"previous"}
    assert len({q.key for q in plan.requests}) == len(plan.requests)


def test_trend_requests_carry_granularity_unique_and_sum() -> None:
    r = report(
        """\
  - id: revenue
    event: Charged
    kind: trend
    granularity: weekly
    sum_event_prop: Amount
  - id: revenue_daily
    event: Charged
    kind: trend
    sum_event_prop: Amount
"""
    )
    plan = plan_requests(r, AS_OF)  # type: ignore[arg-type]
    assert len(plan.requests) == 1
    assert plan.requests[0].body == {
        "event_name": "Charged",
        "from": 20261123,
        "to": 20261129,
        "unique": False,
        "sum_event_prop": "Amount",
        "groups": {"weekly": {"trend_type": "weekly"}, "daily": {"trend_type": "daily"}},
    }


def test_a_window_with_no_day_names_the_report_and_query() -> None:
    r = report("  - id: mtd\n    event: E\n    kind: count\n    window: month_to_date\n")
    with pytest.raises(WindowError, match=r"t\.yaml: query 'mtd': window 'month_to_date' has no"):
        plan_requests(r, date(2026, 12, 1))  # type: ignore[arg-type]


def test_weekly_example_plans_merged_requests() -> None:
    plan = plan_requests(load_report(REPORTS / "weekly-ecommerce.yaml"), AS_OF)
    endpoints = [q.endpoint for q in plan.requests]
    # Charged's two top queries share one request per window.
    charged_tops = [
        q
        for q in plan.requests
        if q.endpoint.endswith("top.json") and q.body["event_name"] == "Charged"
    ]
    assert len(charged_tops) == 2
    assert len(charged_tops[0].body["groups"]) == 6
    assert len(endpoints) == len({q.key for q in plan.requests})
    served = {s.query_id for q in plan.requests for s in q.serves}
    assert served == {q.id for q in plan.report.queries}


def test_a_trend_longer_than_a_year_is_asked_in_month_aligned_parts() -> None:
    r = report(
        "  - id: t\n    event: E\n    kind: trend\n    granularity: monthly\n"
        "    window: {from: 2025-01-15, to: 2026-11-29}\n"
    )
    plan = plan_requests(r, AS_OF)  # type: ignore[arg-type]
    assert [(q.body["from"], q.body["to"]) for q in plan.requests] == [
        (20250115, 20251231),
        (20260101, 20261129),
    ]
    assert all(q.serves[0].query_id == "t" for q in plan.requests)
    short = plan_requests(
        report("  - {id: t, event: E, kind: trend, window: last_365_days}\n"), AS_OF
    )  # type: ignore[arg-type]
    assert len(short.requests) == 1
