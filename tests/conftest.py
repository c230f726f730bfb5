"""Shared fixtures: a small deterministic demo store built once per test session."""

from __future__ import annotations

from datetime import date
from pathlib import Path

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
