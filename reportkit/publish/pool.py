"""Publishing many reports at once: each report rendered and published in a worker process.

Rendering a PDF is WeasyPrint's layout work, pure Python and single-threaded, so a run of many
reports spends most of its wall time there, one report after another, on one core. Worker
processes put every core to work. They are forked from a forkserver that has already imported
WeasyPrint and the chart renderer, so a worker starts in milliseconds and keeps its warm state
(fonts, the chart engine, compiled templates) from one report to the next.

Used only where it pays: several reports, at least one of them with a PDF. The number of workers
is bounded by the cores and by the memory available (a worker rendering a large report holds a few
hundred MB). An interrupt terminates the workers; what a worker was staging is cleared by the
sweep that follows (`staging.sweep`), exactly as after a killed run.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reportkit.errors import ReportkitError

if TYPE_CHECKING:
    from reportkit.language.model import OutputSpec
    from reportkit.publish.folders import Manifest
    from reportkit.results import ReportResult

RUN_WATCH_SECONDS = 0.5  # how often a worker checks that its run is still there
WORKER_MEMORY = 400 * 2**20  # bytes a worker may need for a large report, PDF included
# Imported once by the forkserver, so that each worker forked from it starts with them loaded;
# our modules import these lazily, so they are named here (importing is fork-safe; the chart
# engine's JavaScript runtime starts at a worker's first chart, never before the fork).
_PRELOAD = [
    "reportkit.publish.folders",
    "reportkit.render.pdf",
    "reportkit.render.html",
    "reportkit.render.charts",
    "weasyprint",
    "vl_convert",
    "jinja2",
]


@dataclass(frozen=True, slots=True)
class PublishJob:
    """One report to publish under `out`: what `publish_report` takes."""

    out: Path
    result: ReportResult
    output: OutputSpec
    formats: tuple[str, ...]
    cached: tuple[str, ...] = field(default=())
    definition: tuple[str, bytes] | None = None  # embedded in an archival PDF


def available_memory() -> int | None:
    """Bytes of memory available to new work (Linux's MemAvailable), None where unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def worker_count(
    jobs: Sequence[PublishJob],
    *,
    requested: int | None = None,
    cores: int | None = None,
    memory: int | None = None,
) -> int:
    """How many worker processes to use for `jobs`; 0 means publish in this process (fewer than
    two PDFs to make, one core, or too little memory for two workers). `requested` (the user's
    number) is used as given, but never more than the jobs: a worker without a job would start
    WeasyPrint for nothing. `cores` and `memory` (bytes available) default to this machine's."""
    if requested is not None:
        return min(requested, len(jobs))
    pdfs = sum("pdf" in job.formats for job in jobs)
    if pdfs < 2:
        return 0
    cores = cores if cores is not None else len(os.sched_getaffinity(0))
    memory = memory if memory is not None else available_memory()
    by_memory = memory // WORKER_MEMORY if memory is not None else cores
    workers = min(cores, len(jobs), by_memory)
    return workers if workers >= 2 else 0


def _publish(job: PublishJob) -> Manifest:
    from reportkit.publish.folders import publish_report

    return publish_report(
        job.out,
        job.result,
        job.output,
        formats=job.formats,
        cached=job.cached,
        definition=job.definition,
    )


def _in_worker(job: PublishJob) -> tuple[str, Any]:
    """Run in a worker: the manifest, or the error's text (error classes need not pickle)."""
    try:
        return "ok", _publish(job)
    except ReportkitError as exc:
        return "error", str(exc)


def _start_worker(run_pid: int) -> None:
    """In each worker, first: Ctrl-C reaches the whole process group, but the run alone decides
    and terminates us, so the worker ignores it. And a worker ends itself once the run is gone:
    killed with SIGKILL, the run cannot terminate its workers, and a worker waiting for work
    would wait for ever (the forkserver with it, as the workers hold it open)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while True:
            time.sleep(RUN_WATCH_SECONDS)
            try:
                os.kill(run_pid, 0)
            except (ProcessLookupError, PermissionError):  # gone, or the pid now someone else's
                os._exit(1)

    threading.Thread(target=watch, name="reportkit-run-watch", daemon=True).start()


def publish_all(
    jobs: Sequence[PublishJob],
    *,
    workers: int | None = None,
    on_done: Callable[[int, Manifest | ReportkitError], None] | None = None,
) -> list[Manifest | ReportkitError]:
    """Publish every job; the result at index i is job i's manifest or the error that stopped it
    (one report's failure never stops another's). `workers`: see `worker_count`'s `requested`;
    `on_done(i, manifest or error)` is called in this process as each job finishes, in order."""
    count = worker_count(jobs, requested=workers)
    results: list[Manifest | ReportkitError] = []
    if count < 2 or len(jobs) < 2:
        for index, job in enumerate(jobs):
            try:
                results.append(_publish(job))
            except ReportkitError as exc:
                results.append(exc)
            if on_done is not None:
                on_done(index, results[-1])
        return results

    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)
    # A worker that dies (killed, out of memory) breaks the executor and fails the jobs left,
    # where multiprocessing.Pool would wait for its answer for ever.
    executor = ProcessPoolExecutor(
        count, mp_context=context, initializer=_start_worker, initargs=(os.getpid(),)
    )
    try:
        futures = [executor.submit(_in_worker, job) for job in jobs]
        for index, future in enumerate(futures):
            try:
                kind, value = future.result()
            except Exception as exc:  # BrokenProcessPool and its like: this job never finished
                kind, value = "error", f"the worker rendering it died ({type(exc).__name__})"
            results.append(value if kind == "ok" else ReportkitError(value))
            if on_done is not None:
                on_done(index, results[-1])
    except BaseException:
        _terminate(executor)  # no worker outlives an interrupted run
        raise
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
    return results


def _terminate(executor: Any) -> None:
    # Python 3.14 has ProcessPoolExecutor.terminate_workers(); before it, the processes are
    # only reachable through this attribute.
    for process in list((getattr(executor, "_processes", None) or {}).values()):
        process.terminate()
