"""The pure CleverTap exchange, fed replies by hand: every branch in microseconds."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from reportkit.errors import AuthError, QueryFailed, QueryTimeout, TransportError
from reportkit.sources.protocol import (
    Policy,
    Reply,
    Send,
    Step,
    Wait,
    drive,
    exchange,
    unpack_error,
)

TOP = "/1/counts/top.json"
BODY: dict[str, Any] = {
    "event_name": "Charged",
    "from": 20261101,
    "to": 20261130,
    "groups": {"city": {"property_type": "geo_fields", "name": "city"}},
}
FAST = Policy(
    poll_interval=1.0,
    query_timeout=100.0,
    max_attempts=3,
    backoff_base=1.0,
    rate_limit_backoff=5.0,
    jitter=0.0,
)
SUCCESS = {"status": "success", "city": {"STR": {"Pune": 3}}}


def play(
    replies: Iterable[tuple[int | None, Any]], policy: Policy = FAST
) -> tuple[dict[str, Any] | BaseException, list[Step]]:
    """Drive the exchange with canned replies and a fake clock; return (result or error, steps)."""
    queue = list(replies)
    clock = [0.0]
    steps: list[Step] = []

    def send(step: Send) -> Reply:
        steps.append(step)
        status, body = queue.pop(0)
        text = body if isinstance(body, str) else ""
        return Reply(
            status,
            body if not isinstance(body, str) else None,
            text=text,
            error="connection reset" if status is None else "",
            at=clock[0],
        )

    def sleep(seconds: float) -> None:
        steps.append(Wait(seconds, "poll"))
        clock[0] += seconds

    flow = exchange(TOP, BODY, policy, started=0.0, rand=lambda: 0.5)
    try:
        result: dict[str, Any] | BaseException = drive(flow, send, sleep)
    except Exception as exc:  # the test asserts on the type
        result = exc
    assert not queue, f"replies left over: {queue}"
    return result, steps


def sends(steps: list[Step]) -> list[str]:
    return [
        f"{s.method} {s.params['req_id'] if s.params else ''}".strip()
        for s in steps
        if isinstance(s, Send)
    ]


def test_success_at_once() -> None:
    result, steps = play([(200, SUCCESS)])
    assert result == SUCCESS
    assert steps == [Send("POST", TOP, body=BODY)]


def test_partial_then_success_polls_the_same_path_with_the_req_id() -> None:
    result, steps = play(
        [
            (200, {"status": "partial", "req_id": 1234567890123}),
            (200, {"status": "partial", "req_id": 1234567890123}),
            (200, SUCCESS),
        ]
    )
    assert result == SUCCESS
    assert steps[1] == Wait(1.0, "poll")
    assert steps[2] == Send("GET", TOP, params={"req_id": "1234567890123"})
    assert sends(steps) == ["POST", "GET 1234567890123", "GET 1234567890123"]


def test_string_req_id_is_kept_opaque() -> None:
    result, steps = play([(200, {"status": "partial", "req_id": "ab-01"}), (200, SUCCESS)])
    assert result == SUCCESS
    assert sends(steps) == ["POST", "GET ab-01"]


def test_code_2_and_http_202_mean_poll_again() -> None:
    result, steps = play(
        [
            (200, {"status": "partial", "req_id": 7}),
            (200, {"status": "fail", "code": 2, "error": "in progress"}),
            (202, {"status": "partial"}),
            (200, SUCCESS),
        ]
    )
    assert result == SUCCESS
    assert sends(steps) == ["POST", "GET 7", "GET 7", "GET 7"]


def test_202_to_the_post_without_req_id_posts_again() -> None:
    result, steps = play([(202, ""), (200, SUCCESS)])
    assert result == SUCCESS
    assert sends(steps) == ["POST", "POST"]


def test_fail_in_a_200_body_is_a_failure_with_the_error_list_unpacked() -> None:
    result, steps = play(
        [
            (
                200,
                {
                    "status": "fail",
                    "error": '["Invalid event : Chargd", "Invalid group"]',
                    "code": 1,
                },
            )
        ]
    )
    assert isinstance(result, QueryFailed)
    assert str(result) == (
        "CleverTap answered fail for POST /1/counts/top.json (event 'Charged', "
        "20261101-20261130): Invalid event : Chargd; Invalid group (code 1)"
    )
    assert len(sends(steps)) == 1


@pytest.mark.parametrize(
    ("error", "text"),
    [
        ('["a"]', "a"),
        (["a", "b"], "a; b"),
        ("plain", "plain"),
        ("[not json", "[not json"),
        ({"x": "y"}, "x: y"),
        (None, ""),
    ],
)
def test_unpack_error(error: Any, text: str) -> None:
    assert unpack_error(error) == text


@pytest.mark.parametrize(
    "reply",
    [
        (401, {"status": "fail", "error": "Account ID is not valid", "code": 401}),
        (200, {"status": "fail", "error": "Invalid credentials", "code": 401}),
        (403, ""),
    ],
)
def test_401_is_an_auth_error_pointing_at_account_passcode_and_region(
    reply: tuple[int, Any],
) -> None:
    result, steps = play([reply])
    assert isinstance(result, AuthError)
    assert "check the account id, passcode and region" in str(result)
    assert len(sends(steps)) == 1


def test_429_status_and_body_code_are_retried_with_the_rate_limit_backoff() -> None:
    result, steps = play(
        [
            (429, {"status": "fail", "error": "Too many concurrent requests"}),
            (200, {"status": "fail", "error": "Too many concurrent requests", "code": 429}),
            (200, SUCCESS),
        ],
        Policy(
            poll_interval=1.0, max_attempts=5, backoff_base=1.0, rate_limit_backoff=5.0, jitter=0.5
        ),
    )
    assert result == SUCCESS
    waits = [s.seconds for s in steps if isinstance(s, Wait)]
    assert waits == [3.75, 3.75]  # max(backoff, 5.0) scaled by 1 - 0.5 * 0.5
    assert sends(steps) == ["POST", "POST", "POST"]


def test_5xx_and_connection_errors_back_off_exponentially() -> None:
    result, steps = play(
        [(503, "<html>"), (None, ""), (200, SUCCESS)],
        Policy(max_attempts=5, backoff_base=1.0, jitter=0.0),
    )
    assert result == SUCCESS
    assert [s.seconds for s in steps if isinstance(s, Wait)] == [1.0, 2.0]


def test_5xx_gives_up_after_max_attempts() -> None:
    result, steps = play([(500, "oops"), (502, "oops"), (503, "Service Unavailable")])
    assert isinstance(result, TransportError)
    assert "after 3 attempts" in str(result)
    assert "503" in str(result)
    assert len(sends(steps)) == 3


def test_backoff_is_capped() -> None:
    policy = Policy(max_attempts=6, backoff_base=10.0, backoff_max=25.0, jitter=0.0)
    result, steps = play([(500, "")] * 5 + [(200, SUCCESS)], policy)
    assert result == SUCCESS
    assert [s.seconds for s in steps if isinstance(s, Wait)] == [10.0, 20.0, 25.0, 25.0, 25.0]


def test_garbage_body_is_retried() -> None:
    result, steps = play([(200, '{"status": "succ'), (200, SUCCESS)])
    assert result == SUCCESS
    assert sends(steps) == ["POST", "POST"]


def test_poll_errors_are_retried_on_the_poll() -> None:
    result, steps = play([(200, {"status": "partial", "req_id": 9}), (500, ""), (200, SUCCESS)])
    assert result == SUCCESS
    assert sends(steps) == ["POST", "GET 9", "GET 9"]


@pytest.mark.parametrize("status", [400, 404, 413])
def test_other_4xx_are_not_retried(status: int) -> None:
    result, steps = play([(status, {"status": "fail", "error": "Bad request", "code": status})])
    assert isinstance(result, QueryFailed)
    assert "Bad request" in str(result)
    assert len(sends(steps)) == 1


def test_timeout_names_the_req_id() -> None:
    policy = Policy(poll_interval=30.0, query_timeout=90.0)
    partial = (200, {"status": "partial", "req_id": 5550001})
    result, steps = play([partial] * 4, policy)
    assert isinstance(result, QueryTimeout)
    assert "req_id 5550001" in str(result)
    assert "?req_id=5550001" in str(result)
    assert result.req_id == "5550001"  # type: ignore[attr-defined]
    assert sends(steps) == ["POST"] + ["GET 5550001"] * 3


def test_retries_stop_at_the_deadline() -> None:
    policy = Policy(query_timeout=10.0, max_attempts=50, backoff_base=4.0, jitter=0.0)
    result, _ = play([(500, "")] * 2, policy)
    assert isinstance(result, QueryTimeout)
    assert "no req_id" in str(result)


def test_expired_req_id_posts_again_once() -> None:
    expired = (
        200,
        {"status": "fail", "error": "Invalid req_id 1 (unknown or expired)", "code": 400},
    )
    result, steps = play(
        [
            (200, {"status": "partial", "req_id": 1}),
            expired,
            (200, {"status": "partial", "req_id": 2}),
            (200, SUCCESS),
        ]
    )
    assert result == SUCCESS
    assert sends(steps) == ["POST", "GET 1", "POST", "GET 2"]


def test_expired_twice_fails_naming_the_req_id() -> None:
    expired = (404, {"status": "fail", "error": "not found"})
    result, _steps = play(
        [
            (200, {"status": "partial", "req_id": 1}),
            expired,
            (200, {"status": "partial", "req_id": 2}),
            expired,
        ]
    )
    assert isinstance(result, QueryFailed)
    assert "req_id 2 is unknown or expired" in str(result)
    assert "even after asking again" in str(result)


def test_expired_without_repost_fails_at_once() -> None:
    policy = Policy(poll_interval=1.0, repost_on_expired=False)
    result, steps = play(
        [
            (200, {"status": "partial", "req_id": 1}),
            (200, {"status": "fail", "error": "Unknown req_id"}),
        ],
        policy,
    )
    assert isinstance(result, QueryFailed)
    assert sends(steps) == ["POST", "GET 1"]


def test_a_real_failure_while_polling_is_not_reposted() -> None:
    result, _steps = play(
        [
            (200, {"status": "partial", "req_id": 1}),
            (200, {"status": "fail", "error": '["Invalid group : city"]'}),
        ]
    )
    assert isinstance(result, QueryFailed)
    assert "Invalid group : city" in str(result)
    assert "GET /1/counts/top.json?req_id=1" in str(result)


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        Policy(max_attempts=0)
    with pytest.raises(ValueError):
        Policy(jitter=2.0)


# -- the service's other ways of saying things (issue 12) -----------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        (200, "still in progress"),  # a plain-text body
        (200, {"status": "fail", "error": '["Query still in progress"]', "code": 400}),
        (200, {"status": "fail", "error": "In progress"}),
    ],
)
def test_a_poll_answered_still_in_progress_is_polled_again(answer: tuple[int, Any]) -> None:
    result, steps = play([(200, {"status": "partial", "req_id": "r77"}), answer, (200, SUCCESS)])
    assert result == SUCCESS
    assert sends(steps) == ["POST", "GET r77", "GET r77"]
    assert all(isinstance(s, Send) or s.seconds == FAST.poll_interval for s in steps)


def test_a_405_is_asked_again_once_by_get_with_the_body() -> None:
    refused = (405, {"status": "fail", "error": "Method Not Allowed", "code": 405})
    result, steps = play([refused, (200, {"status": "partial", "req_id": 4}), (200, SUCCESS)])
    assert result == SUCCESS
    asked = [s for s in steps if isinstance(s, Send)]
    assert [(s.method, s.body, s.params) for s in asked] == [
        ("POST", BODY, None),
        ("GET", BODY, None),
        ("GET", None, {"req_id": "4"}),
    ]


def test_a_second_405_fails_naming_the_method() -> None:
    refused = (405, {"status": "fail", "error": "Method Not Allowed", "code": 405})
    result, steps = play([refused, refused])
    assert isinstance(result, QueryFailed)
    assert str(result).startswith("CleverTap answered fail for GET /1/counts/top.json")
    assert "Method Not Allowed" in str(result)
    assert sends(steps) == ["POST", "GET"]


def test_the_recorded_fail_form_is_a_failure_with_its_list_unpacked() -> None:
    result, _ = play([(200, {"status": "fail", "error": '["Invalid event : X"]', "code": 400})])
    assert isinstance(result, QueryFailed)
    assert str(result).endswith("Invalid event : X (code 400)")
