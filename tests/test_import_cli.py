from __future__ import annotations

import sys
from pathlib import Path

from click.testing import CliRunner

from reportkit.cli import cli


def test_import_command_reports_bad_lines_with_exit_code_2(tmp_path: Path) -> None:
    f = tmp_path / "e.jsonl"
    f.write_text('{"event_name": "A", "ts": 1790000000, "profile": {"identity": "u"}}\n{bad\n')
    db = str(tmp_path / "s.duckdb")
    result = CliRunner().invoke(cli, ["import", str(f), "--db", db])
    assert result.exit_code == 2
    assert f"error: {f}:2: not valid JSON" in result.output
    result = CliRunner().invoke(cli, ["import", str(f), "--db", db, "--skip-invalid"])
    assert result.exit_code == 0, result.output
    assert "loaded 1 events" in result.output and f"{f}:2: not valid JSON" in result.output


def test_demo_command_builds_a_store(tmp_path: Path) -> None:
    db = tmp_path / "d.duckdb"
    result = CliRunner().invoke(cli, ["demo", "--events", "2000", "--days", "10", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "built" in result.output and db.is_file()


def test_cli_does_not_import_duckdb_at_start() -> None:
    import subprocess

    code = "import sys, reportkit.cli; print('duckdb' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
