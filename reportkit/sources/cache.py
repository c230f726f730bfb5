"""Answers cached on disk, keyed by source, account, data generation and request.

The data generation (`cache_namespace`) changes whenever a source's data can have changed: a
local store counts its imports, a demo store is named by its seed, size and days. A source that
has no generation (CleverTap) is keyed by its name alone: its complete windows are final.

A window that ends before today (in the report's timezone) never changes, so its answer is kept
for good; a window that includes today expires after `ttl` seconds (10 minutes by default).
With `refresh` (`--no-cache`) every request is asked again and its answer replaces the entry.
A corrupt or foreign entry is ignored and replaced, never fatal. Entries are written to a temp file
and renamed, so a killed run leaves no half-written entry behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from reportkit.plan import Request

DEFAULT_TTL = 600.0


def cache_namespace(source: object) -> str:
    """The cache namespace of a source: its name, and its data generation when it has one."""
    name = str(getattr(source, "name", ""))
    generation = getattr(source, "data_generation", None)
    return name if generation is None else f"{name}\n{generation}"


class ResultCache:
    """A folder of JSON answers; safe to share between the threads of one run."""

    def __init__(
        self,
        root: Path,
        *,
        namespace: str,
        today: date,
        ttl: float = DEFAULT_TTL,
        clock: Callable[[], float] = time.time,
        refresh: bool = False,
    ) -> None:
        self.root = root
        self.namespace = namespace  # source and account: never a secret
        self.today = today
        self.ttl = ttl
        self._clock = clock
        self.refresh = refresh  # `--no-cache`: never answer from the cache, but store answers

    def _path(self, request: Request) -> tuple[Path, str]:
        identity = f"{self.namespace}\n{request.key}"
        digest = hashlib.sha256(identity.encode()).hexdigest()
        return self.root / digest[:2] / f"{digest}.json", identity

    def _is_final(self, request: Request) -> bool:
        to = request.body.get("to")
        try:
            end = date(int(to) // 10000, int(to) // 100 % 100, int(to) % 100)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return False
        return end < self.today

    def get(self, request: Request) -> Mapping[str, Any] | None:
        if self.refresh:
            return None
        path, identity = self._path(request)
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
            if entry["identity"] != identity:
                return None
            expires = entry["expires"]
            if expires is not None and self._clock() >= float(expires):
                return None
            body = entry["body"]
        except (OSError, ValueError, KeyError, TypeError, RecursionError):
            return None  # missing, corrupt or foreign: ask the source again
        if not isinstance(body, dict):
            return None
        if request.endpoint == "/1/counts/profiles.json" and "tcount" not in body:
            return None  # cached before unique counts took their total from tcount
        return body

    def put(self, request: Request, body: Mapping[str, Any]) -> None:
        path, identity = self._path(request)
        expires = None if self._is_final(request) else self._clock() + self.ttl
        entry = {"identity": identity, "expires": expires, "stored": self._clock(), "body": body}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(entry, handle, ensure_ascii=False, separators=(",", ":"))
            os.replace(tmp, path)
        except OSError:
            return  # a cache that cannot be written only costs a later query

    def discard(self, request: Request) -> None:
        """Forget an answer that turned out unusable, so the next run asks again."""
        path, _ = self._path(request)
        try:
            path.unlink()
        except OSError:
            return
