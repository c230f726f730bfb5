"""Shared fixtures: a small deterministic demo store built once per test session."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

DEMO_END = date(2026, 11, 29)  # the last day with data; as_of 2026-11-30 sees complete windows
AS_OF = "2026-11-30"


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 40,000-event demo store ending on DEMO_END (about 4 s to build)."""
    from reportkit.sources.demo import build_demo

    path = tmp_path_factory.mktemp("store") / "demo.duckdb"
    build_demo(path, events=40_000, seed=7, end=DEMO_END, days=120)
    return path


CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; .ci/run installs it
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the whole test session, driven by Playwright (attached to the
    distribution's Chromium: no browser is downloaded). Open a fresh `browser.new_page()` per
    test and close it after."""
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed: pip install -e '.[test]'")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()
