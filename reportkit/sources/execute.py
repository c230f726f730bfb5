"""Send a run's requests to a source, in parallel, once each, and collect answers and failures.

Requests are deduplicated across every report of the run (by `Request.key`); the source enforces
its own concurrency limit. Progress is told through a callback, never printed here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from reportkit.errors import ReportkitError
from reportkit.plan import Plan, Request
from reportkit.sources.base import Source


@dataclass(frozen=True, slots=True)
class Progress:
    """One step of a request, for a progress display: `polled` carries the number of polls so
    far (CleverTap's asynchronous queries)."""

    state: Literal["sent", "polled", "done", "failed", "cached"]
    request: Request
    message: str = ""
    polls: int = 0


@dataclass(frozen=True, slots=True)
class ReportStep:
    """A step of one report after its queries: rendering (and publishing), then delivery."""

    report_id: str
    step: Literal["render", "deliver"]
    state: Literal["running", "done", "failed", "skipped"]
    message: str = ""


ProgressEvent = Progress | ReportStep


@dataclass(frozen=True, slots=True)
class Answers:
    """Success bodies and failure messages by `Request.key`, and which came from the cache."""

    bodies: Mapping[str, Mapping[str, Any]]
    failures: Mapping[str, str]
    cached: frozenset[str] = frozenset()


class AnswerCache(Protocol):
    """What `execute` needs from a cache of answers."""

    def get(self, request: Request) -> Mapping[str, Any] | None: ...

    def put(self, request: Request, body: Mapping[str, Any]) -> None: ...

    def discard(self, request: Request) -> None: ...


def unique_requests(plans: Iterable[Plan]) -> list[Request]:
    """Every distinct request of `plans`, in plan order."""
    seen: dict[str, Request] = {}
    for plan in plans:
        for request in plan.requests:
            seen.setdefault(request.key, request)
    return list(seen.values())


def execute(
    requests: Iterable[Request],
    source: Source,
    *,
    cache: AnswerCache | None = None,
    on_progress: Callable[[ProgressEvent], None] | None = None,
    max_workers: int = 6,
) -> Answers:
    """Answer every request; a failing request is recorded, never raised. A source that polls
    (it has an `on_poll` attribute) tells each poll, which becomes a `polled` Progress."""
    tell = on_progress or (lambda _: None)
    if on_progress is not None and hasattr(source, "on_poll"):
        source.on_poll = lambda request, polls: tell(Progress("polled", request, polls=polls))
    bodies: dict[str, Mapping[str, Any]] = {}
    failures: dict[str, str] = {}
    cached: set[str] = set()
    todo: list[Request] = []
    for request in requests:
        hit = cache.get(request) if cache else None
        if hit is not None:
            bodies[request.key] = hit
            cached.add(request.key)
            tell(Progress("cached", request))
        else:
            todo.append(request)

    def one(request: Request) -> Mapping[str, Any]:
        tell(Progress("sent", request))
        body = source.execute(request)
        if cache:
            # here, not where the answers are collected: an answer that arrives while the run is
            # being interrupted is kept too, and the rerun does not ask for it again
            cache.put(request, body)
        return body

    pool = ThreadPoolExecutor(max_workers=max(1, max_workers))
    try:
        futures = {pool.submit(one, request): request for request in todo}
        for future in as_completed(futures):
            request = futures[future]
            try:
                body = future.result()
            except ReportkitError as exc:
                failures[request.key] = str(exc)
                tell(Progress("failed", request, str(exc)))
                continue
            except Exception as exc:  # a source bug must not take the other reports down
                failures[request.key] = f"{type(exc).__name__}: {exc}"
                tell(Progress("failed", request, failures[request.key]))
                continue
            bodies[request.key] = body
            tell(Progress("done", request))
    except BaseException:
        # Interrupted: drop the requests not yet sent (a plain `with` would send them all
        # first); those running stop when the caller closes the source.
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return Answers(bodies=bodies, failures=failures, cached=frozenset(cached))
