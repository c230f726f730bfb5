"""The CleverTap query exchange, written once and without I/O.

`exchange()` is a generator: it yields `Send` (make this HTTP request and send me back a `Reply`)
and `Wait` (sleep this long, send me back None), and returns the `success` body. A short driver
(`drive()`, used by `reportkit.sources.clevertap`) does the HTTP and the sleeping; unit tests feed
replies by hand in microseconds. The shape is httpx's `Auth.auth_flow`.

What the exchange does (see ../shared/reference/clevertap-api.md, and tolerate the `seen` facts
being different):

    POST path body ──► success            -> return the body
                   ──► partial + req_id   -> Wait(poll_interval), GET path?req_id=ID, repeat
                   ──► code 2 / HTTP 202  -> the same as partial
                   ──► a 200 saying "in progress" in its text or error (JSON or not)
                                          -> the same as partial
                   ──► 405                -> the same request once more by GET (the JSON body
                                            kept), for a service that refuses the method; a
                                            second 405 fails
                   ──► fail (even in a 200) -> QueryFailed, its `error` unpacked when it is a
                                            JSON list in a string
                   ──► 401 / 403 / code 401 -> AuthError naming account id, passcode and region
                   ──► 429 / code 429, 5xx, connection error, unreadable body
                                         -> Wait(backoff with jitter), send again; at most
                                            `max_attempts` tries per step, then TransportError
                   ──► other 4xx          -> QueryFailed, not retried
    a poll answered "unknown / expired req_id" (a fail naming the req_id, or 404/410)
                                         -> POST again, once per exchange; a second time fails
    the total time (POSTs, polls, waits) is capped by `query_timeout`;
    QueryTimeout names the req_id.

Time comes in with every `Reply` (`at`, a monotonic reading taken by the driver) and the start is
passed in, so the exchange itself never reads a clock.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, Literal

from reportkit.errors import AuthError, QueryFailed, QueryTimeout, TransportError

__all__ = [
    "Policy",
    "Reply",
    "Send",
    "Step",
    "Wait",
    "describe_request",
    "drive",
    "exchange",
    "unpack_error",
]


@dataclass(frozen=True, slots=True)
class Send:
    """Make one HTTP request; the driver answers with a `Reply`."""

    method: Literal["POST", "GET"]
    path: str
    body: dict[str, Any] | None = None
    params: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Wait:
    """Sleep `seconds`; the driver answers with None."""

    seconds: float
    reason: Literal["poll", "retry"]


Step = Send | Wait


@dataclass(frozen=True, slots=True)
class Reply:
    """What came back for a `Send`.

    `status` is None when no HTTP answer arrived (connection refused or reset, read timeout), with
    `error` saying what happened (already scrubbed of secrets by the driver). `body` is the parsed
    JSON, or None when the body was not JSON; `text` is the start of the raw body for messages.
    `at` is the driver's monotonic clock when the reply arrived.
    """

    status: int | None
    body: Any = None
    text: str = ""
    error: str = ""
    at: float = 0.0


@dataclass(frozen=True, slots=True)
class Policy:
    """Timing and retry knobs of one exchange."""

    poll_interval: float = 30.0  # the service asks for 30 s between polls
    query_timeout: float = 900.0  # the whole exchange, POST to last poll
    max_attempts: int = 5  # tries of one step when the answer is transient
    backoff_base: float = 2.0  # first retry waits about this long, doubling after
    backoff_max: float = 60.0
    rate_limit_backoff: float = 30.0  # a 429 waits at least this long (clients use 30-60 s)
    jitter: float = 0.5  # a wait is scaled by a random factor in [1 - jitter, 1]
    repost_on_expired: bool = True  # POST again, once, when a poll says the req_id is unknown

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError("jitter must be between 0 and 1")


_EXPIRED = re.compile(r"req_?id|request id|expired|not found|unknown", re.IGNORECASE)
_IN_PROGRESS = re.compile(r"\bin[ _-]?progress\b", re.IGNORECASE)


def unpack_error(error: Any) -> str:
    """The `error` of a fail body as one readable line.

    The service sometimes sends a JSON-encoded list in a string (`'["Invalid event : X"]'`); that,
    a real list, or a plain string all become `a; b`.
    """
    if isinstance(error, str):
        text = error.strip()
        if text[:1] in "[{" and text:
            try:
                error = json.loads(text)
            except ValueError:
                return text
        else:
            return text
    if isinstance(error, list):
        return "; ".join(unpack_error(item) for item in error)
    if isinstance(error, dict):
        return "; ".join(f"{k}: {unpack_error(v)}" for k, v in error.items())
    return "" if error is None else str(error)


def describe_request(endpoint: str, body: dict[str, Any]) -> str:
    """`/1/counts/top.json (event 'Charged', 20261101-20261130)`, for error messages."""
    parts = []
    if "event_name" in body:
        parts.append(f"event {body['event_name']!r}")
    if "from" in body and "to" in body:
        parts.append(f"{body['from']}-{body['to']}")
    return endpoint + (f" ({', '.join(parts)})" if parts else "")


def _code(body: Any) -> int | None:
    if not isinstance(body, dict):
        return None
    code = body.get("code")
    if isinstance(code, bool):
        return None
    if isinstance(code, int):
        return code
    if isinstance(code, str) and code.strip().isdigit():
        return int(code.strip())
    return None


def _status(body: Any) -> str | None:
    if isinstance(body, dict) and isinstance(body.get("status"), str):
        return str(body["status"]).lower()
    return None


def _req_id(body: Any) -> str | None:
    if isinstance(body, dict) and body.get("req_id") not in (None, ""):
        return str(body["req_id"])  # int or string on the wire: kept opaque
    return None


def _fail_text(reply: Reply) -> str:
    if isinstance(reply.body, dict) and "error" in reply.body:
        text = unpack_error(reply.body["error"])
        code = _code(reply.body)
        return f"{text} (code {code})" if code is not None else text
    return reply.text.strip()[:200] or "no error message"


def exchange(
    endpoint: str,
    body: dict[str, Any],
    policy: Policy = Policy(),
    *,
    started: float = 0.0,
    rand: Callable[[], float] = random.random,
    auth_hint: str = "",
) -> Generator[Step, Reply | None, dict[str, Any]]:
    """Ask `endpoint` with `body` until the service answers `success`; return that body.

    `started` is the driver's clock at the start (the budget runs from there); `rand` draws the
    jitter; `auth_hint` is appended to the 401 message (which account, which host).
    Raises QueryFailed, AuthError, QueryTimeout or TransportError.
    """
    what = describe_request(endpoint, body)
    deadline = started + policy.query_timeout
    req_id: str | None = None
    reposted = False
    got_405 = False  # a 405 is asked again once, by GET
    post = Send("POST", endpoint, body=body)
    step = post
    attempts = 0  # consecutive transient answers to the current step
    now = started

    def where() -> str:
        if step.params is not None:
            return f"GET {endpoint}?req_id={req_id}"
        return f"{step.method} {what}"

    def timed_out() -> QueryTimeout:
        if req_id is not None:
            exc = QueryTimeout(
                f"CleverTap query {what} still running after {policy.query_timeout:g} s "
                f"(req_id {req_id}): raise --query-timeout, or poll GET {endpoint}?req_id={req_id}"
            )
        else:
            exc = QueryTimeout(
                f"CleverTap query {what} got no answer within {policy.query_timeout:g} s "
                "(no req_id was issued): raise --query-timeout"
            )
        exc.req_id = req_id  # type: ignore[attr-defined]
        return exc

    while True:
        reply = yield step
        if reply is None:  # pragma: no cover - a driver bug, not a service answer
            raise TypeError("exchange() expects a Reply after a Send")
        now = reply.at
        status, code, state = reply.status, _code(reply.body), _status(reply.body)

        # -- terminal answers ------------------------------------------------------------
        if status == 200 and state == "success" and isinstance(reply.body, dict):
            return reply.body
        if status in (401, 403) or code == 401:
            raise AuthError(
                f"CleverTap refused the credentials ({status}: {_fail_text(reply)}): check the "
                f"account id, passcode and region{auth_hint}"
            )

        # -- still running: poll ---------------------------------------------------------
        pending = status == 202 or (
            status == 200
            and (
                state == "partial"
                or code == 2
                # "still in progress": as a plain-text body or as the error of a fail
                or (state in (None, "fail") and _IN_PROGRESS.search(_fail_text(reply)) is not None)
            )
        )
        if pending:
            req_id = _req_id(reply.body) or req_id
            attempts = 0
            if now >= deadline:
                raise timed_out()
            yield Wait(min(policy.poll_interval, max(deadline - now, 0.0)), "poll")
            # a 202 to the POST without any req_id: nothing to poll, so ask again
            step = Send("GET", endpoint, params={"req_id": req_id}) if req_id else post
            continue

        # -- 405: the same request once more, by GET -------------------------------------
        if status == 405 and step.method == "POST" and not got_405:
            got_405 = True
            step = Send("GET", step.path, body=step.body, params=step.params)
            if step.params is None and req_id is None:
                post = step  # asking again after a lost req_id uses the method that worked
            continue

        # -- an unknown or expired req_id while polling ----------------------------------
        if step.params is not None and (  # a poll, not a query asked by GET after a 405
            status in (404, 410)
            or (state == "fail" and _EXPIRED.search(_fail_text(reply)) is not None)
        ):
            if policy.repost_on_expired and not reposted:
                reposted, req_id, step, attempts = True, None, post, 0
                continue
            raise QueryFailed(
                f"CleverTap lost the query {what}: req_id {req_id} is unknown or expired "
                f"({_fail_text(reply)})" + (" even after asking again" if reposted else "")
            )

        # -- transient: back off and send the same step again ----------------------------
        rate_limited = status == 429 or code == 429
        transient = (
            rate_limited
            or status is None
            or status >= 500
            or (status == 200 and state != "fail")  # not JSON, or a shape we do not know
        )
        if transient:
            attempts += 1
            if attempts >= policy.max_attempts:
                cause = (
                    reply.error
                    or ("429 Too many concurrent requests" if rate_limited else "")
                    or (f"HTTP {status}: {reply.text.strip()[:120]!r}")
                )
                raise TransportError(
                    f"CleverTap kept failing for {where()} after {attempts} attempts: {cause}"
                )
            delay = min(policy.backoff_max, policy.backoff_base * 2 ** (attempts - 1))
            if rate_limited:
                delay = max(delay, policy.rate_limit_backoff)
            delay *= 1.0 - policy.jitter * rand()
            if now + delay > deadline:
                raise timed_out()
            yield Wait(delay, "retry")
            continue

        # -- fail in any body, or a 4xx: not retried ------------------------------------
        raise QueryFailed(f"CleverTap answered fail for {where()}: {_fail_text(reply)}")


def drive(
    flow: Generator[Step, Reply | None, dict[str, Any]],
    send: Callable[[Send], Reply],
    sleep: Callable[[float], None],
    on_step: Callable[[Step], None] | None = None,
) -> dict[str, Any]:
    """Run an exchange: `send` does HTTP, `sleep` waits, `on_step` (if given) sees every step
    first, for counting. Returns the success body."""
    try:
        step = next(flow)
        while True:
            if on_step is not None:
                on_step(step)
            if isinstance(step, Wait):
                sleep(step.seconds)
                step = flow.send(None)
            else:
                step = flow.send(send(step))
    except StopIteration as stop:
        result: dict[str, Any] = stop.value
        return result
