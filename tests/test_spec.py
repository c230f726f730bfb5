"""Loading report definitions: valid files build typed reports; every bad one gets a located line."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from reportkit.errors import SpecError
from reportkit.language.model import Group, WindowSpec
from reportkit.language.spec import load_report, load_reports, parse_report

REPORTS = Path(__file__).resolve().parent.parent / "reports"

GOOD = """\
version: 1
title: Weekly
queries:
  - id: sales
    event: Charged
    groups:
      amount: {property_type: event_properties, name: Amount}
"""


def problems(text: str | bytes, name: str = "r.yaml") -> list[str]:
    with pytest.raises(SpecError) as info:
        parse_report(text if isinstance(text, bytes) else text.encode(), Path(name))
    return info.value.problems


def test_defaults_are_filled_from_the_documented_values() -> None:
    report = parse_report(GOOD, Path("reports/weekly-sales.yaml"))
    assert report.id == "weekly-sales"
    assert report.timezone == "UTC"
    assert report.week_start == "monday"
    assert report.window == WindowSpec(token="last_7_days")
    query = report.queries[0]
    assert query.kind == "top"
    assert query.title == "sales"
    assert query.window == report.window
    assert query.groups == (Group("amount", "event_properties", "Amount", 10, "desc"),)


def test_dates_are_read_on_purpose_from_iso_text_and_integers() -> None:
    text = GOOD.replace("title: Weekly", "title: Weekly\nwindow: {from: 2026-11-01, to: 20261115}")
    report = parse_report(text, Path("r.yaml"))
    assert report.window == WindowSpec(start=date(2026, 11, 1), end=date(2026, 11, 15))


def test_an_event_list_makes_one_query_per_event() -> None:
    text = GOOD.replace("event: Charged", "event: [App Launched, Charged]")
    ids = [(q.id, q.event, q.title) for q in parse_report(text, Path("r.yaml")).queries]
    assert ids == [
        ("sales.app_launched", "App Launched", "sales: App Launched"),
        ("sales.charged", "Charged", "sales: Charged"),
    ]


def test_example_reports_are_valid() -> None:
    reports = load_reports([REPORTS])
    assert {r.id for r in reports} >= {"weekly-ecommerce", "charged-breakdown"}
    for path in REPORTS.glob("*.yaml"):
        assert path.read_text().startswith("# yaml-language-server: $schema=")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            GOOD.replace("queries:", "qeuries: 1\nqueries:"),
            "r.yaml:3:1: qeuries: unknown key 'qeuries'; did you mean 'queries'?",
        ),
        (
            GOOD.replace("name: Amount}", "name: Amount, top_n: 500}"),
            "r.yaml:7:63: queries[0].groups.amount.top_n: 500 is greater than the maximum of 100",
        ),
        (
            GOOD.replace("event_properties", "event_property"),
            "r.yaml:7:16: queries[0].groups.amount.property_type: 'event_property' is not one of "
            "event_properties, session_properties, profile_fields, app_fields, demographics, "
            "technographics, reachability, geo_fields; did you mean 'event_properties'?",
        ),
        (
            GOOD.replace("title: Weekly", "title: Weekly\nwindow: last_3O_days"),
            "r.yaml:3:1: window: 'last_3O_days' is not a window: write today, yesterday, "
            "last_N_days (or _weeks, _months, _quarters, _years), this_week, month_to_date, "
            "last_month ... or {from: YYYY-MM-DD, to: YYYY-MM-DD}",
        ),
        (
            GOOD.replace("title: Weekly", "title: Weekly\ntimezone: Europe/Berln"),
            "r.yaml:3:1: timezone: unknown timezone 'Europe/Berln'; did you mean 'Europe/Berlin'?",
        ),
        (
            GOOD.replace(
                "title: Weekly", "title: Weekly\nwindow: {from: 2026-11-15, to: 2026-11-01}"
            ),
            "r.yaml:3:1: window: window from 2026-11-15 is after to 2026-11-01",
        ),
        (
            GOOD.replace(
                "title: Weekly", "title: Weekly\nwindow: {from: 2026-02-30, to: 2026-03-01}"
            ),
            "r.yaml:3:10: window.from: '2026-02-30' is not a date: write YYYY-MM-DD or YYYYMMDD",
        ),
        (
            GOOD.replace("title: Weekly", "title: Weekly\ntitle: Again"),
            "r.yaml:3:1: duplicate key 'title' (first given at line 2)",
        ),
        (
            GOOD.replace("version: 1", "version: 2"),
            "r.yaml:1:1: version: must be 1, not 2",
        ),
        (
            GOOD.replace(
                "    groups:\n      amount: {property_type: event_properties, name: Amount}\n", ""
            ),
            "r.yaml:4:5: queries[0]: missing required key 'groups' (a top query breaks its event "
            "down by groups; for a total write kind: count)",
        ),
        (
            GOOD.replace("event: Charged", "event: Charged\n    kind: count"),
            "r.yaml:7:5: queries[0].groups: has groups, but groups apply only to kind: top",
        ),
        (
            GOOD.replace("event: Charged", "event: 42"),
            "r.yaml:5:5: queries[0].event: expected a string or a list, got an integer (42)",
        ),
        ("", "r.yaml:1:1: the file is empty: a report needs version, title and queries"),
        (
            "- one\n- two\n",
            "r.yaml:1:1: a report must be a mapping of keys (version, title, queries ...), not a list",
        ),
        (
            "version: 1\ntitle: [unclosed\n",
            "r.yaml:3:1: YAML syntax error: a list in [ ] is not closed, or its items are not "
            "separated by commas (see line 2, column 8)",
        ),
        (
            GOOD + "  - id: sales\n    event: X\n    kind: count\n",
            "r.yaml:8:5: queries[1].id: duplicate query id 'sales' (first used at line 4)",
        ),
    ],
)
def test_each_problem_is_one_located_line(text: str, expected: str) -> None:
    assert problems(text) == [expected]


def test_every_problem_is_reported_not_just_the_first() -> None:
    text = GOOD.replace("title: Weekly", "titel: Weekly").replace("name: Amount", "nam: Amount")
    found = problems(text)
    # a misspelt required key is one problem, told at the misspelt key
    assert found == [
        "r.yaml:2:1: titel: unknown key 'titel'; did you mean 'title'?",
        "r.yaml:7:49: queries[0].groups.amount.nam: unknown key 'nam'; did you mean 'name'?",
    ]


def test_a_missing_key_and_an_unrelated_unknown_key_are_both_told() -> None:
    text = GOOD.replace("title: Weekly", "colour: Weekly")
    missing, unknown = problems(text)
    assert missing == "r.yaml:1:1: (top level): missing required key 'title'"
    assert unknown.startswith(
        "r.yaml:2:1: colour: unknown key 'colour' (allowed: checks, compare, "
    )


def test_binary_bytes_are_refused_with_a_location() -> None:
    assert problems(b"version: 1\n\xff\xfe") == [
        "r.yaml:2:1: the file is not UTF-8 text (byte 0xff)"
    ]
    assert problems("title: é\xe9".encode()[:-1]) == [
        "r.yaml:1:9: the file is not UTF-8 text (byte 0xc3)"
    ]


def test_a_billion_laughs_is_refused_quickly() -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    found = problems("\n".join(lines))
    assert len(found) == 1
    assert "expands to more than 20000 values" in found[0]


def test_unknown_tags_and_recursive_aliases_are_plain_errors() -> None:
    assert problems("a: !!python/object:os.system ls\n") == [
        "r.yaml:1:4: the YAML tag !!python/object:os.system is not allowed: "
        "write plain values, lists and mappings"
    ]
    assert problems("a: &x [*x]\n") == [
        "r.yaml:1:8: the alias *x refers to a node that contains it (a loop)"
    ]


def test_missing_file_is_a_located_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"missing\.yaml: cannot read the file"):
        load_report(tmp_path / "missing.yaml")


def test_template_folder_must_exist(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(GOOD + "output:\n  template: nowhere\n")
    with pytest.raises(
        SpecError, match=r"output\.template: template folder 'nowhere' does not exist"
    ):
        load_report(path)
    (tmp_path / "nowhere").mkdir()
    assert load_report(path).output.template == (tmp_path / "nowhere").resolve()


def test_reports_in_one_run_need_distinct_ids(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD + "id: same\n")
    (tmp_path / "b.yaml").write_text(GOOD + "id: same\n")
    with pytest.raises(SpecError, match="report id 'same' is also used by"):
        load_reports([tmp_path])
