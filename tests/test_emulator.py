"""The emulator over real sockets: headers, partial answers, 405, expiry, the limit, faults.

Every answer comes from a real LocalEngine over the session's demo store.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from reportkit.sources.emulator import Emulator, parse_faults, start_emulator
from reportkit.sources.local import LocalEngine

TOP = "/1/counts/top.json"
BODY = {
    "event_name": "Charged",
    "from": 20261101,
    "to": 20261129,
    "groups": {"city": {"property_type": "geo_fields", "name": "City"}},
}
HEADERS = {
    "X-CleverTap-Account-Id": "ACC",
    "X-CleverTap-Passcode": "pass-123",
    "Content-Type": "application/json",
}


@pytest.fixture(scope="module")
def engine(demo_store: Path) -> Iterator[LocalEngine]:
    local = LocalEngine(demo_store, read_only=True)
    yield local
    local.close()


@pytest.fixture
def emulator(engine: LocalEngine) -> Iterator[Emulator]:
    # answering at once (partial_polls=0), the rare case, so one request shows one answer
    emu = start_emulator(engine, account_id="ACC", passcode="pass-123", partial_polls=0)
    yield emu
    emu.stop()


def post(emu: Emulator, body: Any = BODY, headers: dict[str, str] = HEADERS) -> requests.Response:
    return requests.post(emu.url + TOP, json=body, headers=headers, timeout=5)


def test_success_answers_from_the_engine(emulator: Emulator, engine: LocalEngine) -> None:
    response = post(emulator)
    assert response.status_code == 200
    assert response.json() == engine.answer(TOP, BODY)[1]
    assert response.json()["city"]["STR"]  # the demo store has cities in November
    assert emulator.stats.posts == 1


@pytest.mark.parametrize(
    "headers",
    [
        {"X-CleverTap-Account-Id": "ACC", "X-CleverTap-Passcode": "wrong"},
        {"X-CleverTap-Account-Id": "OTHER", "X-CleverTap-Passcode": "pass-123"},
        {"X-CleverTap-Account-Id": "ACC"},
        {},
    ],
)
def test_bad_credentials_get_the_real_401(emulator: Emulator, headers: dict[str, str]) -> None:
    response = post(emulator, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"status": "fail", "error": "Account ID is not valid", "code": 401}


def test_by_default_a_query_is_partial_once_then_answered(engine: LocalEngine) -> None:
    with start_emulator(engine) as emu:
        first = post(emu)
        assert first.status_code == 200
        assert first.json()["status"] == "partial"
        polled = requests.get(
            emu.url + TOP, params={"req_id": first.json()["req_id"]}, headers=HEADERS, timeout=5
        )
        assert polled.json() == engine.answer(TOP, BODY)[1]


def test_engine_failures_answer_the_recorded_200_form(emulator: Emulator) -> None:
    response = post(emulator, {**BODY, "event_name": "Nope"})
    assert response.status_code == 200
    assert response.json() == {"status": "fail", "error": '["Invalid event : Nope"]', "code": 400}


def test_engine_failures_as_http_400_on_request(engine: LocalEngine) -> None:
    with start_emulator(engine, fail_form="400") as emu:
        response = post(emu, {**BODY, "event_name": "Nope"})
    assert response.status_code == 400
    assert response.json() == {"status": "fail", "error": "Invalid event : Nope", "code": 400}


def test_get_without_req_id_is_405_and_unknown_paths_404(emulator: Emulator) -> None:
    assert requests.get(emulator.url + TOP, headers=HEADERS, timeout=5).status_code == 405
    response = requests.post(emulator.url + "/1/nope.json", json={}, headers=HEADERS, timeout=5)
    assert response.status_code == 404


def test_partial_k_times_then_success(engine: LocalEngine) -> None:
    with start_emulator(engine, partial_polls=3) as emu:
        first = post(emu).json()
        assert first["status"] == "partial"
        assert isinstance(first["req_id"], int)
        url = f"{emu.url}{TOP}?req_id={first['req_id']}"
        answers = [requests.get(url, headers=HEADERS, timeout=5).json() for _ in range(3)]
        assert [a["status"] for a in answers] == ["partial", "partial", "success"]
        assert answers[-1] == engine.answer(TOP, BODY)[1]
        # the req_id is spent once answered
        gone = requests.get(url, headers=HEADERS, timeout=5).json()
        assert gone["status"] == "fail"
        assert "unknown or expired" in gone["error"]
        assert emu.stats.polls == 4


@pytest.mark.parametrize(
    ("style", "status", "shape"),
    [("202", 202, {"status": "partial"}), ("code2", 200, {"status": "fail", "code": 2})],
)
def test_in_progress_styles(
    engine: LocalEngine, style: Any, status: int, shape: dict[str, Any]
) -> None:
    with start_emulator(engine, partial_polls=2, in_progress=style, string_req_ids=True) as emu:
        req_id = post(emu).json()["req_id"]
        assert isinstance(req_id, str)
        response = requests.get(f"{emu.url}{TOP}?req_id={req_id}", headers=HEADERS, timeout=5)
        assert response.status_code == status
        assert shape.items() <= response.json().items()


def test_req_ids_expire(engine: LocalEngine) -> None:
    with start_emulator(engine, partial_polls=2, req_ttl=0.0) as emu:
        req_id = post(emu).json()["req_id"]
        answer = requests.get(f"{emu.url}{TOP}?req_id={req_id}", headers=HEADERS, timeout=5)
        assert answer.json()["status"] == "fail"
        assert str(req_id) in answer.json()["error"]


def test_concurrency_limit_answers_429_and_counts_the_peak(engine: LocalEngine) -> None:
    with start_emulator(engine, latency=0.3, concurrency=3) as emu:
        results: list[int] = []
        barrier = threading.Barrier(5)

        def one() -> None:
            barrier.wait()
            results.append(post(emu).status_code)

        threads = [threading.Thread(target=one) for _ in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == [200, 200, 200, 429, 429]
        stats = emu.stats
        assert stats.max_in_flight >= 4  # a refused request leaves at once
        assert stats.rejected == 2


def test_faults_are_deterministic_for_a_seed(engine: LocalEngine) -> None:
    def statuses(seed: int) -> list[int | str]:
        out: list[int | str] = []
        with start_emulator(engine, faults="500:0.3,429:0.2,garbage:0.1", seed=seed) as emu:
            for _ in range(30):
                response = post(emu)
                out.append(
                    response.status_code
                    if response.text[:3] != '{"s' or response.status_code != 200
                    else response.text[:12]
                )
        return out

    first = statuses(7)
    assert first == statuses(7)
    assert first != statuses(8)
    assert 500 in first and 429 in first


def test_every_fault_kind_is_injected(engine: LocalEngine) -> None:
    with (
        start_emulator(engine, faults="reset:1.0") as emu,
        pytest.raises(requests.ConnectionError),
    ):
        post(emu)
    with start_emulator(engine, faults="slow:1.0", slow_seconds=0.2) as emu:
        assert post(emu).status_code == 200
        assert emu.stats.faults == {"slow": 1}
    with start_emulator(engine, faults="garbage:1.0") as emu:
        response = post(emu)
        assert response.status_code == 200
        with pytest.raises(ValueError):
            response.json()
    with start_emulator(engine, faults="fail200:1.0") as emu:
        response = post(emu)
        assert (response.status_code, response.json()["status"]) == (200, "fail")
    with start_emulator(engine, faults="500:1.0") as emu:
        assert post(emu).status_code == 500
    with start_emulator(engine, faults="429:1.0") as emu:
        assert post(emu).json()["error"] == "Too many concurrent requests"
    with start_emulator(engine, faults="expire:1.0", partial_polls=2) as emu:
        req_id = post(emu).json()["req_id"]  # a POST is never "expired"
        answer = requests.get(f"{emu.url}{TOP}?req_id={req_id}", headers=HEADERS, timeout=5)
        assert "unknown or expired" in answer.json()["error"]


def test_parse_faults() -> None:
    assert parse_faults("500:0.1, reset:0.02") == {"500": 0.1, "reset": 0.02}
    assert parse_faults(None) == {}
    for bad in ("boom:0.1", "500", "500:x", "500:0.8,429:0.5", "500:2"):
        with pytest.raises(ValueError):
            parse_faults(bad)


def test_stop_is_clean_and_frees_the_port(engine: LocalEngine) -> None:
    emu = start_emulator(engine)
    url = emu.url
    emu.stop()
    with pytest.raises(requests.ConnectionError):
        requests.post(url + TOP, json=BODY, headers=HEADERS, timeout=2)
