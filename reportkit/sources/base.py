"""The one seam between the plan and whatever answers it."""

from __future__ import annotations

from typing import Any, Protocol

from reportkit.plan import Request


class Source(Protocol):
    """Something that answers planned requests with the API's success bodies.

    `execute` returns the JSON body of a `success` answer (a dict), or raises a `SourceError`
    subclass; it may be called from several threads at once.
    """

    name: str

    def execute(self, request: Request) -> dict[str, Any]: ...

    def close(self) -> None: ...
