"""`--source demo | local:PATH | clevertap | warehouse:URL` -> an open Source."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

from reportkit.errors import InvalidInput
from reportkit.sources.base import Source


@dataclass(frozen=True, slots=True)
class SourceChoice:
    kind: Literal["demo", "local", "clevertap", "warehouse"]
    path: Path | None = None
    url: str | None = None  # warehouse: the URL after `warehouse:`

    @property
    def is_demo(self) -> bool:
        return self.kind == "demo"


def parse_source(text: str) -> SourceChoice:
    """Read a `--source` value."""
    if text == "demo":
        return SourceChoice("demo")
    if text == "clevertap":
        return SourceChoice("clevertap")
    if text.startswith("local:") and len(text) > len("local:"):
        return SourceChoice("local", Path(text[len("local:") :]))
    if text.startswith("warehouse:"):
        from reportkit.sources.warehouse import parse_warehouse

        url = text[len("warehouse:") :]
        parse_warehouse(url)  # a bad URL is exit 2 before anything runs
        return SourceChoice("warehouse", url=url)
    raise InvalidInput(
        f"unknown source {text!r}: write demo, local:PATH (a DuckDB store), clevertap"
        " or warehouse:URL"
    )


@dataclass(frozen=True, slots=True)
class CleverTapOptions:
    region: str | None = None
    poll_interval: float = 30.0
    query_timeout: float = 900.0
    max_in_flight: int = 3
    max_attempts: int = 5  # tries of one step when the answer is transient
    backoff: float = 2.0  # the first retry waits about this long, doubling after
    rate_limit_backoff: float = 30.0  # a 429 waits at least this long


def open_source(
    choice: SourceChoice,
    *,
    state_dir: Path,
    latest_day: date,
    env: Mapping[str, str] | None = None,
    clevertap: CleverTapOptions | None = None,
) -> Source:
    """Open the source; the demo store is built on first use (and rebuilt to reach `latest_day`)."""
    if choice.kind == "clevertap":
        from reportkit.sources.clevertap import clevertap_source_from_env

        options = clevertap or CleverTapOptions()
        return clevertap_source_from_env(
            os.environ if env is None else env,
            region=options.region,
            poll_interval=options.poll_interval,
            query_timeout=options.query_timeout,
            max_in_flight=options.max_in_flight,
            max_attempts=options.max_attempts,
            backoff_base=options.backoff,
            rate_limit_backoff=options.rate_limit_backoff,
        )
    if choice.kind == "warehouse":
        from reportkit.sources.warehouse import open_warehouse

        assert choice.url is not None
        return open_warehouse(choice.url)
    from reportkit.sources.local import LocalEngine, LocalSource

    if choice.kind == "demo":
        from reportkit.sources.demo import ensure_demo

        path = state_dir / "demo.duckdb"
        ensure_demo(path, latest_day)
        return LocalSource(LocalEngine(path, read_only=True), "demo")
    assert choice.path is not None
    if not choice.path.is_file():
        raise InvalidInput(
            f"{choice.path}: no such DuckDB store (build one with reportkit demo or import)"
        )
    return LocalSource(LocalEngine(choice.path, read_only=True), f"local:{choice.path}")
