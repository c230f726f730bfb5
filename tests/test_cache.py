"""The answer cache: complete windows kept for good, today's expire, corruption is harmless."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from reportkit.plan import Request
from reportkit.sources.cache import ResultCache

TODAY = date(2026, 11, 30)


def request(to: int) -> Request:
    return Request("/1/counts/events.json", {"event_name": "Charged", "from": 20261101, "to": to})


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_complete_window_is_kept_for_good(tmp_path: Path) -> None:
    clock = Clock()
    cache = ResultCache(tmp_path, namespace="demo", today=TODAY, clock=clock)
    cache.put(request(20261129), {"status": "success", "count": 7})
    clock.now += 10 * 365 * 86400
    assert cache.get(request(20261129)) == {"status": "success", "count": 7}


def test_a_window_with_today_expires_after_the_ttl(tmp_path: Path) -> None:
    clock = Clock()
    cache = ResultCache(tmp_path, namespace="demo", today=TODAY, ttl=60, clock=clock)
    cache.put(request(20261130), {"count": 1})
    clock.now += 59
    assert cache.get(request(20261130)) == {"count": 1}
    clock.now += 2
    assert cache.get(request(20261130)) is None


def test_entries_are_separate_per_namespace_and_request(tmp_path: Path) -> None:
    a = ResultCache(tmp_path, namespace="clevertap:eu1:ACC1", today=TODAY)
    b = ResultCache(tmp_path, namespace="clevertap:eu1:ACC2", today=TODAY)
    a.put(request(20261129), {"count": 1})
    assert b.get(request(20261129)) is None
    assert a.get(request(20261128)) is None


def test_a_corrupt_entry_is_ignored_and_replaced(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path, namespace="demo", today=TODAY)
    cache.put(request(20261129), {"count": 1})
    (entry,) = [p for p in tmp_path.rglob("*.json")]
    for garbage in ("{not json", '{"identity": 3}', "[]", ""):
        entry.write_text(garbage)
        assert cache.get(request(20261129)) is None
    cache.put(request(20261129), {"count": 2})
    assert cache.get(request(20261129)) == {"count": 2}
    assert not [p for p in tmp_path.rglob(".tmp-*")]


def test_a_profiles_answer_cached_without_tcount_is_asked_again(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path, namespace="demo", today=date(2026, 12, 1))
    body = {"event_name": "Charged", "from": 20261101, "to": 20261130}
    unique = Request("/1/counts/profiles.json", body)
    cache.put(unique, {"status": "success", "count": 7})  # as cached before tcount
    assert cache.get(unique) is None
    cache.put(unique, {"status": "success", "count": 7, "tcount": 9})
    assert cache.get(unique) == {"status": "success", "count": 7, "tcount": 9}
