"""The rules behind the bad-input answers, one at a time: reader, schema patterns, windows, options."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reportkit.cli import cli
from reportkit.errors import SpecError, WindowError, one_line
from reportkit.language.schema_check import ecma_regex
from reportkit.language.spec import MAX_BYTES, load_report, parse_report
from reportkit.language.windows import DateRange
from reportkit.plan import plan_requests, split_for_trends

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "schemas" / "report.schema.json").read_text())

GOOD = """\
version: 1
title: Weekly
queries:
  - id: sales
    event: Charged
    groups:
      amount: {property_type: event_properties, name: Amount}
"""


def problems(text: str | bytes) -> list[str]:
    with pytest.raises(SpecError) as info:
        parse_report(text if isinstance(text, bytes) else text.encode(), Path("r.yaml"))
    return info.value.problems


# --------------------------------------------------------------------------- reading YAML


def test_merge_keys_let_own_keys_win_and_earlier_merges_win() -> None:
    text = GOOD.replace(
        "      amount: {property_type: event_properties, name: Amount}\n",
        "      a: &a {property_type: event_properties, name: Amount, top_n: 3}\n"
        "      b: &b {property_type: profile_fields, name: City, top_n: 4, order: asc}\n"
        "      c: {<<: [*b, *a], name: Product, top_n: 7}\n",
    )
    group = parse_report(text, Path("r.yaml")).queries[0].groups[2]
    assert (group.key, group.property_type, group.name, group.top_n, group.order) == (
        "c",
        "profile_fields",
        "Product",
        7,
        "asc",
    )


def test_a_merge_of_a_scalar_is_located() -> None:
    assert problems("a: &a 5\nb: {<<: *a}\n") == [
        "r.yaml:2:5: a merge key << takes a mapping or a list of mappings"
    ]


def test_an_aliased_list_item_is_located_at_the_alias() -> None:
    text = GOOD + "  - &q {id: q2, kind: count}\n  - *q\n"
    assert problems(text) == [
        "r.yaml:8:5: queries[1]: missing required key 'event'",
        "r.yaml:9:5: queries[2]: missing required key 'event'",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("version: !!bool maybe\n", "r.yaml:1:10: cannot read 'maybe' as !!bool"),
        ("version: !!int ''\n", "r.yaml:1:10: cannot read '' as !!int"),
        ("!!python/name:os.system : 1\n", "r.yaml:1:1: the YAML tag !!python/name:os.system is "
         "not allowed: write plain values, lists and mappings"),
        ("version: !!set {a}\n", "r.yaml:1:10: the YAML tag !!set is not allowed: write plain "
         "values, lists and mappings"),
        ("a: !foo [1]\n", "r.yaml:1:4: the YAML tag !foo is not allowed: write plain values, "
         "lists and mappings"),
        ('"\\ud800": 1\n', "r.yaml:1:1: the text holds U+D800, half of a surrogate pair, which "
         "is not a character"),
        ("a: &x 1\nb: &x 2\n", "r.yaml:2:4: YAML syntax error: found duplicate anchor 'x' "
         "(first at line 1)"),
        ("a: *nowhere\n", "r.yaml:1:4: YAML syntax error: found undefined alias 'nowhere'"),
        ("a: 1\r\nb: \x00\n", "r.yaml:2:4: non-printable character U+0000 in the file (YAML "
         "allows tabs, line breaks and printable text only)"),
        ("a: 1\rb: \x7f\n", "r.yaml:2:4: non-printable character U+007F in the file (YAML "
         "allows tabs, line breaks and printable text only)"),
    ],
)  # fmt: skip
def test_what_a_definition_never_holds_is_one_located_line(text: str, expected: str) -> None:
    assert problems(text) == [expected]


def test_nesting_is_limited_through_aliases_too() -> None:
    deep = "[" * 30 + "]" * 30
    text = f"a: &a {deep}\nb: &b [[[[[[[[[[*a]]]]]]]]]]\nc: [[*b]]\n"
    assert problems(text) == ["r.yaml:3:6: the definition is nested more than 40 levels deep"]


def test_a_huge_file_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_bytes(b"# " + b"x" * (MAX_BYTES + 10))
    with pytest.raises(SpecError) as info:
        load_report(path)
    assert info.value.problems == [f"{path}: the file is larger than 2 MB"]


# --------------------------------------------------------------------------- messages


def test_one_line_escapes_what_would_break_the_line() -> None:
    assert one_line("a\nb\r\x1b[31m\u2028\x00é") == "a\\nb\\r\\x1b[31m\\u2028\\x00é"


def test_missing_keys_are_listed_once_each() -> None:
    assert problems("version: 1\n") == [
        "r.yaml:1:1: (top level): missing required key 'title'",
        "r.yaml:1:1: (top level): missing required key 'queries'",
    ]


def test_long_values_and_keys_are_clipped() -> None:
    key = "k" * 1000  # YAML allows at most 1024 characters in a plain key
    found = problems(GOOD + f"{key}: 1\n") + problems(GOOD + f"timezone: {'Z' * 5000}\n")
    assert found[0] == (
        f"r.yaml:8:1: ['{'k' * 56}...]: unknown key '{'k' * 56}... (allowed: checks, compare, deliver, "
        "description, id, include_today, locale, output, queries, timezone, title, version, week_start, "
        "where, window)"
    )
    assert found[1] == (
        f"r.yaml:8:1: timezone: unknown timezone '{'Z' * 56}... "
        "(write an IANA name like Europe/Berlin)"
    )


def test_a_list_where_an_id_belongs_gets_the_type_message() -> None:
    assert problems(GOOD.replace("id: sales", "id: [sales]")) == [
        "r.yaml:4:5: queries[0].id: expected a string, got a list"
    ]


def test_top_n_written_as_a_float_is_built_as_an_int() -> None:
    report = parse_report(GOOD.replace("Amount}", "Amount, top_n: 5.0}"), Path("r.yaml"))
    assert report.queries[0].groups[0].top_n == 5
    assert isinstance(report.queries[0].groups[0].top_n, int)


# --------------------------------------------------------------------------- schema patterns


def _patterns(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["pattern"]] if isinstance(node.get("pattern"), str) else []
        return own + [p for value in node.values() for p in _patterns(value)]
    if isinstance(node, list):
        return [p for value in node for p in _patterns(value)]
    return []


@pytest.mark.parametrize("pattern", sorted(set(_patterns(SCHEMA))))
def test_no_schema_pattern_takes_a_trailing_newline(pattern: str) -> None:
    assert pattern.endswith("$")
    assert re.search(pattern, "abc\n") is None or ecma_regex(pattern).search("abc\n") is None
    sample = {
        "^[^@\\s]+@[^@\\s]+$": "a@b.c",
        "^[0-9]{4}-[0-9]{2}-[0-9]{2}$": "2026-11-01",
        "^https?://[^\\s]+$": "https://hooks.example.com/reports",
    }.get(pattern, "today")
    assert ecma_regex(pattern).search(sample)
    assert not ecma_regex(pattern).search(sample + "\n")


def test_ecma_regex_keeps_dollars_in_classes_and_escapes() -> None:
    assert ecma_regex(r"^[$]\$x$").pattern == r"^[$]\$x\Z"


# --------------------------------------------------------------------------- windows


def _report(window: str, kind: str = "count", extra: str = "") -> Any:
    text = (
        f"version: 1\ntitle: t\nwindow: {window}\n{extra}"
        f"queries:\n  - {{id: q, event: E, kind: {kind}}}\n"
    )
    return parse_report(text, Path("w.yaml"))


@pytest.mark.parametrize(
    ("window", "extra", "as_of", "expected"),
    [
        ("last_9999_years", "", date(2026, 11, 30), "window last_9999_years on 2026-11-30"),
        ("{from: 0001-01-01, to: 0001-01-02}", "compare: previous_year\n", date(2026, 11, 30),
         "window 0001-01-01..0001-01-02 on 2026-11-30 with compare: previous_year"),
        ("last_7_days", "", date(1, 1, 1), "window last_7_days on 0001-01-01"),
    ],
)  # fmt: skip
def test_windows_outside_the_calendar_name_the_query(
    window: str, extra: str, as_of: date, expected: str
) -> None:
    with pytest.raises(WindowError) as info:
        plan_requests(_report(window, extra=extra), as_of)
    assert str(info.value) == (
        f"w.yaml: query 'q': {expected} reaches outside the calendar (years 1 to 9999)"
    )


def test_a_trend_of_more_than_3660_points_is_refused() -> None:
    # refused when the definition is read (validate), located, not only when it is planned
    with pytest.raises(SpecError) as info:
        _report("{from: 2026-11-01, to: 9999-12-31}", "trend")
    assert str(info.value) == (
        "w.yaml:3:1: window: query 'q': a daily trend over 2026-11-01..9999-12-31 has 2,912,139"
        " points, more than 3,660: choose a shorter window or a coarser granularity"
    )
    assert plan_requests(_report("last_3660_days", "trend"), date(2026, 11, 30)).requests


def test_trends_split_up_to_the_last_day_of_the_calendar() -> None:
    parts = split_for_trends(DateRange(date(9997, 3, 5), date(9999, 12, 31)))
    assert [(str(p.start), str(p.end)) for p in parts] == [
        ("9997-03-05", "9998-02-28"),
        ("9998-03-01", "9999-02-28"),
        ("9999-03-01", "9999-12-31"),
    ]


# --------------------------------------------------------------------------- run options


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--poll-interval", "0", "0.0 is not in the range 0<x<=3600."),
        ("--poll-interval", "-1", "-1.0 is not in the range 0<x<=3600."),
        ("--poll-interval", "nan", "'nan' is not a number of seconds"),
        ("--poll-interval", "inf", "inf is not in the range 0<x<=3600."),
        ("--poll-interval", "soon", "'soon' is not a valid number."),
        ("--query-timeout", "0", "0.0 is not in the range 0<x<=86400."),
        ("--query-timeout", "-5", "-5.0 is not in the range 0<x<=86400."),
        ("--query-timeout", "NaN", "'NaN' is not a number of seconds"),
        ("--backoff", "nan", "'nan' is not a number of seconds"),
        ("--backoff", "-0.5", "-0.5 is not in the range 0<=x<=600."),
        ("--rate-limit-backoff", "inf", "inf is not in the range 0<=x<=600."),
        ("--max-in-flight", "0", "0 is not in the range 1<=x<=50."),
        ("--max-in-flight", "-3", "-3 is not in the range 1<=x<=50."),
    ],
)
def test_run_refuses_numbers_it_cannot_use(option: str, value: str, message: str) -> None:
    result = CliRunner().invoke(cli, ["run", "reports/", option, value])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == f"Error: Invalid value for '{option}': {message}"


def test_a_path_with_a_newline_stays_on_one_line() -> None:
    result = CliRunner().invoke(cli, ["validate", "no\nsuch\x1b[2J"])
    assert (result.exit_code, result.stderr) == (
        2,
        "error: no\\nsuch\ufffd[2J: no such file or folder\n",
    )


def test_a_failed_query_naming_an_odd_event_stays_on_one_line(
    demo_store: Path, tmp_path: Path
) -> None:
    path = tmp_path / "odd.yaml"
    path.write_text(
        'version: 1\ntitle: t\nqueries:\n  - {id: q, event: "No\\nSuch\\e[2J", kind: count}\n'
    )
    args = ["run", str(path), "--as-of", "2026-11-30", "--source", f"local:{demo_store}"]
    args += ["--out", str(tmp_path / "out"), "--state-dir", str(tmp_path / "state")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == "FAILED  odd"
    assert lines[1].startswith("  query 'q': ")
    assert "Invalid event : No\\nSuch\ufffd[2J" in lines[1]
    assert len(lines) == 2


def test_a_chart_too_large_to_rasterise_fails_its_report_not_the_process(
    demo_store: Path, tmp_path: Path
) -> None:
    path = tmp_path / "wide.yaml"
    path.write_text(
        "version: 1\ntitle: t\nqueries:\n  - id: q\n    event: Charged\n    kind: trend\n"
        "    chart: {vega_lite: {width: 100000000}}\n"
    )
    args = ["run", str(path), "--as-of", "2026-11-30", "--source", f"local:{demo_store}"]
    args += ["--out", str(tmp_path / "out"), "--state-dir", str(tmp_path / "state")]
    result = CliRunner().invoke(cli, [*args, "--format", "md"])
    assert (result.exit_code, result.stderr) == (
        1,
        "FAILED  wide\n  chart 'q' would be 200000108 pixels in width as a PNG, more than 10000: "
        "check the chart's vega_lite width, height and padding\n",
    )
    assert CliRunner().invoke(cli, [*args, "--format", "html"]).exit_code == 0
