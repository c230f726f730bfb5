"""A corpus of hand-written bad definitions, each with the exact line it must produce.

tests/bad_definitions/NAME.yaml holds one mistake; NAME.expected holds the one line `validate`
(and `plan`, which loads the same way) prints for it, with the path as given on the command line:
the commands run from tests/, on `bad_definitions/NAME.yaml`. The .yaml files are kept byte for
byte (.gitattributes), since some hold NUL, invalid UTF-8 or UTF-16 on purpose.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from reportkit.cli import cli

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "bad_definitions"
CASES = sorted(p.stem for p in CORPUS.glob("*.yaml"))


def test_every_definition_has_its_expected_line() -> None:
    expected = sorted(p.stem for p in CORPUS.glob("*.expected"))
    assert expected == CASES
    assert len(CASES) >= 25


@pytest.mark.parametrize("command", ["validate", "plan"])
@pytest.mark.parametrize("name", CASES)
def test_each_bad_definition_gives_its_one_line(
    name: str, command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(HERE)
    args = [command, f"bad_definitions/{name}.yaml"]
    result = CliRunner().invoke(
        cli, args + (["--as-of", "2026-11-30"] if command == "plan" else [])
    )
    expected = (CORPUS / f"{name}.expected").read_text(encoding="utf-8")
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", expected)
    assert len(expected.splitlines()) == 1
