"""The emulator behaves like the recorded real service, and the client copes with each of its ways:
the 200 fail form, partial by default, string req_ids, "still in progress" polls, 405, answers
longer than top_n, tcount (and its absence), and the trend limits the client must respect."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests

from reportkit.errors import QueryFailed
from reportkit.plan import Request
from reportkit.sources.clevertap import AccountLimiter, CleverTapSource, clevertap_source_from_env
from reportkit.sources.emulator import Emulator, start_emulator
from reportkit.sources.local import LocalEngine

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT, PASSCODE = "SVC", "svc-pass-1"
HEADERS = {"X-CleverTap-Account-Id": ACCOUNT, "X-CleverTap-Passcode": PASSCODE}
TRENDS = "/1/counts/trends.json"
TOP = "/1/counts/top.json"
CHARGED = {"event_name": "Charged", "from": 20261101, "to": 20261129}


@pytest.fixture(scope="module")
def engine(demo_store: Path) -> Iterator[LocalEngine]:
    local = LocalEngine(demo_store, read_only=True)
    yield local
    local.close()


@pytest.fixture
def emulate(engine: LocalEngine) -> Iterator[Any]:
    started: list[Emulator] = []

    def start(answerer: Any = None, **kwargs: Any) -> Emulator:
        emu = start_emulator(answerer or engine, account_id=ACCOUNT, passcode=PASSCODE, **kwargs)
        started.append(emu)
        return emu

    yield start
    for emu in started:
        emu.stop()


def client(emu: Emulator) -> CleverTapSource:
    env = {
        "CLEVERTAP_ACCOUNT_ID": ACCOUNT,
        "CLEVERTAP_PASSCODE": PASSCODE,
        "CLEVERTAP_BASE_URL": emu.url,
    }
    return clevertap_source_from_env(
        env, poll_interval=0.005, query_timeout=10.0, limiter=AccountLimiter(3)
    )


def trend(start: int, end: int, groups: int = 1) -> dict[str, Any]:
    kinds = ["daily", "weekly", "monthly"]
    return {
        "event_name": "Charged",
        "from": start,
        "to": end,
        "groups": {f"g{i}": {"trend_type": kinds[i % 3]} for i in range(groups)},
    }


# -- limits -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (trend(20250101, 20260102), "Date range too long : 20250101 - 20260102"),
        (trend(20261101, 20261129, groups=6), "Too many groups : 6"),
    ],
)
def test_trends_past_the_limits_are_refused_as_the_service_refuses(
    emulate: Any, body: dict[str, Any], message: str
) -> None:
    emu = emulate()
    response = requests.post(emu.url + TRENDS, json=body, headers=HEADERS, timeout=5)
    assert response.status_code == 200
    answer = response.json()
    assert answer["status"] == "fail" and answer["code"] == 400
    assert answer["error"].startswith(f'["{message}')  # a JSON list in a string, as recorded
    source = client(emu)
    with pytest.raises(QueryFailed, match=message):
        source.execute(Request(TRENDS, body))
    source.close()


def test_a_year_and_five_groups_are_within_the_limits(emulate: Any) -> None:
    source = client(emulate())
    answer = source.execute(Request(TRENDS, trend(20250102, 20260101, groups=5)))
    source.close()
    assert len(answer["g0"]) == 365


# -- ways of answering --------------------------------------------------------------------------


def test_still_in_progress_polls_and_string_req_ids(emulate: Any, engine: LocalEngine) -> None:
    emu = emulate(partial_polls=3, in_progress="text", string_req_ids=True)
    first = requests.post(emu.url + "/1/counts/events.json", json=CHARGED, headers=HEADERS)
    req_id = first.json()["req_id"]
    assert isinstance(req_id, str)
    poll = requests.get(
        emu.url + "/1/counts/events.json", params={"req_id": req_id}, headers=HEADERS
    )
    assert (poll.status_code, poll.text) == (200, "still in progress")
    emu.reset_stats()
    source = client(emu)
    answer = source.execute(Request("/1/counts/events.json", CHARGED))
    source.close()
    assert answer == engine.answer("/1/counts/events.json", CHARGED)[1]
    assert (emu.stats.posts, emu.stats.polls) == (1, 3)


def test_a_405_is_asked_again_by_get(emulate: Any, engine: LocalEngine) -> None:
    emu = emulate(faults="405:1.0")
    source = client(emu)
    answer = source.execute(Request("/1/counts/events.json", CHARGED))
    stats = source.stats
    source.close()
    assert answer == engine.answer("/1/counts/events.json", CHARGED)[1]
    assert emu.stats.statuses[405] == 1
    assert emu.stats.faults == {"405": 1}
    assert (stats.posts, stats.polls) == (2, 1)  # the POST, the GET asking again, one poll


def test_answers_longer_than_top_n_are_trimmed_by_the_client(emulate: Any) -> None:
    body = {**CHARGED, "groups": {"p": {"property_type": "event_properties", "name": "Product"}}}
    body["groups"]["p"]["top_n"] = 3
    emu = emulate(overfill=4)
    source = client(emu)
    answer = source.execute(Request(TOP, body))
    source.close()
    assert len(answer["p"]["STR"]) == 7  # the service may answer more than asked


class _NoTcount:
    """The local engine, answering profiles.json without `tcount` as some accounts might."""

    def __init__(self, engine: LocalEngine) -> None:
        self.engine = engine

    def answer(self, endpoint: str, body: Any) -> tuple[int, dict[str, Any]]:
        status, answer = self.engine.answer(endpoint, body)
        answer.pop("tcount", None)
        return status, answer


def test_profiles_tcount_saves_a_request_and_events_json_fills_in(
    emulate: Any, engine: LocalEngine
) -> None:
    profiles = "/1/counts/profiles.json"
    total = engine.answer("/1/counts/events.json", CHARGED)[1]["count"]
    unique = engine.answer(profiles, CHARGED)[1]
    assert unique["tcount"] == total
    assert unique["userDeviceCount"] == {"users": unique["count"], "devices": unique["count"]}
    assert unique["nQCount"] == 0
    for answerer, endpoints in [
        (None, {profiles: 2}),  # a POST and its poll
        (_NoTcount(engine), {profiles: 2, "/1/counts/events.json": 2}),
    ]:
        emu = emulate(answerer)
        source = client(emu)
        answer = source.execute(Request(profiles, CHARGED))
        source.close()
        assert (answer["count"], answer["tcount"]) == (unique["count"], total)
        assert emu.stats.by_endpoint == endpoints


# -- the command line ---------------------------------------------------------------------------


def test_emulate_exposes_every_mode_on_the_command_line(tmp_path: Path) -> None:
    demo = pytest.importorskip("reportkit.sources.demo")
    db = tmp_path / "demo.duckdb"
    demo.build_demo(db, events=2_000, end=date(2026, 11, 30), days=30)
    args = ["--port", "0", "--partial-polls", "2", "--in-progress", "text", "--string-req-ids"]
    args += ["--overfill", "3", "--faults", "405:1.0", "--fail-form", "200", "--req-ttl", "30"]
    process = subprocess.Popen(
        [sys.executable, "-m", "reportkit", "emulate", "--db", str(db), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip().split("=", 1)[1]
        headers = {"X-CleverTap-Account-Id": "a", "X-CleverTap-Passcode": "b"}
        refused = requests.post(url + TOP, json=CHARGED, headers=headers, timeout=5)
        assert refused.status_code == 405
        body = {
            **CHARGED,
            "groups": {"p": {"property_type": "event_properties", "name": "Product"}},
        }
        body["groups"]["p"]["top_n"] = 2
        asked = requests.get(url + TOP, json=body, headers=headers, timeout=5)
        req_id = asked.json()["req_id"]
        assert isinstance(req_id, str)
        polls = [
            requests.get(url + TOP, params={"req_id": req_id}, headers=headers, timeout=5)
            for _ in range(2)
        ]
        assert polls[0].text == "still in progress"
        assert len(polls[1].json()["p"]["STR"]) == 5
        bad = requests.get(url + TOP, json={**body, "event_name": "Nope"}, headers=headers)
        assert (bad.status_code, bad.json()["error"]) == (200, '["Invalid event : Nope"]')
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=10)
    assert process.returncode == 0
