"""The terminal's view of a run: one line per query with its state (rich), fed by callbacks."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from reportkit.plan import Plan
from reportkit.sources.execute import Progress

_STYLE = {
    "waiting": "dim",
    "running": "yellow",
    "done": "green",
    "cached": "cyan",
    "failed": "bold red",
}


class QueryProgress:
    """Tracks each query's state from request events and draws it with rich.Live."""

    def __init__(self, plans: Sequence[Plan], *, stream: Any) -> None:
        from rich.console import Console

        self._lock = threading.Lock()
        self._console = Console(file=stream, stderr=True)
        self._rows: dict[tuple[str, str], str] = {}
        self._pending: dict[tuple[str, str], set[str]] = {}
        self._by_request: dict[str, list[tuple[str, str]]] = {}
        self._cached_only: dict[tuple[str, str], bool] = {}
        for plan in plans:
            for query in plan.report.queries:
                self._rows[(plan.report.id, query.id)] = "waiting"
            for request in plan.requests:
                for serves in request.serves:
                    key = (plan.report.id, serves.query_id)
                    self._pending.setdefault(key, set()).add(request.key)
                    self._by_request.setdefault(request.key, []).append(key)
                    self._cached_only[key] = True
        self._live: Any = None

    def __enter__(self) -> QueryProgress:
        from rich.live import Live

        self._live = Live(
            self._table(), console=self._console, refresh_per_second=8, transient=False
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
            self._live.update(self._table())
            self._live.__exit__(kind, exc, tb)

    def __call__(self, event: Progress) -> None:
        with self._lock:
            for key in self._by_request.get(event.request.key, []):
                if self._rows[key] == "failed":
                    continue
                if event.state == "sent":
                    self._rows[key] = "running"
                    self._cached_only[key] = False
                elif event.state == "failed":
                    self._rows[key] = "failed"
                else:
                    if event.state == "done":
                        self._cached_only[key] = False
                    pending = self._pending[key]
                    pending.discard(event.request.key)
                    if not pending:
                        self._rows[key] = "cached" if self._cached_only[key] else "done"
            if self._live is not None:
                self._live.update(self._table())

    def _table(self) -> Any:
        from rich.table import Table

        table = Table.grid(padding=(0, 2))
        for (report_id, query_id), state in self._rows.items():
            table.add_row(report_id, query_id, f"[{_STYLE[state]}]{state}[/]")
        return table
