"""Report -> API requests: one request per event, kind and window, identical requests sent once."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

Endpoint = Literal[
    "/1/counts/top.json", "/1/counts/events.json", "/1/counts/profiles.json", "/1/counts/trends.json"
]
Role = Literal["current", "previous"]


@dataclass(frozen=True, slots=True)
class Serves:
    """Which query (and which of its groups) a request answers, for which window."""

    query_id: str
    role: Role = "current"
    measure: Literal["top", "total", "unique", "trend"] = "top"
    group: str | None = None  # the group key as the report wrote it
    request_key: str | None = None  # the key of that group inside the request body


@dataclass(frozen=True, slots=True)
class Request:
    """One API call: an endpoint and its JSON body, and what it serves."""

    endpoint: Endpoint
    body: dict[str, Any]
    serves: tuple[Serves, ...] = ()

    @property
    def key(self) -> str:
        """A canonical identity of the call: equal for requests the API answers identically."""
        return self.endpoint + " " + json.dumps(self.body, sort_keys=True, separators=(",", ":"))
