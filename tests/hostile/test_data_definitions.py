"""Definitions reached through symlinks or named by mistake: refused unread, nothing quoted."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from reportkit.cli import cli

SECRET = "CLEVERTAP_PASSCODE=s3cr3t-passc0de"
GOOD = "version: 1\ntitle: t\nqueries:\n  - {id: q, event: Charged, kind: count}\n"


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in result.output
    assert "s3cr3t" not in result.output
    return result.exit_code, result.stderr


@pytest.mark.parametrize("secret_name", [".env", "passcode.txt", "other.yaml", "x.yml"])
@pytest.mark.parametrize("command", ["validate", "plan"])
def test_a_symlink_out_of_the_folder_is_refused_unread(
    tmp_path: Path, secret_name: str, command: str
) -> None:
    secret = tmp_path / secret_name
    secret.write_text(SECRET + "\n")
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "good.yaml").write_text(GOOD)
    link = reports / "weekly.yaml"
    link.symlink_to(secret)
    for target in (reports, link) if command == "validate" else (link,):
        code, err = invoke(command, str(target))
        assert code == 2
        assert f"{link}: leads outside {reports} (a symlink): refused" in err


def test_a_symlinked_folder_out_of_the_tree_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "leak.yaml").write_text(SECRET)
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "sub").symlink_to(outside)
    (reports / "good.yaml").write_text(GOOD)
    code, err = invoke("validate", str(reports))
    if code == 0:  # this Python's rglob does not follow directory links: nothing was read
        return
    assert code == 2 and "leads outside" in err


@pytest.mark.parametrize("name", [".env", "secrets.txt", "config.json", "report.YAML.bak"])
def test_a_file_that_is_not_yaml_is_refused_unread(tmp_path: Path, name: str) -> None:
    f = tmp_path / name
    f.write_text(SECRET + "\n")
    code, err = invoke("validate", str(f))
    assert (code, err) == (
        2,
        f"{f}: is not a .yaml or .yml file: refused, nothing of it was read\n",
    )


def test_a_symlink_inside_the_folder_is_fine(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    (reports / "shared").mkdir(parents=True)
    (reports / "shared" / "base.yaml").write_text(GOOD)
    (reports / "weekly.yaml").symlink_to(reports / "shared" / "base.yaml")
    code, err = invoke("validate", str(reports / "weekly.yaml"))
    assert code == 0, err
