"""The terminal's view of a run: one line per query with its state, then each report's rendering
and delivery as steps (rich), fed by callbacks. A running line shows how long it has been running
and, for CleverTap's asynchronous queries, how many polls it took so far."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

from reportkit.plan import Plan
from reportkit.sources.execute import Progress, ProgressEvent, ReportStep

_STYLE = {
    "waiting": "dim",
    "running": "yellow",
    "rendering": "yellow",
    "sending": "yellow",
    "done": "green",
    "cached": "cyan",
    "skipped": "dim",
    "failed": "bold red",
}
_RUNNING = {"render": "rendering", "deliver": "sending"}


class QueryProgress:
    """Tracks each query's state from request events, and each report's render and deliver
    steps, and draws them with rich.Live (redrawn 8 times a second, so elapsed times move)."""

    def __init__(
        self,
        plans: Sequence[Plan],
        *,
        stream: Any,
        delivering: Sequence[str] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        from rich.console import Console

        self._lock = threading.Lock()
        self._clock = clock
        self._console = Console(file=stream, stderr=True)
        self._rows: dict[tuple[str, str], str] = {}
        self._started: dict[tuple[str, str], float] = {}
        self._ended: dict[tuple[str, str], float] = {}
        self._polls: dict[tuple[str, str], int] = {}
        self._pending: dict[tuple[str, str], set[str]] = {}
        self._by_request: dict[str, list[tuple[str, str]]] = {}
        self._cached_only: dict[tuple[str, str], bool] = {}
        self._request_polls: dict[str, int] = {}
        self._steps: dict[tuple[str, str], str] = {}
        for plan in plans:
            for query in plan.report.queries:
                self._rows[(plan.report.id, query.id)] = "waiting"
            for request in plan.requests:
                for serves in request.serves:
                    key = (plan.report.id, serves.query_id)
                    self._pending.setdefault(key, set()).add(request.key)
                    self._by_request.setdefault(request.key, []).append(key)
                    self._cached_only[key] = True
        for plan in plans:  # step rows are keyed "(render)": no query id holds a parenthesis
            self._steps[(plan.report.id, "(render)")] = "waiting"
        for report_id in delivering:
            self._steps[(report_id, "(deliver)")] = "waiting"
        self._live: Any = None

    def __enter__(self) -> QueryProgress:
        from rich.live import Live

        self._live = Live(
            console=self._console,
            refresh_per_second=8,
            transient=False,
            get_renderable=self._table,
        )
        self._live.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.refresh()
            self._live.__exit__(kind, exc, tb)

    def __call__(self, event: ProgressEvent) -> None:
        with self._lock:
            if isinstance(event, ReportStep):
                self._step(event)
            else:
                self._request(event)

    def _step(self, event: ReportStep) -> None:
        key = (event.report_id, f"({event.step})")
        if event.state == "running":
            self._steps[key] = _RUNNING[event.step]
            self._started[key] = self._clock()
        else:
            self._steps[key] = event.state
            self._ended[key] = self._clock()

    def _request(self, event: Progress) -> None:
        now = self._clock()
        if event.state == "polled":
            self._request_polls[event.request.key] = event.polls
        for key in self._by_request.get(event.request.key, []):
            if self._rows[key] == "failed":
                continue
            if event.state == "sent":
                self._rows[key] = "running"
                self._started.setdefault(key, now)
                self._cached_only[key] = False
            elif event.state == "polled":
                polls = self._request_polls
                self._polls[key] = sum(polls.get(r, 0) for r in self._requests_of(key))
            elif event.state == "failed":
                self._rows[key] = "failed"
                self._ended[key] = now
            else:
                if event.state == "done":
                    self._cached_only[key] = False
                pending = self._pending[key]
                pending.discard(event.request.key)
                if not pending:
                    self._rows[key] = "cached" if self._cached_only[key] else "done"
                    self._ended[key] = now

    def _requests_of(self, key: tuple[str, str]) -> list[str]:
        return [r for r, keys in self._by_request.items() if key in keys]

    def _detail(self, key: tuple[str, str]) -> str:
        started = self._started.get(key)
        if started is None:
            return ""
        seconds = self._ended.get(key, self._clock()) - started
        polls = self._polls.get(key, 0)
        return f"{seconds:.1f} s" + (f", {polls} poll{'s' if polls != 1 else ''}" if polls else "")

    def _table(self) -> Any:
        from rich.table import Table

        with self._lock:
            table = Table.grid(padding=(0, 2))
            for (report_id, query_id), state in self._rows.items():
                detail = self._detail((report_id, query_id))
                table.add_row(report_id, query_id, f"[{_STYLE[state]}]{state}[/]", detail)
            for (report_id, step), state in self._steps.items():
                detail = self._detail((report_id, step))
                table.add_row(report_id, step, f"[{_STYLE[state]}]{state}[/]", detail)
            return table
