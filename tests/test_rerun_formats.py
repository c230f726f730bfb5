"""A rerun with fewer formats keeps the earlier report's other files when the numbers are the
same, and names what it removed when they are not."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner, Result

from reportkit.cli import cli
from tests.conftest import AS_OF

REPORTS = Path(__file__).resolve().parent.parent / "reports"


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def test_a_markdown_rerun_keeps_the_html_of_the_same_numbers(
    demo_store: Path, tmp_path: Path
) -> None:
    store = tmp_path / "store.duckdb"
    shutil.copy(demo_store, store)
    out = tmp_path / "out"
    folder = out / "charged-breakdown" / "2026-11-29"
    base = [
        *("run", str(REPORTS / "charged-breakdown.yaml"), "--as-of", AS_OF),
        *("--source", f"local:{store}", "--out", str(out), "--no-cache"),
        *("--state-dir", str(tmp_path / "state"), "-q"),
    ]
    first = run(*base, "--format", "html,md")
    assert first.exit_code == 0, first.output
    html = (folder / "report.html").read_bytes()

    again = run(*base, "--format", "md")
    assert again.exit_code == 0, again.output
    assert (folder / "report.html").read_bytes() == html
    assert "kept from the earlier run (same numbers): report.html" in again.output
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["formats"] == ["html", "md"]
    assert manifest["kept"] == ["report.html"] and manifest["removed"] == []
    assert "report.html" in {f["path"] for f in manifest["files"]}

    events = tmp_path / "more.jsonl"
    events.write_text(
        json.dumps(
            {
                "event_name": "Charged",
                "ts": 20261125120000,
                "profile": {"identity": "n"},
                "event_props": {"Amount": 10},
            }
        )
        + "\n"
    )
    assert run("import", str(events), "--db", str(store)).exit_code == 0
    changed = run(*base, "--format", "md")
    assert changed.exit_code == 0, changed.output
    assert not (folder / "report.html").exists()  # it showed the old numbers
    assert "removed (built from other numbers): report.html" in changed.output
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["formats"] == ["md"] and manifest["removed"] == ["report.html"]
