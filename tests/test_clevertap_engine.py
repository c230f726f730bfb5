"""The CleverTap source against the emulator over the real local engine and demo data."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from reportkit.plan import Request
from reportkit.sources.clevertap import AccountLimiter, CleverTapSource, clevertap_source_from_env
from reportkit.sources.emulator import Emulator, start_emulator

demo = pytest.importorskip("reportkit.sources.demo")  # lands with the local engine
local = pytest.importorskip("reportkit.sources.local")

END = date(2026, 11, 30)
GROUPS = {
    "city": {"property_type": "geo_fields", "name": "City", "top_n": 5, "order": "desc"},
    "os": {"property_type": "technographics", "name": "OS", "top_n": 3, "order": "asc"},
    "amount": {"property_type": "event_properties", "name": "Amount", "top_n": 10},
}


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    path = tmp_path_factory.mktemp("ct") / "demo.duckdb"
    demo.build_demo(path, events=20_000, end=END, days=60)
    engine = local.LocalEngine(path, read_only=True)
    yield engine
    engine.close()


@pytest.fixture
def emulator(engine: Any) -> Iterator[Emulator]:
    emu = start_emulator(engine, account_id="ENG", passcode="eng-pass", partial_polls=2)
    yield emu
    emu.stop()


def source_for(emu: Emulator) -> CleverTapSource:
    env = {
        "CLEVERTAP_ACCOUNT_ID": "ENG",
        "CLEVERTAP_PASSCODE": "eng-pass",
        "CLEVERTAP_BASE_URL": emu.url,
    }
    return clevertap_source_from_env(env, poll_interval=0.005, limiter=AccountLimiter(3))


def requests_for(event: str, day_from: int) -> list[Request]:
    window = {"event_name": event, "from": day_from, "to": 20261130}
    return [
        Request("/1/counts/top.json", {**window, "groups": GROUPS}),
        Request("/1/counts/events.json", window),
        Request("/1/counts/profiles.json", window),
        Request(
            "/1/counts/trends.json",
            {**window, "unique": False, "groups": {"daily": {"trend_type": "daily"}}},
        ),
    ]


def test_answers_equal_the_local_engines(engine: Any, emulator: Emulator) -> None:
    with source_for(emulator) as source:
        for request in requests_for("Charged", 20261101) + requests_for("App Launched", 20261124):
            status, expected = engine.answer(request.endpoint, request.body)
            assert status == 200
            assert source.execute(request) == expected
    assert emulator.stats.polls == 2 * emulator.stats.posts


def test_twelve_requests_from_eight_threads(engine: Any, emulator: Emulator) -> None:
    events = ("App Launched", "Product Viewed", "Added To Cart", "Charged")
    planned = [r for e in events for r in requests_for(e, 20261101)[:3]]
    assert len(planned) == 12
    results: dict[int, Any] = {}
    queue = list(enumerate(planned))
    lock = threading.Lock()
    with source_for(emulator) as source:

        def work() -> None:
            while True:
                with lock:
                    if not queue:
                        return
                    index, request = queue.pop()
                results[index] = source.execute(request)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert [results[i] for i in range(12)] == [
        engine.answer(r.endpoint, r.body)[1] for r in planned
    ]
    assert emulator.stats.max_in_flight <= 3
    assert emulator.stats.rejected == 0


def test_invalid_event_fails_like_the_engine(emulator: Emulator) -> None:
    from reportkit.errors import QueryFailed

    with source_for(emulator) as source, pytest.raises(QueryFailed, match="Invalid event : Nope"):
        source.execute(requests_for("Nope", 20261101)[1])


def test_demo_path_is_a_file(engine: Any) -> None:
    assert Path(str(engine.path)).is_file()
