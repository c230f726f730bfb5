"""The one way delivery channels talk HTTP: POST with a whole-operation deadline, no redirects.

Every Slack and webhook call goes through `post`, so that the shared network helper (deadlines,
credentials that never cross to another host) can replace it in one place. Until then:
- redirects are refused, never followed: a 3xx would carry the Authorization header or the
  signed body to wherever the `Location` points;
- the answer is read in chunks against the deadline, so a server that drips bytes cannot hold
  the run past it;
- messages name what the caller calls the endpoint ("the webhook", "Slack chat.postMessage"),
  never the URL, which may be the secret itself (a Slack incoming webhook).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from reportkit.errors import DeliveryError

MAX_ANSWER = 1_000_000  # bytes of an answer read at most


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes
    retry_after: float | None = None


class Transient(DeliveryError):
    """A failure worth another try: a timeout, a reset connection."""


def post(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    name: str,
    deadline: float,
) -> Reply:
    """POST `body` to `url` once, done by the monotonic time `deadline`; `name` stands for the
    endpoint in messages. A timeout or connection failure is `Transient`."""
    import requests

    left = deadline - time.monotonic()
    if left <= 0:
        raise Transient(f"{name}: out of time before the request was sent")
    try:
        with requests.post(
            url,
            data=body,
            headers=dict(headers),
            timeout=(min(left, 10.0), left),
            allow_redirects=False,
            stream=True,
        ) as response:
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_content(16384):
                chunks.append(chunk)
                size += len(chunk)
                if size > MAX_ANSWER:
                    break
                if time.monotonic() > deadline:
                    raise Transient(f"{name}: the answer did not arrive in time")
            status = response.status_code
            retry_after = _seconds(response.headers.get("Retry-After"))
    except requests.Timeout:
        raise Transient(f"{name}: timed out") from None
    except requests.ConnectionError as exc:
        # the exception's text holds the URL: say only what kind of failure it was
        kind = "connection refused" if "refused" in str(exc).lower() else "connection failed"
        raise Transient(f"{name}: {kind}") from None
    except requests.RequestException as exc:
        raise DeliveryError(f"{name}: the request failed ({type(exc).__name__})") from None
    if 300 <= status < 400:
        raise DeliveryError(f"{name}: answered a redirect ({status}); reportkit does not follow it")
    return Reply(status, b"".join(chunks)[:MAX_ANSWER], retry_after)


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def post_with_retries(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    name: str,
    timeout: float = 60.0,
    attempts: int = 4,
    backoff: float = 1.0,
    retry_statuses: Callable[[int], bool] = lambda status: status >= 500,
    sleep: Callable[[float], None] = time.sleep,
) -> Reply:
    """`post`, tried again on timeouts, connection failures and `retry_statuses` (5xx), with
    doubling waits, all within `timeout` seconds. Any other answer is returned as it is."""
    deadline = time.monotonic() + timeout
    last = ""
    for attempt in range(1, attempts + 1):
        asked = 0.0  # what a 429 or 503 asked for in Retry-After
        try:
            reply = post(url, body, headers, name=name, deadline=deadline)
        except Transient as exc:
            last = str(exc)
        else:
            if not retry_statuses(reply.status):
                return reply
            last = f"{name}: answered {reply.status}"
            asked = reply.retry_after or 0.0
        if attempt == attempts:
            break
        wait = max(backoff * 2 ** (attempt - 1), asked)
        if time.monotonic() + wait >= deadline:
            last += f" (and {timeout:g} s are up)"
            break
        sleep(wait)
    raise DeliveryError(f"{last} after {attempt} attempt{'s' if attempt > 1 else ''}")
