"""`reportkit diff` in a real temporary git repository over the demo store: each kind of edit a
pull request makes to a definition, and what the reviewer is told about its numbers."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from reportkit.cli import cli
from tests.conftest import AS_OF

BASE = """\
version: 1
title: Shop
timezone: UTC
window: last_7_days
queries:
  - id: orders
    title: Orders
    event: Charged
    kind: count
  - id: cities
    title: Cities
    event: Charged
    groups:
      city: { property_type: geo_fields, name: City, top_n: 5 }
  - id: launches
    title: Launches
    event: App Launched
    kind: count
"""


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    done = subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "reports").mkdir(parents=True)
    (root / "reports" / "shop.yaml").write_text(BASE)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "base")
    return root


def diff(
    repo: Path, demo_store: Path, *args: str, state: Path | None = None
) -> tuple[int, str, str]:
    runner = CliRunner()
    cwd = os.getcwd()
    os.chdir(repo)
    try:
        result = runner.invoke(
            cli,
            [
                "diff",
                *args,
                "--as-of",
                AS_OF,
                "--source",
                f"local:{demo_store}",
                "--state-dir",
                str(state or repo.parent / "state"),
            ],
        )
    finally:
        os.chdir(cwd)
    return result.exit_code, result.stdout, result.stderr


def edit(repo: Path, old: str, new: str, name: str = "reports/shop.yaml") -> None:
    path = repo / name
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_a_title_only_edit_changes_no_number(repo: Path, demo_store: Path) -> None:
    edit(repo, "title: Orders", "title: Orders placed")
    code, out, err = diff(repo, demo_store, "--base", "main", "--format", "md", "--fail-on-change")
    assert (code, err) == (0, "")
    assert "No number changed." in out
    assert "definition changed" in out
    assert "| Query |" not in out


def test_unchanged_queries_are_asked_once(repo: Path, demo_store: Path, tmp_path: Path) -> None:
    from datetime import date

    from reportkit.app import DiffOptions, diff_revisions
    from reportkit.language.spec import load_report
    from reportkit.plan import plan_requests

    edit(repo, "title: Cities", "title: Where buyers live")
    state = tmp_path / "once"
    review = diff_revisions(
        [Path("reports")],
        DiffOptions(
            base="main", as_of=date(2026, 11, 30), source=f"local:{demo_store}", state_dir=state
        ),
        cwd=repo,
    )
    assert not review.numbers_changed
    # both sides' requests went through one cache: one entry per distinct request of one side
    plan = plan_requests(load_report(repo / "reports" / "shop.yaml"), date(2026, 11, 30))
    entries = list((state / "cache").rglob("*.json"))
    assert len(entries) == len({r.key for r in plan.requests})


def test_a_window_change_shows_both_windows_and_the_totals(repo: Path, demo_store: Path) -> None:
    edit(
        repo,
        "    kind: count\n  - id: cities",
        "    kind: count\n    window: last_14_days\n  - id: cities",
    )
    code, out, err = diff(repo, demo_store, "--base", "main", "--fail-on-change")
    assert code == 3, err
    assert "window of orders: 2026-11-23..2026-11-29 -> 2026-11-16..2026-11-29" in out
    line = next(x for x in out.splitlines() if x.strip().startswith("orders total:"))
    before, after = (int(n.replace(",", "")) for n in line.split(":")[1].split()[0:3:2])
    assert after > before  # twice the days, more orders
    code, _, _ = diff(repo, demo_store, "--base", "main")
    assert code == 0  # a change alone is no failure without --fail-on-change


def test_a_new_group_is_listed_with_its_rows(repo: Path, demo_store: Path) -> None:
    edit(
        repo,
        "city: { property_type: geo_fields, name: City, top_n: 5 }",
        "city: { property_type: geo_fields, name: City, top_n: 5 }\n"
        "      product: { property_type: event_properties, name: Product, top_n: 3 }",
    )
    code, out, _ = diff(repo, demo_store, "--base", "main", "--json")
    data = json.loads(out)
    report = data["reports"][0]
    assert report["diff"]["groups"] == [{"query": "cities", "group": "product", "kind": "added"}]
    assert data["numbers_changed"] is True and code == 0


def test_a_removed_query_and_a_committed_head(repo: Path, demo_store: Path) -> None:
    edit(
        repo,
        "  - id: launches\n    title: Launches\n    event: App Launched\n    kind: count\n",
        "",
    )
    git(repo, "commit", "-q", "-am", "drop launches")
    code, out, _ = diff(repo, demo_store, "--base", "HEAD~1", "--head", "HEAD", "--format", "md")
    assert code == 0
    assert "- query removed: `launches`" in out
    assert "Base `HEAD~1`, head `HEAD`" in out


def test_a_renamed_file_is_a_rename_with_no_number_changed(repo: Path, demo_store: Path) -> None:
    git(repo, "mv", "reports/shop.yaml", "reports/store.yaml")
    code, out, _ = diff(repo, demo_store, "--base", "main", "--json")
    report = json.loads(out)["reports"][0]
    assert report["status"] == "renamed"
    assert (report["base_path"], report["head_path"]) == ("reports/shop.yaml", "reports/store.yaml")
    assert report["numbers_changed"] is False and code == 0


def test_added_and_removed_definitions(repo: Path, demo_store: Path) -> None:
    (repo / "reports" / "other.yaml").write_text(
        "version: 1\ntitle: Other\nqueries:\n  - id: views\n    event: Product Viewed\n    kind: count\n"
    )
    code, out, _ = diff(repo, demo_store, "--base", "main")
    assert "other: Other (added in reports/other.yaml)" in out
    (repo / "reports" / "shop.yaml").unlink()
    code, out, _ = diff(repo, demo_store, "--base", "main", "--fail-on-change")
    assert "removed (was reports/shop.yaml)" in out and code == 3


def test_a_template_edit_changes_no_number(repo: Path, demo_store: Path) -> None:
    (repo / "tpl").mkdir()
    (repo / "tpl" / "report.css").write_text("h1 { color: black }\n")
    edit(repo, "timezone: UTC\n", "timezone: UTC\noutput: { template: ../tpl }\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "template")
    (repo / "tpl" / "report.css").write_text("h1 { color: navy }\n")
    code, out, _ = diff(repo, demo_store, "--base", "main", "--format", "md")
    assert code == 0
    assert "template changed" in out and "definition" not in out.split("template changed")[0][-30:]
    assert "No number changed." in out


def test_a_definition_invalid_at_the_base_names_the_revision(repo: Path, demo_store: Path) -> None:
    edit(repo, "top_n: 5", "top_n: 0")
    git(repo, "commit", "-q", "-am", "broken")
    edit(repo, "top_n: 0", "top_n: 5")  # the work tree fixes it
    code, out, err = diff(repo, demo_store, "--base", "HEAD")
    assert code == 2
    problem = err.strip().splitlines()[0]
    assert problem.startswith("HEAD:reports/shop.yaml:14:")  # REF:path:line:column
    assert "top_n" in problem and str(repo.parent) not in err
    assert "error:" in out


def test_an_unknown_revision_is_invalid_input(repo: Path, demo_store: Path) -> None:
    code, _, err = diff(repo, demo_store, "--base", "no-such-branch")
    assert code == 2
    assert err.strip() == f"error: 'no-such-branch': no such git revision in {repo.resolve()}"
