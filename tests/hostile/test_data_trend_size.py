"""`validate` refuses, located, every trend that `plan` would refuse whatever the day."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from reportkit.cli import cli
from reportkit.errors import WindowError
from reportkit.language.spec import load_report
from reportkit.language.windows import MAX_TREND_POINTS
from reportkit.plan import plan_requests


def definition(tmp_path: Path, window: str, granularity: str, where: str = "query") -> Path:
    path = tmp_path / "r.yaml"
    head = "version: 1\ntitle: t\n" + (f"window: {window}\n" if where == "report" else "")
    query = (
        "queries:\n  - id: q\n    event: Charged\n    kind: trend\n"
        f"    granularity: {granularity}\n"
        + (f"    window: {window}\n" if where == "query" else "")
    )
    path.write_text(head + query)
    return path


TOO_LONG = [
    ("{from: 1900-01-01, to: 2026-01-01}", "weekly"),
    ("{from: 1900-01-01, to: 2026-01-01}", "daily"),
    ("{from: 0001-01-01, to: 9999-12-31}", "monthly"),
    ("last_3661_days", "daily"),
    ("last_9999_weeks", "weekly"),
    ("last_11_years", "daily"),
    ("last_400_years", "monthly"),
]


@pytest.mark.parametrize(("window", "granularity"), TOO_LONG)
@pytest.mark.parametrize("where", ["query", "report"])
def test_validate_refuses_a_trend_too_long_on_any_day(
    tmp_path: Path, window: str, granularity: str, where: str
) -> None:
    path = definition(tmp_path, window, granularity, where)
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    position = "8:5: queries[0].window" if where == "query" else "3:1: window"
    assert line.startswith(f"{path}:{position}: query 'q': a {granularity} trend over ")
    assert f"more than {MAX_TREND_POINTS:,}" in line


FINE = [
    ("{from: 2020-01-01, to: 2026-01-01}", "weekly"),
    ("{from: 1900-01-01, to: 2026-01-01}", "monthly"),
    ("last_3660_days", "daily"),
    ("last_520_weeks", "daily"),
    ("last_120_months", "daily"),
    ("last_9999_days", "weekly"),
]


@pytest.mark.parametrize(("window", "granularity"), FINE)
def test_a_trend_that_fits_validates_and_plans(
    tmp_path: Path, window: str, granularity: str
) -> None:
    path = definition(tmp_path, window, granularity)
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    for day in (date(2026, 3, 1), date(2028, 3, 1), date(2031, 1, 1)):
        try:
            plan_requests(load_report(path), day)
        except WindowError as exc:  # a window that only some days make too long
            assert "more than" in str(exc)
