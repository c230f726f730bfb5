"""Error wording a new user meets: the suggestion that fits, plain sentences for YAML mistakes,
every problem of a file in one pass, the folder a template was looked for in, `--shard 1/0`."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from reportkit.cli import cli
from reportkit.errors import RenderError
from reportkit.language.model import OutputSpec
from reportkit.render import render_report
from tests.report_fixtures import make_report

HEAD = "version: 1\ntitle: t\n"
QUERY = "queries:\n  - id: a\n    event: x\n    kind: count\n"


def validate(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "r.yaml"
    path.write_text(text)
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    return [line.removeprefix(f"{path}:") for line in result.output.splitlines()]


@pytest.mark.parametrize("written", ["previous_week", "previous_month", "last_period"])
def test_compare_suggests_previous_period(tmp_path: Path, written: str) -> None:
    assert validate(tmp_path, HEAD + f"compare: {written}\n" + QUERY) == [
        f"3:1: compare: '{written}' is not one of previous_period, previous_year;"
        " did you mean 'previous_period'?"
    ]


def test_a_near_spelling_still_gets_its_suggestion(tmp_path: Path) -> None:
    assert validate(tmp_path, HEAD + "compare: previous_yaer\n" + QUERY)[0].endswith(
        "did you mean 'previous_year'?"
    )


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (
            HEAD + "  window: last_7_days\n" + QUERY,
            "3:9: YAML syntax error: a ':' here, where a value is being written: put quotes"
            " around a value that holds ': ', or indent this line under its key",
        ),
        (
            HEAD + "queries:\n  - id: a\n    event: x\n   kind: count\n",
            "6:4: YAML syntax error: a key here is indented differently from the lines above it:"
            " line it up with its neighbours (or indent it under the key it belongs to)"
            " (see line 4, column 3)",
        ),
        (
            "version: 1\ntitle t\n" + QUERY,
            "3:1: YAML syntax error: a key without ':' after it (write key: value)"
            " (see line 2, column 1)",
        ),
        (
            HEAD + "queries: [a, b\n",
            "4:1: YAML syntax error: a list in [ ] is not closed, or its items are not separated"
            " by commas (see line 3, column 10)",
        ),
    ],
)
def test_yaml_mistakes_read_as_plain_sentences(tmp_path: Path, text: str, line: str) -> None:
    lines = validate(tmp_path, text)
    assert lines == [line]
    assert "<block" not in line and "expected" not in line


def test_schema_and_date_problems_of_one_file_come_in_one_pass(tmp_path: Path) -> None:
    text = (
        HEAD
        + "timezone: Europe/Berlni\n"
        + "window: {from: 2026-11-10, to: 2026-11-01}\n"
        + "queries:\n  - id: a\n    event: x\n    kind: count\n    top_n: 3\n"
        + "    window: {from: 20261131, to: 20261201}\n"
    )
    assert validate(tmp_path, text) == [
        "3:1: timezone: unknown timezone 'Europe/Berlni'; did you mean 'Europe/Berlin'?",
        "4:1: window: window from 2026-11-10 is after to 2026-11-01",
        "9:5: queries[0].top_n: unknown key 'top_n' (allowed: chart, checks, currency, description,"
        " event, granularity, groups, id, include_today, kind, sum_event_prop, title, unique,"
        " where, window)",
        "10:5: queries[0].window: 20261131 is not a date: write YYYY-MM-DD or YYYYMMDD",
    ]


def test_a_missing_template_folder_names_where_it_was_looked_for(tmp_path: Path) -> None:
    (tmp_path / "defs").mkdir()
    path = tmp_path / "defs" / "r.yaml"
    path.write_text(HEAD + QUERY + "output:\n  template: ../company-templates\n")
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 2
    looked = tmp_path / "defs" / ".." / "company-templates"
    assert result.output == (
        f"{path}:8:3: output.template: template folder '../company-templates' does not exist"
        f" (looked for '{looked}', beside the definition)\n"
    )
    with pytest.raises(RenderError) as caught:
        render_report(make_report(), OutputSpec(template=Path("no-such-templates")))
    assert str(caught.value) == (
        "template folder no-such-templates does not exist"
        f" (looked for {(Path.cwd() / 'no-such-templates').resolve()})"
    )


@pytest.mark.parametrize(
    ("shard", "message"),
    [("1/0", "1/0: N must be at least 1"), ("3/2", "3/2: I must be between 1 and N")],
)
def test_shard_messages(tmp_path: Path, shard: str, message: str) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(HEAD + QUERY)
    result = CliRunner().invoke(cli, ["run", str(path), "--shard", shard])
    assert result.exit_code == 2
    assert f"Invalid value for --shard: {message}" in result.output
