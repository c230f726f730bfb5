"""The CleverTap source over real HTTP against the emulator on a free loopback port."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from reportkit.errors import (
    AuthError,
    InvalidInput,
    QueryFailed,
    QueryTimeout,
    ReportkitError,
    TransportError,
)
from reportkit.plan import Request
from reportkit.sources.clevertap import (
    AccountLimiter,
    CleverTapSource,
    clevertap_source_from_env,
    config_from_env,
    shared_limiter,
)
from reportkit.sources.demo import build_demo
from reportkit.sources.emulator import Emulator, start_emulator
from reportkit.sources.local import LocalEngine

PASSCODE = "S3cr3t-Passc0de-XYZ"
ACCOUNT = "TEST-ACC-1"
TOP = "/1/counts/top.json"


def top(event: str = "Charged", day: int = 1, group: str = "city") -> Request:
    return Request(
        TOP,
        {
            "event_name": event,
            "from": 20261100 + day,
            "to": 20261130,
            "groups": {group: {"property_type": "geo_fields", "name": group.title()}},
        },
    )


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEngine]:
    """The real local engine over a small demo store: what the emulator serves from."""
    path = tmp_path_factory.mktemp("clevertap") / "demo.duckdb"
    build_demo(path, events=20_000, end=date(2026, 11, 30), days=60)
    engine = LocalEngine(path, read_only=True)
    yield engine
    engine.close()


def env_for(emu: Emulator, **extra: str) -> dict[str, str]:
    return {
        "CLEVERTAP_ACCOUNT_ID": ACCOUNT,
        "CLEVERTAP_PASSCODE": PASSCODE,
        "CLEVERTAP_BASE_URL": emu.url,
        **extra,
    }


def make_source(emu: Emulator, **kwargs: Any) -> CleverTapSource:
    options: dict[str, Any] = {
        "poll_interval": 0.005,
        "query_timeout": 10.0,
        "backoff_base": 0.002,
        "rate_limit_backoff": 0.002,
        "max_attempts": 8,
        "limiter": AccountLimiter(3),
    }
    options.update(kwargs)
    env = options.pop("env", None) or env_for(emu)
    return clevertap_source_from_env(env, **options)


@pytest.fixture
def emulate(engine: LocalEngine) -> Iterator[Any]:
    started: list[Emulator] = []

    def start(**kwargs: Any) -> Emulator:
        kwargs.setdefault("account_id", ACCOUNT)
        kwargs.setdefault("passcode", PASSCODE)
        emu = start_emulator(engine, **kwargs)
        started.append(emu)
        return emu

    yield start
    for emu in started:
        emu.stop()


# -- configuration ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CLEVERTAP_PASSCODE": "x"}, "no CleverTap account id: set CLEVERTAP_ACCOUNT_ID"),
        ({"CLEVERTAP_ACCOUNT_ID": "A"}, "no CleverTap passcode: set CLEVERTAP_PASSCODE"),
        ({"CLEVERTAP_ACCOUNT_ID": "A", "CLEVERTAP_PASSCODE": "   "}, "no CleverTap passcode"),
        (
            {"CLEVERTAP_ACCOUNT_ID": "A", "CLEVERTAP_PASSCODE": "x", "CLEVERTAP_REGION": "mars"},
            "unknown CleverTap region 'mars': expected one of eu1, in1, sg1, us1, aps3, mec1",
        ),
        (
            {"CLEVERTAP_ACCOUNT_ID": "A", "CLEVERTAP_PASSCODE": "x", "CLEVERTAP_BASE_URL": "ftp:"},
            "CLEVERTAP_BASE_URL must start with http:// or https://",
        ),
    ],
)
def test_bad_configuration_fails_before_any_request(
    emulate: Any, env: dict[str, str], message: str
) -> None:
    emu = emulate()
    with pytest.raises(InvalidInput) as caught:
        clevertap_source_from_env({"CLEVERTAP_BASE_URL": emu.url, **env})
    assert message in str(caught.value)
    assert caught.value.exit_code == 2
    assert emu.stats.requests == 0


def test_passcode_file(tmp_path: Path, emulate: Any) -> None:
    emu = emulate()
    secret = tmp_path / "passcode"
    secret.write_text(PASSCODE + "\n")
    env = {**env_for(emu), "CLEVERTAP_PASSCODE_FILE": str(secret)}
    del env["CLEVERTAP_PASSCODE"]
    with make_source(emu, env=env) as source:
        assert source.execute(top())["status"] == "success"
    with pytest.raises(InvalidInput, match=r"cannot read CLEVERTAP_PASSCODE_FILE .*missing"):
        config_from_env(
            {"CLEVERTAP_ACCOUNT_ID": "A", "CLEVERTAP_PASSCODE_FILE": str(tmp_path / "missing")}
        )
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(InvalidInput, match="is empty"):
        config_from_env(
            {"CLEVERTAP_ACCOUNT_ID": "A", "CLEVERTAP_PASSCODE_FILE": str(tmp_path / "empty")}
        )


@pytest.mark.parametrize(
    ("env_region", "flag", "host"),
    [
        (None, None, "https://api.clevertap.com"),
        ("in1", None, "https://in1.api.clevertap.com"),
        ("IN1", "mec1", "https://mec1.api.clevertap.com"),
        (None, "aps3", "https://aps3.api.clevertap.com"),
    ],
)
def test_regions(env_region: str | None, flag: str | None, host: str) -> None:
    env = {"CLEVERTAP_ACCOUNT_ID": "A", "CLEVERTAP_PASSCODE": "x"}
    if env_region:
        env["CLEVERTAP_REGION"] = env_region
    config = config_from_env(env, region=flag)
    assert config.base_url == host


def test_shared_limiter_is_one_per_account() -> None:
    first = shared_limiter("ACC-registry", 3)
    assert shared_limiter("ACC-registry", 3) is first
    assert shared_limiter("ACC-other", 3) is not first
    assert shared_limiter("ACC-registry", 2) is first
    assert first.limit == 2


# -- answers ------------------------------------------------------------------------------------


def test_answers_equal_the_engines(emulate: Any, engine: LocalEngine) -> None:
    emu = emulate()
    with make_source(emu) as source:
        for request in (
            top(),
            top("App Launched", 3),
            Request(
                "/1/counts/events.json", {"event_name": "Charged", "from": 20261101, "to": 20261130}
            ),
        ):
            assert source.execute(request) == engine.answer(request.endpoint, request.body)[1]


@pytest.mark.parametrize("style", ["partial", "code2", "202"])
@pytest.mark.parametrize("string_ids", [False, True])
def test_partial_polling(emulate: Any, engine: LocalEngine, style: str, string_ids: bool) -> None:
    emu = emulate(partial_polls=3, in_progress=style, string_req_ids=string_ids)
    with make_source(emu) as source:
        assert source.execute(top()) == engine.answer(TOP, top().body)[1]
        assert source.http_requests == 4
    assert (emu.stats.posts, emu.stats.polls) == (1, 3)


def test_bad_request_fails_without_retry(emulate: Any) -> None:
    emu = emulate()
    with make_source(emu) as source, pytest.raises(QueryFailed) as caught:
        source.execute(top("Nope"))
    assert str(caught.value) == (
        "CleverTap answered fail for POST /1/counts/top.json (event 'Nope', 20261101-20261130): "
        "Invalid event : Nope (code 400)"
    )
    assert emu.stats.requests == 1


def test_wrong_passcode_is_an_auth_error(emulate: Any) -> None:
    emu = emulate(passcode="another")
    with make_source(emu) as source, pytest.raises(AuthError) as caught:
        source.execute(top())
    message = str(caught.value)
    assert "check the account id, passcode and region" in message
    assert "CLEVERTAP_BASE_URL" in message
    assert PASSCODE not in message
    assert emu.stats.requests == 1


def test_auth_error_names_the_region_host() -> None:
    config = config_from_env(
        {"CLEVERTAP_ACCOUNT_ID": "A", "CLEVERTAP_PASSCODE": "x", "CLEVERTAP_REGION": "sg1"}
    )
    assert "region sg1 -> sg1.api.clevertap.com" in config.auth_hint()


# -- faults ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["500", "429", "reset", "slow", "garbage"])
def test_transient_faults_are_survived(emulate: Any, engine: LocalEngine, kind: str) -> None:
    emu = emulate(partial_polls=2, faults=f"{kind}:0.3", seed=3, slow_seconds=0.05)
    with make_source(emu) as source:
        for day in range(1, 9):
            request = top(day=day)
            assert source.execute(request) == engine.answer(TOP, request.body)[1]
    assert emu.stats.faults.get(kind, 0) > 0


def test_all_transient_faults_at_once(emulate: Any, engine: LocalEngine) -> None:
    emu = emulate(
        partial_polls=2,
        faults="500:0.1,429:0.05,reset:0.05,slow:0.05,garbage:0.05",
        seed=11,
        slow_seconds=0.02,
    )
    with make_source(emu) as source:
        for day in range(1, 13):
            request = top(day=day)
            assert source.execute(request) == engine.answer(TOP, request.body)[1]


def test_slow_past_the_read_timeout_is_retried(emulate: Any, engine: LocalEngine) -> None:
    emu = emulate(faults="slow:0.5", seed=1, slow_seconds=0.6)
    with make_source(emu, http_timeout=(1.0, 0.2)) as source:
        for day in range(1, 5):
            assert source.execute(top(day=day)) == engine.answer(TOP, top(day=day).body)[1]
    assert emu.stats.faults["slow"] > 0


def test_fail_in_a_200_is_a_failure(emulate: Any) -> None:
    emu = emulate(faults="fail200:1.0")
    with make_source(emu) as source, pytest.raises(QueryFailed, match=r"Injected failure \(code"):
        source.execute(top())
    assert emu.stats.requests == 1


def test_5xx_for_ever_gives_up_with_a_transport_error(emulate: Any) -> None:
    emu = emulate(faults="500:1.0")
    with make_source(emu, max_attempts=4) as source, pytest.raises(TransportError) as caught:
        source.execute(top())
    assert "after 4 attempts" in str(caught.value)
    assert emu.stats.requests == 4


def test_connection_refused_is_a_transport_error(emulate: Any) -> None:
    emu = emulate()
    emu.stop()
    with make_source(emu, max_attempts=3) as source, pytest.raises(TransportError) as caught:
        source.execute(top())
    assert "ConnectionError" in str(caught.value)


def test_expired_req_id_is_asked_again_once(emulate: Any, engine: LocalEngine) -> None:
    emu = emulate(partial_polls=2)
    emu.expire_next_polls(1)
    with make_source(emu) as source:
        assert source.execute(top()) == engine.answer(TOP, top().body)[1]
    assert emu.stats.posts == 2


def test_expired_twice_fails(emulate: Any) -> None:
    emu = emulate(partial_polls=2, faults="expire:1.0")
    with make_source(emu) as source, pytest.raises(QueryFailed, match="unknown or expired"):
        source.execute(top())
    assert emu.stats.posts == 2


def test_a_server_that_never_finishes_times_out_naming_the_req_id(emulate: Any) -> None:
    emu = emulate(partial_polls=10**9)
    with (
        make_source(emu, query_timeout=0.3, poll_interval=0.02) as source,
        pytest.raises(QueryTimeout) as caught,
    ):
        source.execute(top())
    (req_id,) = emu.pending_req_ids
    assert f"req_id {req_id}" in str(caught.value)
    assert caught.value.exit_code == 1


# -- the concurrency limit ------------------------------------------------------------------------


def run_threads(source: CleverTapSource, requests: list[Request], threads: int) -> list[Any]:
    results: list[Any] = [None] * len(requests)
    lock = threading.Lock()
    queue = list(enumerate(requests))

    def work() -> None:
        while True:
            with lock:
                if not queue:
                    return
                index, request = queue.pop()
            results[index] = source.execute(request)

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return results


def test_twelve_requests_from_eight_threads_stay_within_three(
    emulate: Any, engine: LocalEngine
) -> None:
    emu = emulate(partial_polls=2, latency=0.02)
    requests = [top(day=day) for day in range(1, 13)]
    with make_source(emu) as source:
        results = run_threads(source, requests, 8)
    assert results == [engine.answer(TOP, r.body)[1] for r in requests]
    assert emu.stats.max_in_flight == 3
    assert emu.stats.rejected == 0
    assert emu.stats.requests == 36


def test_sources_of_one_account_share_the_limit(emulate: Any, engine: LocalEngine) -> None:
    emu = emulate(partial_polls=1, latency=0.02)
    env = {**env_for(emu), "CLEVERTAP_ACCOUNT_ID": ACCOUNT}
    first = make_source(emu, env=env, limiter=None)
    second = make_source(emu, env=env, limiter=None)
    assert first.limiter is second.limiter
    results: dict[str, list[Any]] = {}
    requests = [top(day=day) for day in range(1, 9)]
    threads = [
        threading.Thread(
            target=lambda s=s, n=n: results.__setitem__(n, run_threads(s, requests, 6))
        )
        for n, s in (("a", first), ("b", second))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected = [engine.answer(TOP, r.body)[1] for r in requests]
    assert results == {"a": expected, "b": expected}
    assert emu.stats.max_in_flight <= 3
    assert emu.stats.rejected == 0
    first.close()
    second.close()


# -- the passcode never shows -------------------------------------------------------------------


def test_the_passcode_appears_in_no_error_log_or_repr(
    emulate: Any, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    good = emulate(partial_polls=1, faults="500:0.2,reset:0.1,garbage:0.1", seed=5)
    bad_auth = emulate(passcode="other")
    failing = emulate(faults="fail200:1.0")
    dead = emulate()
    dead.stop()
    for emu, request in (
        (good, top()),
        (bad_auth, top()),
        (failing, top()),
        (dead, top()),
        (good, top("Nope")),
    ):
        source = make_source(emu, max_attempts=3)
        texts.append(repr(source))
        texts.append(repr(source.config))
        try:
            texts.append(repr(source.execute(request)))
        except ReportkitError as exc:
            texts.extend([str(exc), repr(exc), repr(exc.__cause__), repr(exc.__context__)])
        source.close()
    with pytest.raises(InvalidInput) as caught:
        clevertap_source_from_env({"CLEVERTAP_PASSCODE": PASSCODE})
    texts.append(str(caught.value))
    log_text = "\n".join(record.getMessage() for record in caplog.records)
    assert "clevertap" in log_text.lower() or "/1/counts/top.json" in log_text
    for text in [*texts, log_text]:
        assert PASSCODE not in text


def test_a_short_passcode_does_not_mangle_messages(emulate: Any) -> None:
    from reportkit.sources.clevertap import Secret, _scrub

    emu = emulate(passcode="p", faults="fail200:1.0")
    env = {**env_for(emu), "CLEVERTAP_PASSCODE": "p"}
    with make_source(emu, env=env) as source, pytest.raises(QueryFailed) as caught:
        source.execute(top())
    assert str(caught.value).startswith("CleverTap answered fail for POST /1/counts/top.json")
    assert _scrub("passcode=p, 'p' in CleverTap", Secret("p")) == "passcode=***, '***' in CleverTap"
    assert _scrub(f"x{PASSCODE}x", Secret(PASSCODE)) == "x***x"


@pytest.mark.timeout(20)
def test_a_server_that_hangs_is_left_at_the_query_timeout(emulate: Any) -> None:
    # every request hangs for 60 s (the read timeout is 120 s); the budget is 0.5 s
    emu = emulate(faults="slow:1.0", slow_seconds=60)
    with make_source(emu, query_timeout=0.5) as source, pytest.raises(QueryTimeout) as caught:
        source.execute(top())
    assert "got no answer within 0.5 s (no req_id was issued)" in str(caught.value)
    assert emu.stats.requests == 1
