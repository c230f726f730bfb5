"""`reportkit validate` and `plan` as a user runs them: exact output and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from reportkit.cli import cli

REPORTS = Path(__file__).resolve().parent.parent / "reports"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_validate_accepts_the_example_folder() -> None:
    code, out, _ = run("validate", str(REPORTS))
    assert code == 0
    assert out.startswith("ok: ")


def test_validate_lists_every_problem_with_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\ntitle: x\nqueries:\n  - id: a\n    evnt: E\n    kind: cuont\n")
    code, out, err = run("validate", str(bad), str(REPORTS))
    assert code == 2
    assert out == ""
    assert err.splitlines() == [  # the misspelt required key: only the did-you-mean line
        f"{bad}:5:5: queries[0].evnt: unknown key 'evnt'; did you mean 'event'?",
        f"{bad}:6:5: queries[0].kind: 'cuont' is not one of top, count, trend; did you mean 'count'?",
    ]
    assert "Traceback" not in err


def test_validate_missing_path_is_exit_2() -> None:
    code, _, err = run("validate", "no/such/folder")
    assert (code, err) == (2, "error: no/such/folder: no such file or folder\n")


def test_plan_json_lists_requests_with_what_they_serve() -> None:
    code, out, _ = run(
        "plan", str(REPORTS / "charged-breakdown.yaml"), "--as-of", "2026-11-30", "--json"
    )
    assert code == 0
    rows = json.loads(out)
    assert [r["endpoint"] for r in rows] == ["/1/counts/top.json", "/1/counts/events.json"]
    assert rows[0]["body"]["from"] == 20261031
    assert rows[0]["serves"][1] == {
        "query": "charged",
        "window": "current",
        "measure": "top",
        "group": "bar",
        "request_key": "bar",
    }


def test_plan_human_output_names_windows_and_requests() -> None:
    code, out, _ = run("plan", str(REPORTS / "weekly-ecommerce.yaml"), "--as-of", "2026-11-30")
    assert code == 0
    assert (
        "orders" in out and "2026-11-23..2026-11-29" in out and "vs 2026-11-16..2026-11-22" in out
    )
    assert "POST /1/counts/top.json" in out


def test_plan_window_error_is_one_line_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "mtd.yaml"
    path.write_text(
        "version: 1\ntitle: x\nwindow: month_to_date\nqueries:\n  - {id: a, event: E, kind: count}\n"
    )
    code, _, err = run("plan", str(path), "--as-of", "2026-12-01")
    assert code == 2
    assert len(err.splitlines()) == 1
    assert "query 'a': window 'month_to_date' has no complete day on 2026-12-01" in err


def test_every_command_has_help_with_an_example() -> None:
    for command in cli.commands:
        code, out, _ = run(command, "--help")
        assert code == 0, command
        assert "Example" in out, command


def test_validate_and_plan_do_not_import_heavy_modules() -> None:
    code = (
        "import sys; from click.testing import CliRunner; from reportkit.cli import cli;"
        "r = CliRunner().invoke(cli, ['validate', sys.argv[1]]); assert r.exit_code == 0, r.output;"
        "r = CliRunner().invoke(cli, ['plan', sys.argv[2], '--as-of', '2026-11-30']);"
        "assert r.exit_code == 0, r.output;"
        "heavy = {'duckdb', 'weasyprint', 'vl_convert', 'requests', 'pandas', 'ibis', 'pyspark'}"
        " & set(sys.modules);"
        "assert not heavy, heavy"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(REPORTS), str(REPORTS / "weekly-ecommerce.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
