"""The whole job behind `reportkit run`, as one call that Python users can make too."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from reportkit.execute import Progress
from reportkit.model import Report
from reportkit.runner import ReportOutcome, default_as_of, finish_reports, plan_reports
from reportkit.sources.factory import CleverTapOptions, open_source, parse_source
from reportkit.spec import load_reports


@dataclass(frozen=True, slots=True)
class RunOptions:
    as_of: date | None = None
    source: str = "demo"
    formats: tuple[str, ...] | None = None
    out: Path = Path("out")
    state_dir: Path = Path(".reportkit")
    use_cache: bool = True
    shard: tuple[int, int] | None = None  # (I, N), 1-based
    clevertap: CleverTapOptions = field(default_factory=CleverTapOptions)


def in_shard(report_id: str, shard: tuple[int, int]) -> bool:
    """Whether a report is in share I of N: a stable hash of its id, the same on every machine."""
    index, total = shard
    digest = int.from_bytes(hashlib.sha256(report_id.encode()).digest()[:8], "big")
    return digest % total == index - 1


def select_shard(reports: Sequence[Report], shard: tuple[int, int] | None) -> list[Report]:
    return [r for r in reports if shard is None or in_shard(r.id, shard)]


def run_paths(
    paths: Sequence[Path],
    options: RunOptions,
    *,
    progress: bool = False,
    on_progress: Callable[[Progress], None] | None = None,
    now: datetime | None = None,
) -> list[ReportOutcome]:
    """Validate, plan, execute and publish every report under `paths`."""
    moment = now or datetime.now(UTC)
    choice = parse_source(options.source)
    reports = select_shard(load_reports(list(paths)), options.shard)
    if not reports:
        return []
    days = [options.as_of or default_as_of(r, moment) for r in reports]
    source = open_source(
        choice,
        state_dir=options.state_dir,
        latest_day=max(days),
        clevertap=options.clevertap,
    )
    cache = None
    if options.use_cache:
        from reportkit.cache import ResultCache

        cache = ResultCache(
            options.state_dir / "cache",
            namespace=source.name,
            today=min(default_as_of(r, moment) for r in reports),
        )
    planned = plan_reports(reports, as_of=options.as_of, now=moment)
    try:

        def finish(callback: Callable[[Progress], None] | None) -> list[ReportOutcome]:
            return finish_reports(
                planned,
                source,
                out=options.out,
                formats=options.formats,
                cache=cache,
                demo=choice.is_demo,
                on_progress=callback,
                now=moment,
            )

        if progress:
            from reportkit.progress import QueryProgress

            plans = [o.plan for o in planned if o.plan is not None]
            with QueryProgress(plans, stream=sys.stderr) as view:
                return finish(view)
        return finish(on_progress)
    finally:
        source.close()
