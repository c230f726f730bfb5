"""The CI examples and the pre-commit hook work as shipped: linted by zizmor, valid against
GitHub's workflow schema, installing reportkit from a pinned revision, and the pull-request
workflow's script run for real on a git repository."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples" / "github-actions").glob("*.yml"))
BIN = Path(sys.executable).parent
README = (ROOT / "README.md").read_text("utf-8")
DOCS = (ROOT / "docs" / "ci.md").read_text("utf-8")
PINNED = re.compile(r"reportkit @ git\+\S+\.git@([0-9a-f]{40})\b")


def _tool(name: str) -> Path:
    path = BIN / name
    assert path.exists(), f"{name} is in the test extra: pip install -e '.[test]'"
    return path


def _workflow(path: Path) -> dict:  # type: ignore[type-arg]
    loaded = yaml.safe_load(path.read_text("utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_there_are_a_scheduled_and_a_pull_request_example() -> None:
    triggers = {p.name: _workflow(p)[True] for p in EXAMPLES}  # PyYAML reads `on:` as True
    assert "schedule" in triggers["weekly-reports.yml"]
    assert "pull_request" in triggers["check-reports.yml"]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_zizmor_finds_nothing(path: Path) -> None:
    done = subprocess.run(
        [_tool("zizmor"), "--offline", "--no-progress", "--format", "plain", path],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings to report" in done.stdout, done.stdout


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_valid_against_the_github_workflow_schema(path: Path) -> None:
    done = subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", path],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_installs_reportkit_from_a_pinned_commit_never_by_name(path: Path) -> None:
    text = path.read_text("utf-8")
    code = "\n".join(line.split("#")[0] for line in text.splitlines())
    # the public index's `reportkit` is another project: never `pip install reportkit`
    assert not re.search(r"pip install\s+(-\S+\s+)*['\"]?reportkit\b", code)
    workflow = _workflow(path)
    assert PINNED.fullmatch(workflow["env"]["REPORTKIT_INSTALL"])
    assert 'pip install "$REPORTKIT_INSTALL"' in text
    for line in re.findall(r"uses:\s*(\S+.*)", text):
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}\s+# v\d+\.\d+\.\d+", line), line


def _commit_exists(rev: str) -> bool:
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout: the pinned revisions cannot be looked up")
    done = subprocess.run(
        ["git", "-C", ROOT, "cat-file", "-e", f"{rev}^{{commit}}"], capture_output=True
    )
    return done.returncode == 0


def test_pinned_revisions_exist_and_carry_the_hook() -> None:
    revs = {m for p in EXAMPLES for m in PINNED.findall(p.read_text("utf-8"))}
    hook_revs = set(re.findall(r"rev: ([0-9a-f]{40})", README + DOCS))
    assert revs and hook_revs
    for rev in revs | hook_revs:
        assert _commit_exists(rev), rev
    for rev in hook_revs:
        hooks = subprocess.run(
            ["git", "-C", ROOT, "show", f"{rev}:.pre-commit-hooks.yaml"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "id: reportkit-validate" in hooks


def test_the_schedule_keeps_the_sent_record_and_names_the_sender() -> None:
    workflow = _workflow(ROOT / "examples" / "github-actions" / "weekly-reports.yml")
    steps = workflow["jobs"]["reports"]["steps"]
    cache = next(s for s in steps if s.get("uses", "").startswith("actions/cache@"))
    assert {".reportkit/cache", ".reportkit/sent"} <= set(cache["with"]["path"].split())
    run = next(s for s in steps if "reportkit run" in s.get("run", ""))
    assert run["env"]["REPORTKIT_MAIL_FROM"] == "${{ vars.REPORTKIT_MAIL_FROM }}"
    assert "REPORTKIT_MAIL_FROM" in DOCS


def test_checkouts_keep_no_credentials() -> None:
    for path in EXAMPLES:
        for job in _workflow(path)["jobs"].values():
            for step in job.get("steps", []):
                if step.get("uses", "").startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False, path.name


def _cron_hours(line: str) -> tuple[int, int]:
    minute, hour, *_ = line.split()
    return int(hour), int(minute)


def test_exactly_one_cron_line_goes_on_every_monday_of_the_year() -> None:
    """Both cron lines fire (in UTC); the guard lets through the one that is LOCAL_HOUR in
    LOCAL_TZ. Over two years of Mondays, DST switches included, exactly one goes on."""
    workflow = _workflow(ROOT / "examples" / "github-actions" / "weekly-reports.yml")
    zone = ZoneInfo(workflow["env"]["LOCAL_TZ"])
    wanted = int(workflow["env"]["LOCAL_HOUR"])
    crons = [_cron_hours(c["cron"]) for c in workflow[True]["schedule"]]
    assert len(crons) == 2
    guard = workflow["jobs"]["when"]["steps"][0]["run"]
    assert 'TZ="$LOCAL_TZ" date +%H' in guard and '"$hour" = "$LOCAL_HOUR"' in guard
    monday = date(2026, 1, 5)
    while monday < date(2028, 1, 1):
        going = []
        for hour, minute in crons:
            fired = datetime(
                monday.year, monday.month, monday.day, hour, minute, tzinfo=ZoneInfo("UTC")
            )
            if fired.astimezone(zone).hour == wanted:
                going.append(hour)
        assert len(going) == 1, (monday, going)
        monday += timedelta(days=7)


def test_the_pull_request_script_validates_and_plans_only_changed_definitions(
    tmp_path: Path,
) -> None:
    """The example's own shell script, run on a real repository: one good changed definition
    is validated and planned, an untouched broken one is not looked at; a broken change fails."""
    workflow = _workflow(ROOT / "examples" / "github-actions" / "check-reports.yml")
    script = workflow["jobs"]["check"]["steps"][-1]["run"]
    repo = tmp_path / "defs"
    (repo / "reports").mkdir(parents=True)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    env |= {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t"}
    env |= {"GIT_COMMITTER_EMAIL": "t@x"}

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True
        ).stdout.strip()

    git("init", "-q")
    (repo / "reports" / "broken.yaml").write_text("version: 1\n")  # untouched by the change
    (repo / "README").write_text("x\n")
    git("add", ".")
    git("commit", "-q", "-m", "base")
    base = git("rev-parse", "HEAD")
    shutil.copy(ROOT / "reports" / "weekly-ecommerce.yaml", repo / "reports" / "weekly.yaml")
    git("add", ".")
    git("commit", "-q", "-m", "change")

    def check() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-eo", "pipefail", "-c", script],
            cwd=repo,
            env={**env, "BASE_SHA": base},
            capture_output=True,
            text=True,
            timeout=120,
        )

    done = check()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok: 1 report definition is valid" in done.stdout
    assert "weekly: Weekly e-commerce report" in done.stdout and "requests: " in done.stdout

    (repo / "reports" / "weekly.yaml").write_text("version: 1\ntitle: x\nqueries: 3\n")
    git("commit", "-q", "-am", "break")
    done = check()
    assert done.returncode != 0
    assert "reports/weekly.yaml:3:1: queries: expected a list" in done.stderr, done.stderr
    assert "broken.yaml" not in done.stderr


@pytest.mark.timeout(1500)
@pytest.mark.skipif(
    os.environ.get("REPORTKIT_TEST_PRE_COMMIT") != "1",
    reason="pre-commit installs reportkit and all its dependencies from the package index into a"
    " fresh environment (2-5 minutes); .ci/run runs it with REPORTKIT_TEST_PRE_COMMIT=1",
)
def test_pre_commit_installs_the_hook_from_the_repository(tmp_path: Path) -> None:
    """`pre-commit try-repo` clones this repository, builds the hook's environment with pip
    (`language: python`, reportkit installed from the repository itself) and runs it on a
    repository of definitions: a good one passes, a broken one fails with its located line."""
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text("utf-8"))
    assert [h["language"] for h in hooks] == ["python"]
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: pre-commit can only clone a repository")
    repo = tmp_path / "defs"
    (repo / "reports").mkdir(parents=True)
    shutil.copy(ROOT / "reports" / "weekly-ecommerce.yaml", repo / "reports" / "good.yaml")
    (repo / "reports" / "bad.yaml").write_text("version: 1\ntitle: x\nqueries: 3\n")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")}
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["git", "add", "."], cwd=repo, check=True)

    def try_repo(*files: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [_tool("pre-commit"), "try-repo", ROOT, "reportkit-validate", "--files", *files],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=1200,
        )

    good = try_repo("reports/good.yaml")
    assert good.returncode == 0, good.stdout + good.stderr
    assert re.search(r"reportkit validate\.+Passed", good.stdout), good.stdout
    bad = try_repo("reports/good.yaml", "reports/bad.yaml")
    assert bad.returncode == 1
    assert "reports/bad.yaml:3:1: queries: expected a list" in bad.stdout, bad.stdout
