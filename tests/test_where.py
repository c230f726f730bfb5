"""`where:` in definitions: both forms, inheritance, located errors; the plan's bodies and keys;
results.json; and the filters under each query's heading in HTML, Markdown and PDF."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from reportkit.errors import SpecError
from reportkit.language.model import Filter, OutputSpec
from reportkit.language.spec import parse_report
from reportkit.plan import plan_requests
from reportkit.render import render_report
from reportkit.results.codec import results_from_dict, results_to_dict
from tests.report_fixtures import count_query, make_report

AS_OF = date(2026, 11, 30)
HEAD = "version: 1\ntitle: Filters\nwindow: last_7_days\n"


def load(text: str) -> Any:
    return parse_report(text.encode(), Path("r.yaml"))


def problems(text: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        load(text)
    return info.value.problems


def test_the_mapping_form_reads_as_people_write_it() -> None:
    report = load(
        HEAD
        + """queries:
  - id: q
    event: Charged
    kind: count
    where:
      event: {Payment Mode: UPI, Amount: {greater_than: 500, less_than_equals: 900}}
      session: {utm_source: [google, email]}
      profile: {Customer Type: Gold, Premium: true, Gender: {does_not_exist: true}}
"""
    )
    assert report.queries[0].where == (
        Filter("event", "Payment Mode", "equals", "UPI"),
        Filter("event", "Amount", "greater_than", 500),
        Filter("event", "Amount", "less_than_equals", 900),
        Filter("session", "utm_source", "equals", ("google", "email")),
        Filter("profile", "Customer Type", "equals", "Gold"),
        Filter("profile", "Premium", "equals", "True"),  # booleans as the API takes them
        Filter("profile", "Gender", "does_not_exist"),
    )


def test_the_list_form_and_the_report_where_inherited_first() -> None:
    report = load(
        HEAD
        + """where:
  - {profile: Customer Type, not_equals: [Gold, Silver]}
queries:
  - id: q
    event: Charged
    kind: count
    where:
      - {event: Product, contains: phone}
      - {session: utm_campaign, exists: true}
  - id: plain
    event: Charged
    kind: count
"""
    )
    inherited = Filter("profile", "Customer Type", "not_equals", ("Gold", "Silver"))
    assert report.where == (inherited,)
    assert report.queries[0].where == (
        inherited,
        Filter("event", "Product", "contains", "phone"),
        Filter("session", "utm_campaign", "exists"),
    )
    assert report.queries[1].where == (inherited,)


@pytest.mark.parametrize(
    ("where", "message"),
    [
        (
            "{event: {Amount: {greater_thn: 5}}}",
            "r.yaml:8:30: queries[0].where.event.Amount.greater_thn: unknown key 'greater_thn'; "
            "did you mean 'greater_than'?",
        ),
        (
            "{event: {Amount: {greater_than: '500'}}}",
            "r.yaml:8:30: queries[0].where.event.Amount.greater_than: expected a number, "
            "got a string ('500')",
        ),
        (
            "{event: {Product: {contains: 5}}}",
            "r.yaml:8:31: queries[0].where.event.Product.contains: expected a string or a list, "
            "got an integer (5)",
        ),
        (
            "{events: {Product: x}}",
            "r.yaml:8:13: queries[0].where.events: unknown key 'events'; did you mean 'event'?",
        ),
        (
            "{event: {Coupon: {exists: false}}}",
            "r.yaml:8:30: queries[0].where.event.Coupon.exists: False is not allowed: write "
            "exists: true (or does_not_exist: true)",
        ),
        (
            "[{event: Amount, session: Amount, equals: 5}]",
            "r.yaml:8:13: queries[0].where[0]: name the property under exactly one of event:, "
            "session: or profile: (e.g. {event: Amount, greater_than: 500}), not 2",
        ),
        (
            "[{event: Amount, equals: 5, less_than: 9}]",
            "r.yaml:8:13: queries[0].where[0]: give exactly one operator (equals, not_equals, "
            "contains, does_not_contain, exists, does_not_exist, greater_than, ...); this item has "
            "equals, less_than: write one item per operator",
        ),
        (
            "[{event: Amount, between: [1, 2]}]",
            "r.yaml:8:29: queries[0].where[0].between: unknown key 'between' (allowed: contains, "
            "does_not_contain, does_not_exist, equals, event, exists, greater_than, "
            "greater_than_equals, less_than, less_than_equals, not_equals, profile, session)",
        ),
    ],
)
def test_bad_filters_get_located_one_line_errors(where: str, message: str) -> None:
    text = HEAD + f"queries:\n  - id: q\n    event: Charged\n    kind: count\n    where: {where}\n"
    assert problems(text) == [message]


def test_every_problem_of_a_filter_list_is_reported() -> None:
    text = HEAD + (
        "queries:\n  - id: q\n    event: Charged\n    kind: count\n    where:\n"
        "      - {event: Amount, greater_than: x}\n      - {event: Amount, less_thn: 5}\n"
    )
    assert [p.split(": ", 2)[1] for p in problems(text)] == [
        "queries[0].where[0].greater_than",
        "queries[0].where[1].less_thn",
    ]


# -- the plan ---------------------------------------------------------------------------------

PLANNED = (
    HEAD
    + """where: {profile: {Customer Type: Gold}}
queries:
  - id: upi
    event: Charged
    kind: count
    unique: true
    where: {event: {Payment Mode: UPI, Paid: true}}
  - id: card
    event: Charged
    kind: count
    unique: true
    where: {event: {Payment Mode: Credit Card, Paid: true}}
  - id: modes
    event: Charged
    groups: {m: {property_type: event_properties, name: Payment Mode}}
  - id: cities
    event: Charged
    groups: {c: {property_type: geo_fields, name: City}}
  - id: daily
    event: Charged
    kind: trend
    where: [{session: utm_source, exists: true}]
"""
)


def test_the_plan_puts_filters_in_every_body_exactly_as_the_api_takes_them() -> None:
    plan = plan_requests(load(PLANNED), AS_OF)
    gold = [{"name": "Customer Type", "operator": "equals", "value": "Gold"}]
    bodies = [(r.endpoint.split("/")[-1], r.body) for r in plan.requests]
    assert bodies[0] == (
        "profiles.json",
        {
            "event_name": "Charged",
            "from": 20261123,
            "to": 20261129,
            "event_properties": [
                {"name": "Payment Mode", "operator": "equals", "value": "UPI"},
                {"name": "Paid", "operator": "equals", "value": "True"},
            ],
            "common_profile_properties": gold,
        },
    )
    for _, body in bodies:
        assert body["common_profile_properties"] == gold  # the report's filter, everywhere
    trend = next(body for name, body in bodies if name == "trends.json")
    assert trend["session_properties"] == [{"name": "utm_source", "operator": "exists"}]


def test_queries_that_differ_only_in_filters_never_merge() -> None:
    plan = plan_requests(load(PLANNED), AS_OF)
    served = [
        (r.endpoint.split("/")[-1], sorted({s.query_id for s in r.serves})) for r in plan.requests
    ]
    assert served == [
        ("profiles.json", ["upi"]),
        ("profiles.json", ["card"]),
        ("top.json", ["cities", "modes"]),  # the same filters: one request for both
        ("events.json", ["cities", "modes"]),
        ("trends.json", ["daily"]),
    ]
    assert len({r.key for r in plan.requests}) == len(plan.requests)


# -- results.json and the rendered report -------------------------------------------------------

WHERE = (
    Filter("event", "Payment Mode", "equals", ("UPI", "Wallet")),
    Filter("event", "Amount", "greater_than", 500),
    Filter("profile", "Gender", "does_not_exist"),
)
SHOWN = [
    "Event Payment Mode is one of UPI, Wallet",
    "Event Amount is more than 500",
    "Profile Gender is not set",
]


def test_results_json_carries_the_filters() -> None:
    result = make_report()
    result = replace(result, queries=(replace(count_query(), where=WHERE), *result.queries[1:]))
    data = results_to_dict(result)
    assert data["queries"]["orders"]["where"] == [
        {
            "scope": "event",
            "name": "Payment Mode",
            "operator": "equals",
            "value": ["UPI", "Wallet"],
        },
        {"scope": "event", "name": "Amount", "operator": "greater_than", "value": 500},
        {"scope": "profile", "name": "Gender", "operator": "does_not_exist"},
    ]
    assert results_from_dict(data).queries[0].where == WHERE


def test_every_format_shows_the_filters_under_the_query_heading() -> None:
    result = make_report(compare=False)
    plain = result.queries[0]
    filtered = replace(count_query("big", compare=False), title="Big orders", where=WHERE)
    result = replace(result, queries=(filtered, plain))
    files = render_report(result, OutputSpec())
    html = files["report.html"].decode()
    section = html[html.index("Big orders") : html.index(plain.title)]
    assert section.count("<li>") == 3
    for text in SHOWN:
        assert f"<li>{text}</li>" in section
    md = files["report.md"].decode()
    heading = md.index("## Big orders")
    assert (
        md[heading : md.index("**Events", heading)].strip().endswith("Where: " + "; ".join(SHOWN))
    )
    assert md.count("Where: ") == 1  # only the filtered query
    pdf = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(files["report.pdf"])).pages)
    pdf = " ".join(pdf.split())
    for text in SHOWN:
        assert text in pdf
