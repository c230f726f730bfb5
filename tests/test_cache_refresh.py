"""`--no-cache` asks again and refreshes the cache: on a real store whose data changed, the
cached answer is stale, `--no-cache` shows the new numbers, and the next plain run gets the new
numbers from the cache."""

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


def test_no_cache_asks_again_and_refreshes(demo_store: Path, tmp_path: Path) -> None:
    store = tmp_path / "store.duckdb"
    shutil.copy(demo_store, store)
    out = tmp_path / "out"
    args = [
        *("run", str(REPORTS / "charged-breakdown.yaml"), "--as-of", AS_OF),
        *("--source", f"local:{store}", "--format", "md", "--json"),
        *("--out", str(out), "--state-dir", str(tmp_path / "state")),
    ]

    def total() -> int:
        data = json.loads((out / "charged-breakdown" / "2026-11-29" / "results.json").read_text())
        return int(data["queries"]["charged"]["total"])

    first = run(*args)
    assert first.exit_code == 0, first.output
    before = total()
    events = tmp_path / "more.jsonl"
    events.write_text(
        "".join(
            json.dumps(
                {
                    "event_name": "Charged",
                    "ts": 20261125120000 + i,
                    "profile": {"identity": f"new-{i}"},
                    "event_props": {"Amount": 10},
                }
            )
            + "\n"
            for i in range(7)
        )
    )
    imported = run("import", str(events), "--db", str(store))
    assert imported.exit_code == 0, imported.output

    stale = run(*args)
    assert json.loads(stale.stdout)[0]["cached"] == ["charged"]
    assert total() == before  # the cache answered: the new events are not seen

    fresh = run(*args, "--no-cache")
    assert json.loads(fresh.stdout)[0]["cached"] == []
    assert total() == before + 7

    again = run(*args)
    assert json.loads(again.stdout)[0]["cached"] == ["charged"]
    assert total() == before + 7  # the refreshed answer, from the cache
