"""`--no-cache` asks again and refreshes the cache: a cached answer that no longer holds is
shown by a plain run, `--no-cache` shows the source's numbers, and the next plain run gets those
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

    # Make the cached total of `charged` stale by hand (a changed store gets a new cache key,
    # so only an entry that lies can show what --no-cache must do about one).
    (entry,) = [
        path
        for path in (tmp_path / "state" / "cache").rglob("*.json")
        if "/1/counts/events.json" in json.loads(path.read_text())["identity"]
    ]
    data = json.loads(entry.read_text())
    data["body"]["count"] = before + 7
    entry.write_text(json.dumps(data))

    stale = run(*args)
    assert json.loads(stale.stdout)[0]["cached"] == ["charged"]
    assert total() == before + 7  # the cache answered

    fresh = run(*args, "--no-cache")
    assert json.loads(fresh.stdout)[0]["cached"] == []
    assert total() == before  # asked again

    again = run(*args)
    assert json.loads(again.stdout)[0]["cached"] == ["charged"]
    assert total() == before  # the refreshed answer, from the cache
