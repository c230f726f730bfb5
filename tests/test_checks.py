"""Checks and highlights: validated at load time (located errors), evaluated over the numbers,
kept in results.json and shown at the top of every format. Fast: no source, no PDF."""

from __future__ import annotations

import dataclasses
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from reportkit.cli import cli
from reportkit.errors import SpecError
from reportkit.language import expressions
from reportkit.language.model import Check
from reportkit.language.spec import parse_report
from reportkit.render.environment import text_environment
from reportkit.results import Row
from reportkit.results.checks import evaluate_checks, in_reading_order
from reportkit.results.codec import results_from_dict, results_to_dict
from reportkit.results.context import GroupFacts, PointFacts, QueryFacts, ReportFacts, RowFacts
from reportkit.results.highlights import find_highlights
from reportkit.runner import assess
from tests.report_fixtures import count_query, make_report, top_query

HEAD = """version: 1
title: T
compare: previous_period
queries:
  - id: orders
    event: Charged
    kind: count
  - id: buyers
    event: Charged
    groups:
      city: { property_type: geo_fields, name: City }
  - id: funnel
    event: [Product Viewed, Charged]
    kind: count
"""


def load(checks: str, path: Path = Path("r.yaml")) -> object:
    return parse_report(HEAD + checks, path)


def problems(checks: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        load(checks)
    return info.value.problems


# --------------------------------------------------------------------------- validation


def test_a_valid_check_loads_without_its_braces() -> None:
    report = load(
        'checks:\n  - id: drop\n    expect: "{{ queries.orders.total_pct_change is none'
        ' or queries.orders.total_pct_change > -20 }}"\n'
        "    message: 'Orders fell {{ queries.orders.total_pct_change | percent }}'\n"
    )
    (check,) = report.checks  # type: ignore[attr-defined]
    assert check.expect.startswith("queries.orders.total_pct_change is none")
    assert check.severity == "fail"


@pytest.mark.parametrize(
    ("expect", "expected"),
    [
        (
            "queries.oders.total > 1",
            "r.yaml:17:5: checks[0].expect: unknown query id 'oders'; did you mean 'orders'?",
        ),
        (
            "queries.orders.totl > 1",
            "r.yaml:17:5: checks[0].expect: queries.orders has no attribute 'totl'; did you mean 'total'?",
        ),
        (
            "queries.orders.total >",
            "r.yaml:17:5: checks[0].expect: Jinja syntax error: unexpected 'end of print statement'",
        ),
        (
            "queries.buyers.groups.town.rows",
            "r.yaml:17:5: checks[0].expect: queries.buyers.groups has no group 'town' (known: city)",
        ),
        (
            "queries.buyers.groups.city.rows[0].cnt > 1",
            "r.yaml:17:5: checks[0].expect: queries.buyers.groups.city.rows[...] has no attribute 'cnt'; did you mean 'count'?",
        ),
        (
            "queries.orders.total | percnt",
            "r.yaml:17:5: checks[0].expect: unknown filter 'percnt'; did you mean 'percent'?",
        ),
        (
            "total > 1",
            "r.yaml:17:5: checks[0].expect: unknown name 'total' (known: queries, report, window)",
        ),
        (
            "queries.funnel.charged.total > 1",
            "r.yaml:17:5: checks[0].expect: query id 'funnel.charged' holds a dot: write queries['funnel.charged'], not queries.funnel.charged",
        ),
        (
            "(queries.buyers.groups.cty.rows | first).count",
            "r.yaml:17:5: checks[0].expect: queries.buyers.groups has no group 'cty'; did you mean 'city'?",
        ),
        (
            "report.name",
            "r.yaml:17:5: checks[0].expect: report has no attribute 'name' (known: id, title, description, timezone, as_of, source, demo)",
        ),
    ],
)
def test_a_bad_expression_is_a_located_error(expect: str, expected: str) -> None:
    assert problems(f"checks:\n  - id: c\n    expect: '{expect}'\n") == [expected]


def test_a_bad_message_and_a_query_level_check_are_located() -> None:
    text = (
        "checks:\n  - id: c\n    expect: queries.orders.total > 0\n"
        "    message: '{{ queries.orders.unique_pct_chnage }}'\n"
    )
    assert problems(text) == [
        "r.yaml:18:5: checks[0].message: queries.orders has no attribute 'unique_pct_chnage';"
        " did you mean 'unique_pct_change'?"
    ]
    own = HEAD.replace(
        "    kind: count\n  - id: buyers",
        "    kind: count\n    checks:\n      - { id: some, expect: query.totals > 0 }\n"
        "  - id: buyers",
        1,
    )
    with pytest.raises(SpecError) as info:
        parse_report(own, Path("r.yaml"))
    assert info.value.problems == [
        "r.yaml:9:21: queries[0].checks[0].expect: query has no attribute 'totals';"
        " did you mean 'total'?"
    ]


def test_a_message_may_loop_and_use_jinja_globals() -> None:
    report = load(
        "checks:\n  - id: c\n    expect: queries.buyers.groups.city.rows | length > 0\n"
        "    message: '{% for r in queries.buyers.groups.city.rows %}{{ loop.index }}"
        " {{ r.label }}: {{ r.count }} {% endfor %}{{ range(2) | list }}'\n"
    )
    assert report.checks[0].message.startswith("{% for r in")  # type: ignore[attr-defined]


def test_validate_exits_2_with_the_located_line(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(HEAD + "checks:\n  - id: c\n    expect: queries.nope.total > 1\n")
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 2
    assert result.stderr == (
        f"{path}:17:5: checks[0].expect: unknown query id 'nope' (known: buyers, "
        "funnel.charged, funnel.product_viewed, orders)\n"
    )


def test_the_validator_knows_exactly_the_context_names() -> None:
    def names(cls: type) -> set[str]:
        return {f.name for f in dataclasses.fields(cls)}

    assert set(expressions.QUERY_FIELDS) == names(QueryFacts)
    assert set(expressions.GROUP_FIELDS) == names(GroupFacts)
    assert set(expressions.ROW_FIELDS) == names(RowFacts)
    assert set(expressions.POINT_FIELDS) == names(PointFacts)
    assert set(expressions.REPORT_FIELDS) == names(ReportFacts)
    from reportkit.render.environment import FILTERS

    assert set(expressions.OUR_FILTERS) == set(FILTERS)


# --------------------------------------------------------------------------- evaluation


def evaluate(*checks: Check, result: object = None) -> list[tuple[str, bool, str]]:
    from reportkit.deliver.email import email_context

    res = result or make_report()
    out = evaluate_checks(checks, email_context(res), text_environment())  # type: ignore[arg-type]
    return [(c.id, c.passed, c.message) for c in out]


def test_checks_pass_fail_and_say_why() -> None:
    # orders: 48,213 against 45,110 (+6.9%); top-products rows with previous counts
    got = evaluate(
        Check("up", "queries.orders.total_pct_change > 5", title="Orders grew"),
        Check(
            "big-drop",
            "queries.orders.total < 1000",
            message="Only {{ queries.orders.total | number }} orders ({{ queries.orders.total_pct_change | delta(1, '%') }})",
        ),
        Check("no-message", "queries.orders.unique > 10000", severity="warn"),
        Check("rows", "queries['top-products'].groups.product.rows | length == 10"),
    )
    assert got == [
        ("up", True, "Orders grew"),
        ("big-drop", False, "Only 48,213 orders (+6.9%)"),
        ("no-message", False, "no-message: expected queries.orders.unique > 10000"),
        ("rows", True, "rows"),
    ]


def test_an_expression_that_cannot_be_evaluated_fails_its_check_instead_of_the_run() -> None:
    result = make_report(compare=False)  # no previous counts: total_pct_change is none
    ((_, passed, message),) = evaluate(
        Check("drop", "queries.orders.total_pct_change > -20"), result=result
    )
    assert not passed
    assert message.startswith("drop: cannot evaluate 'queries.orders.total_pct_change > -20'")
    assert "NoneType" in message


def test_a_query_check_sees_its_query_and_a_missing_query_fails() -> None:
    own = Check("some", "query.total > 1000", query="orders")
    gone = Check("gone", "query.total > 0", query="not-run")
    assert evaluate(own, gone) == [
        ("some", True, "some"),
        ("gone", False, "gone: query 'not-run' has no result"),
    ]


def test_the_sandbox_refuses_to_reach_python_internals() -> None:
    ((_, passed, message),) = evaluate(
        Check("escape", "queries.orders.__class__.__mro__[1].__subclasses__() | length > 0")
    )
    assert not passed
    assert "cannot evaluate" in message


def test_expressions_cannot_compute_for_ever_or_fill_the_memory() -> None:
    got = evaluate(
        Check("power", "2 ** 100000000 > 1"),
        Check("repeat", "('x' * 10 ** 9) | length > 1"),
        Check("fine", "2 ** 10 == 1024 and 'ab' * 2 == 'abab'"),
    )
    assert [(i, p) for i, p, _ in got] == [("power", False), ("repeat", False), ("fine", True)]
    # the shared bounded sandbox (reportkit.render.sandbox) names the operator it stopped
    assert "the ** operator: a number too large for a template" in got[0][2]
    assert "the * operator" in got[1][2] and "more than a template may make" in got[1][2]


def test_failed_checks_come_first_fail_before_warn() -> None:
    from reportkit.results import CheckResult

    checks = [
        CheckResult("a", "fail", True, "a"),
        CheckResult("b", "warn", False, "b"),
        CheckResult("c", "fail", False, "c"),
    ]
    assert [c.id for c in in_reading_order(checks)] == ["c", "b", "a"]


# --------------------------------------------------------------------------- highlights


def test_highlights_rank_by_percent_over_a_minimum_count() -> None:
    rows = (
        Row("STR", "Shoes", 150, 100),  # +50%
        Row("STR", "Hats", 5, 1),  # +400% but tiny: left out
        Row("STR", "Belts", 30, 60),  # -50%, fewer moved: after Shoes
        Row("STR", "-1", 90, 100),  # -10%
        Row("STR", "Socks", 40, None),  # new: nothing to compare
    )
    query = replace(
        top_query(),
        groups=(replace(top_query().groups[0], rows=rows),),
        total=315,
        previous_total=300,
    )
    result = make_report(queries=(query,))
    texts = [h.text for h in find_highlights(result, limit=4)]
    assert texts == [
        "Product “Shoes” in Most viewed products rose 50.0% to 150 (from 100).",
        "Product “Belts” in Most viewed products fell 50.0% to 30 (from 60).",
        "Product (not set) in Most viewed products fell 10.0% to 90 (from 100).",
        "Most viewed products (Product Viewed events) rose 5.0% to 315 (from 300).",
    ]


def test_no_compare_no_highlights_and_output_can_turn_them_off() -> None:
    report = parse_report(HEAD, Path("r.yaml"))
    result = make_report(queries=(count_query(),))
    assert [h.query_id for h in assess(report, result).highlights] == ["orders", "orders"]
    off = parse_report(HEAD + "output: { highlights: false }\n", Path("r.yaml"))
    assert assess(off, result).highlights == ()
    plain = parse_report(HEAD.replace("compare: previous_period\n", ""), Path("r.yaml"))
    assert assess(plain, result).highlights == ()


# --------------------------------------------------------------------------- results.json


def test_checks_and_highlights_survive_results_json() -> None:
    report = parse_report(
        HEAD + "checks:\n  - { id: big, expect: queries.orders.total > 10**6, severity: warn }\n",
        Path("r.yaml"),
    )
    result = assess(report, make_report(queries=(count_query(),)))
    data = results_to_dict(result)
    assert data["checks"] == [
        {
            "id": "big",
            "severity": "warn",
            "passed": False,
            "message": "big: expected queries.orders.total > 10**6",
        }
    ]
    assert data["highlights"][0]["text"].startswith("Orders placed rose 6.9% to 48,213")
    assert results_from_dict(data) == result


def test_a_report_without_checks_keeps_results_json_as_it_was() -> None:
    data = results_to_dict(make_report(compare=False))
    assert "checks" not in data and "highlights" not in data


# --------------------------------------------------------------------------- formats


def _rendered(checks_yaml: str) -> tuple[str, str]:
    from reportkit.language.model import OutputSpec
    from reportkit.render import render_report

    report = parse_report(HEAD + checks_yaml, Path("r.yaml"))
    result = assess(report, make_report(queries=(count_query(), top_query())))
    files = render_report(result, OutputSpec(formats=("html", "md")))
    return files["report.html"].decode(), files["report.md"].decode()


def test_a_failed_check_is_the_first_thing_in_html_and_markdown() -> None:
    from html.parser import HTMLParser

    html, md = _rendered(
        "checks:\n"
        "  - { id: fine, expect: queries.orders.total > 0, title: Orders came in }\n"
        "  - { id: warned, expect: queries.orders.total > 10**6, severity: warn,"
        " message: Fewer than a million <b>orders</b> }\n"
        "  - { id: broken, expect: queries.orders.total < 0, message: Negative orders }\n"
    )
    texts: list[str] = []

    class Text(HTMLParser):
        def handle_data(self, data: str) -> None:
            if data.strip():
                texts.append(data.strip())

    body = html[html.index("<body") :]
    Text().feed(body)
    assert texts[:7] == [
        "2 of 3 checks failed",
        "FAILED",
        "Negative orders",
        "broken",
        "WARNING",
        "Fewer than a million <b>orders</b>",
        "warned",
    ]
    assert body.index("checks-failed") < body.index("demo-banner") < body.index("<h1>")
    lines = md.splitlines()
    assert lines[:7] == [
        "# Weekly e-commerce",
        "",
        "**Checks: 2 of 3 failed**",
        "",
        "- ❌ **FAILED**: Negative orders (broken)",
        "- ⚠️ **WARNING**: Fewer than a million &lt;b&gt;orders&lt;/b&gt; (warned)",
        "- ✅ OK: Orders came in (fine)",
    ]
    assert "## What changed" in md


def test_passed_checks_sit_under_the_facts_and_no_checks_show_no_block() -> None:
    html, md = _rendered("checks:\n  - { id: fine, expect: queries.orders.total > 0 }\n")
    assert html.index("</header>") < html.index("All 1 checks passed")
    assert "**Checks: all 1 passed**" in md
    html, md = _rendered("")
    assert "checks" not in html.split("<style>")[0] + html.split("</style>")[1]
    assert "Checks" not in md
