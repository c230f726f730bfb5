"""`run`: reports planned, executed, published, and delivered with `--deliver`."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from reportkit.app.delivery import DeliverOptions, DeliveryOutcome, deliver_outcomes
from reportkit.language.model import Report
from reportkit.language.spec import load_reports
from reportkit.runner import ReportOutcome, default_as_of, finish_reports, plan_reports
from reportkit.sources.base import Source
from reportkit.sources.execute import ProgressEvent
from reportkit.sources.factory import CleverTapOptions, open_source, parse_source


@dataclass(frozen=True, slots=True)
class RunOptions:
    as_of: date | None = None
    source: str = "demo"
    formats: tuple[str, ...] | None = None
    out: Path = Path("out")
    state_dir: Path = Path(".reportkit")
    use_cache: bool = (
        True  # False (`--no-cache`): ask again, and refresh the cache with the answers
    )
    shard: tuple[int, int] | None = None  # (I, N), 1-based
    render_workers: int | None = None  # PDFs rendered at once; None: by cores and memory
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
    on_progress: Callable[[ProgressEvent], None] | None = None,
    now: datetime | None = None,
    on_finished: Callable[[Source], None] | None = None,
) -> list[ReportOutcome]:
    """Validate, plan, execute and publish every report under `paths`.

    `on_progress` sees every request's steps (`Progress`: sent, polled, done ...) and every
    report's rendering (`ReportStep`); `progress` draws them on the terminal instead.
    `on_finished` sees the source once every report is done, before it is closed (the CLI reads
    a CleverTap source's request counts there). An interrupt (Ctrl-C, SIGTERM raised as an
    exception) leaves no staging folder behind under `options.out`."""
    outcomes, _ = run_and_deliver(
        paths,
        options,
        None,
        progress=progress,
        on_progress=on_progress,
        now=now,
        on_finished=on_finished,
    )
    return outcomes


def run_and_deliver(
    paths: Sequence[Path],
    options: RunOptions,
    deliver: DeliverOptions | None,
    *,
    progress: bool = False,
    on_progress: Callable[[ProgressEvent], None] | None = None,
    now: datetime | None = None,
    on_finished: Callable[[Source], None] | None = None,
) -> tuple[list[ReportOutcome], list[DeliveryOutcome]]:
    """`run_paths`, then (with `deliver`) `deliver_outcomes` for the reports, within the same
    progress display: `reportkit run --deliver`."""
    try:
        return _run_paths(paths, options, deliver, progress, on_progress, now, on_finished)
    except KeyboardInterrupt:
        from reportkit.publish.staging import sweep

        sweep(options.out)  # the interrupt may have landed while a swap was clearing up
        raise


def _run_paths(
    paths: Sequence[Path],
    options: RunOptions,
    deliver: DeliverOptions | None,
    progress: bool,
    on_progress: Callable[[ProgressEvent], None] | None,
    now: datetime | None,
    on_finished: Callable[[Source], None] | None,
) -> tuple[list[ReportOutcome], list[DeliveryOutcome]]:
    moment = now or datetime.now(UTC)
    choice = parse_source(options.source)
    reports = select_shard(load_reports(list(paths)), options.shard)
    if not reports:
        return [], []
    days = [options.as_of or default_as_of(r, moment) for r in reports]
    source = open_source(
        choice,
        state_dir=options.state_dir,
        latest_day=max(days),
        clevertap=options.clevertap,
    )
    from reportkit.sources.cache import ResultCache, cache_namespace

    cache = ResultCache(
        options.state_dir / "cache",
        namespace=cache_namespace(source),
        today=min(default_as_of(r, moment) for r in reports),
        refresh=not options.use_cache,  # --no-cache asks again and keeps the fresh answers
    )
    planned = plan_reports(reports, as_of=options.as_of, now=moment)
    try:

        def finish(
            callback: Callable[[ProgressEvent], None] | None,
        ) -> tuple[list[ReportOutcome], list[DeliveryOutcome]]:
            outcomes = finish_reports(
                planned,
                source,
                out=options.out,
                formats=options.formats,
                cache=cache,
                demo=choice.is_demo,
                on_progress=callback,
                now=moment,
                # a source that sets its own limit (the warehouse's threads) gets that many
                max_workers=max(6, int(getattr(source, "max_in_flight", 6))),
                render_workers=options.render_workers,
            )
            if deliver is None:
                return outcomes, []
            sent = deliver_outcomes(
                outcomes,
                deliver,
                state_dir=options.state_dir,
                out=options.out,
                on_progress=callback,
            )
            return outcomes, sent

        if progress:
            from reportkit.progress import QueryProgress

            plans = [o.plan for o in planned if o.plan is not None]
            delivering = [r.id for r in reports if deliver and r.deliver.email is not None]
            with QueryProgress(plans, stream=sys.stderr, delivering=delivering) as view:
                done = finish(view)
        else:
            done = finish(on_progress)
        if on_finished is not None:
            on_finished(source)
        return done
    finally:
        source.close()
