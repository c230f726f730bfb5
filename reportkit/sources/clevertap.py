"""The CleverTap source: the protocol of `protocol.py` driven over HTTP with requests.

This module is where `requests` enters, so it is where its exceptions become reportkit errors and
where the passcode is scrubbed from every message. One exchange is one `reportkit.net.Operation`
with its own session: `query_timeout` bounds all of it (however slowly a server sends), `close()`
ends it at once, and the credentials follow no redirect to another origin. A (connect, read)
timeout bounds every call within that, and a per-account limiter that
every source of one run shares: a query holds its slot from its POST to its last poll, because
the service counts a running query against the account's limit of three.

    source = clevertap_source_from_env(os.environ)      # CLEVERTAP_ACCOUNT_ID, ..._PASSCODE
    body = source.execute(request)                     # the `success` body
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from reportkit.errors import InvalidInput, ReportkitError, SourceError
from reportkit.net import Operation, guarded_session
from reportkit.plan import Request
from reportkit.sources.protocol import Policy, Reply, Send, Step, Wait, drive, exchange

if TYPE_CHECKING:
    import requests

__all__ = [
    "REGIONS",
    "AccountLimiter",
    "CleverTapConfig",
    "CleverTapSource",
    "ExchangeStats",
    "clevertap_source_from_env",
    "shared_limiter",
]

CLOSE_GRACE = 0.5  # seconds close() lets answers already on their way arrive

log = logging.getLogger("reportkit.clevertap")

REGIONS: dict[str, str] = {
    "eu1": "api.clevertap.com",
    "in1": "in1.api.clevertap.com",
    "sg1": "sg1.api.clevertap.com",
    "us1": "us1.api.clevertap.com",
    "aps3": "aps3.api.clevertap.com",
    "mec1": "mec1.api.clevertap.com",
}
DEFAULT_REGION = "eu1"


class Secret:
    """A string that never shows itself in a repr, a str() or a log line."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class CleverTapConfig:
    """Where and as whom to ask. The passcode is a `Secret`: its repr is `***`."""

    account_id: str
    passcode: Secret
    base_url: str
    region: str | None  # None when CLEVERTAP_BASE_URL points elsewhere

    def auth_hint(self) -> str:
        if self.region is None:
            return f" (requests go to {self.base_url}, set by CLEVERTAP_BASE_URL)"
        return (
            f" (account {self.account_id}, region {self.region} -> {REGIONS[self.region]}; "
            "a wrong region also answers 401)"
        )


class AccountLimiter:
    """At most `limit` queries of one account in flight at once, across threads.

    A counting gate rather than a semaphore so the bound can be changed while in use.
    """

    def __init__(self, limit: int = 3) -> None:
        if limit < 1:
            raise ValueError("the concurrency limit must be at least 1")
        self._limit = limit
        self._in_flight = 0
        self.max_in_flight = 0
        self._cond = threading.Condition()

    @property
    def limit(self) -> int:
        return self._limit

    @limit.setter
    def limit(self, value: int) -> None:
        if value < 1:
            raise ValueError("the concurrency limit must be at least 1")
        with self._cond:
            self._limit = value
            self._cond.notify_all()

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._cond:
            while self._in_flight >= self._limit:
                self._cond.wait()
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            yield
        finally:
            with self._cond:
                self._in_flight -= 1
                self._cond.notify()

    def __repr__(self) -> str:
        return f"AccountLimiter(limit={self._limit}, in_flight={self._in_flight})"


_LIMITERS: dict[str, AccountLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def shared_limiter(account_id: str, limit: int = 3) -> AccountLimiter:
    """The one limiter of `account_id` in this process; its bound becomes `limit`.

    Every source built for the same account shares it, so the reports of one run together keep
    at most `limit` queries in flight.
    """
    with _LIMITERS_LOCK:
        limiter = _LIMITERS.get(account_id)
        if limiter is None:
            limiter = _LIMITERS[account_id] = AccountLimiter(limit)
        elif limiter.limit != limit:
            limiter.limit = limit
        return limiter


@dataclass(frozen=True, slots=True)
class ExchangeStats:
    """What a source has sent so far: HTTP requests, of them POSTs and polls, and retries
    (a step sent again after a transient answer: 5xx, 429, a reset, an unreadable body)."""

    requests: int = 0
    posts: int = 0
    polls: int = 0
    retries: int = 0

    def __str__(self) -> str:
        return (
            f"{_plural(self.requests, 'HTTP request')} ({_plural(self.posts, 'POST')}, "
            f"{_plural(self.polls, 'poll')}, {_plural(self.retries, 'retry', 'retries')})"
        )


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else many or one + 's'}"


_SCRUB_ANYWHERE = 8  # a passcode this long is scrubbed wherever it appears


def _scrub(text: str, secret: Secret) -> str:
    """`text` without the passcode. A short passcode is scrubbed only where it stands alone, so
    that a passcode "p" does not turn "CleverTap" into "CleverTa***"."""
    value = secret.reveal()
    if not value:
        return text
    # also as repr() and URL-encoding write it (requests quotes a bad header value with repr)
    for form in sorted({value, repr(value)[1:-1], quote(value, safe="")}, key=len, reverse=True):
        if len(form) >= _SCRUB_ANYWHERE:
            text = text.replace(form, "***")
        else:
            text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(form)}(?![A-Za-z0-9])", "***", text)
    return text


class CleverTapSource:
    """A `Source` that asks the CleverTap API (or anything speaking its protocol, the emulator)."""

    name = "clevertap"

    def __init__(
        self,
        config: CleverTapConfig,
        *,
        policy: Policy | None = None,
        limiter: AccountLimiter | None = None,
        max_in_flight: int = 3,
        http_timeout: tuple[float, float] = (10.0, 120.0),
    ) -> None:
        self.config = config
        # Names the cache namespace and the report's source line: account and host, never secrets.
        self.name = f"clevertap:{config.account_id}@{urlsplit(config.base_url).netloc}"
        self.policy = policy or Policy()
        self.limiter = limiter or shared_limiter(config.account_id, max_in_flight)
        self.http_timeout = http_timeout
        self.http_requests = 0  # HTTP requests sent, for progress and benchmarks
        # told (request, polls so far) after each poll of a query, for a progress display
        self.on_poll: Callable[[Request, int], None] | None = None
        self._posts = self._polls = self._retries = 0
        self._count_lock = threading.Lock()
        self._closed = threading.Event()  # set by close(): exchanges still running stop
        self._random = random.Random()
        self._running: set[Operation] = set()  # exchanges in flight, aborted by close()
        self._headers = {
            "X-CleverTap-Account-Id": config.account_id,
            "X-CleverTap-Passcode": config.passcode.reveal(),
            "Content-Type": "application/json",
            "Accept": "application/json",
        }

    def __repr__(self) -> str:
        return (
            f"CleverTapSource(account_id={self.config.account_id!r}, "
            f"base_url={self.config.base_url!r}, passcode=***)"
        )

    def execute(self, request: Request) -> dict[str, Any]:
        """POST the request, poll until it is answered, and return the `success` body.

        A profiles.json answer carries the event total as `tcount` (the plan counts on it for
        `unique: true`); when the service leaves it out, events.json is asked for it, so the
        answer returned always has it.

        The whole of it (every request, read, retry and poll, both exchanges) ends by
        `query_timeout`: one `Operation` watches its sockets and shuts them when the time is up
        or the source is closed, however slowly the server sends. Its session follows redirects
        only to the configured origin (`reportkit.net`).
        """
        with self.limiter.slot():
            if self._closed.is_set():
                raise self._stopped()
            started = time.monotonic()
            what = f"CleverTap {request.endpoint}"
            polls = 0

            def polled() -> None:
                nonlocal polls
                polls += 1
                if self.on_poll is not None:
                    self.on_poll(request, polls)

            with (
                Operation(self.policy.query_timeout, what=what) as op,
                guarded_session(self.config.base_url, op) as session,
            ):
                session.headers.update(self._headers)
                with self._count_lock:
                    self._running.add(op)
                try:
                    body = self._exchange(
                        session, op, request.endpoint, request.body, started, polled
                    )
                    if request.endpoint == "/1/counts/profiles.json" and not _is_count(
                        body.get("tcount")
                    ):
                        log.info("profiles.json answered without tcount: asking events.json")
                        total = self._exchange(
                            session, op, "/1/counts/events.json", request.body, started, polled
                        )
                        body = {**body, "tcount": total.get("count")}
                    return body
                except ReportkitError as exc:
                    # every message passes here on its way out: scrub it once more, to be sure
                    exc.message = _scrub(exc.message, self.config.passcode)
                    exc.args = (exc.message,)
                    raise
                finally:
                    with self._count_lock:
                        self._running.discard(op)

    def _exchange(
        self,
        session: requests.Session,
        op: Operation,
        endpoint: str,
        body: dict[str, Any],
        started: float,
        polled: Callable[[], None] | None = None,
    ) -> dict[str, Any]:
        def count(step: Step) -> None:
            self._count(step)
            if polled is not None and isinstance(step, Send) and step.method != "POST":
                polled()

        flow = exchange(
            endpoint,
            body,
            self.policy,
            started=started,
            rand=self._random.random,
            auth_hint=self.config.auth_hint(),
        )
        return drive(flow, lambda step: self._send(session, op, step), self._sleep, count)

    @property
    def stats(self) -> ExchangeStats:
        with self._count_lock:
            return ExchangeStats(self.http_requests, self._posts, self._polls, self._retries)

    def _count(self, step: Step) -> None:
        with self._count_lock:
            if isinstance(step, Wait):
                self._retries += step.reason == "retry"
            elif step.method == "POST" or step.params is None:  # a query (a GET after a 405)
                self._posts += 1
            else:
                self._polls += 1

    def _stopped(self) -> SourceError:
        return SourceError("stopped: the CleverTap source was closed while the query ran")

    def _sleep(self, seconds: float) -> None:
        if self._closed.wait(seconds):
            raise self._stopped()

    def _send(self, session: requests.Session, op: Operation, step: Send) -> Reply:
        import requests

        if self._closed.is_set():
            raise self._stopped()
        # each read is bounded by what is left of the exchange; the whole of it by `op`
        connect, read = op.timeout(self.http_timeout)
        url = self.config.base_url + step.path
        with self._count_lock:
            self.http_requests += 1
        try:
            response = session.request(
                step.method,
                url,
                json=step.body,  # None for a poll; a GET after a 405 keeps the body
                params=step.params,
                timeout=(connect, read),
            )
        except requests.RequestException as exc:
            if self._closed.is_set():
                raise self._stopped() from None
            cause: Exception = exc
            if op.ended:
                cause = requests.Timeout(f"no whole answer within --query-timeout ({op.what})")
            error = _scrub(f"{type(cause).__name__}: {cause}", self.config.passcode)
            log.info("%s %s -> no answer (%s)", step.method, _shown(step), error)
            return Reply(None, error=error, at=time.monotonic())
        text = response.text
        try:
            body = response.json()
        except ValueError:
            body = None
        log.info(
            "%s %s -> %s %s",
            step.method,
            _shown(step),
            response.status_code,
            _scrub(_summary(body, text), self.config.passcode),
        )
        return Reply(
            response.status_code,
            body,
            text=_scrub(text[:500], self.config.passcode),
            at=time.monotonic(),
        )

    def close(self) -> None:
        """Close the connections; exchanges still running (an interrupted run) stop at their next
        wait or request. An answer already on its way gets `CLOSE_GRACE` seconds to arrive (and
        be cached, so a rerun does not ask it again); then every read still open is cut."""
        self._closed.set()
        deadline = time.monotonic() + CLOSE_GRACE
        while time.monotonic() < deadline:
            with self._count_lock:
                if not self._running:
                    return
            time.sleep(0.01)
        with self._count_lock:
            running = list(self._running)
        for op in running:
            op.abort("the source was closed")

    def __enter__(self) -> CleverTapSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _is_count(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _shown(step: Send) -> str:
    return step.path + (f"?req_id={step.params['req_id']}" if step.params else "")


def _summary(body: Any, text: str) -> str:
    if isinstance(body, dict):
        status = body.get("status")
        if status == "partial":
            return f"partial req_id={body.get('req_id')}"
        if status == "fail":
            return f"fail {str(body.get('error'))[:120]!r}"
        return str(status)
    return f"unreadable body {text[:60]!r}"


def _one_line_passcode(value: str, where: str) -> Secret:
    """A passcode is sent as one header line: a control character inside it (a second line in
    the file) is refused here, without echoing it, rather than by requests, which would."""
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidInput(
            f"the CleverTap passcode in {where} holds a line break or control "
            "character: it must be one line"
        )
    return Secret(value)


def _read_passcode(env: Mapping[str, str]) -> Secret:
    if (env.get("CLEVERTAP_PASSCODE") or "").strip():
        return _one_line_passcode(env["CLEVERTAP_PASSCODE"].strip(), "CLEVERTAP_PASSCODE")
    path = (env.get("CLEVERTAP_PASSCODE_FILE") or "").strip()
    if path:
        try:
            value = Path(path).expanduser().read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise InvalidInput(
                f"cannot read CLEVERTAP_PASSCODE_FILE {path}: {exc.strerror or exc}"
            ) from None
        if not value:
            raise InvalidInput(f"CLEVERTAP_PASSCODE_FILE {path} is empty")
        return _one_line_passcode(value, f"CLEVERTAP_PASSCODE_FILE {path}")
    raise InvalidInput(
        "no CleverTap passcode: set CLEVERTAP_PASSCODE, or CLEVERTAP_PASSCODE_FILE to a file "
        "holding it"
    )


def config_from_env(env: Mapping[str, str], *, region: str | None = None) -> CleverTapConfig:
    """Credentials and host from the environment; InvalidInput when something is missing."""
    account_id = (env.get("CLEVERTAP_ACCOUNT_ID") or "").strip()
    if not account_id:
        raise InvalidInput("no CleverTap account id: set CLEVERTAP_ACCOUNT_ID")
    passcode = _read_passcode(env)
    base_url = (env.get("CLEVERTAP_BASE_URL") or "").strip().rstrip("/")
    chosen = (region or env.get("CLEVERTAP_REGION") or DEFAULT_REGION).strip().lower()
    if chosen not in REGIONS:
        raise InvalidInput(
            f"unknown CleverTap region {chosen!r}: expected one of {', '.join(REGIONS)}"
        )
    if base_url:
        if not base_url.startswith(("http://", "https://")):
            raise InvalidInput(
                f"CLEVERTAP_BASE_URL must start with http:// or https://, not {base_url!r}"
            )
        return CleverTapConfig(account_id, passcode, base_url, None)
    return CleverTapConfig(account_id, passcode, f"https://{REGIONS[chosen]}", chosen)


def clevertap_source_from_env(
    env: Mapping[str, str],
    *,
    region: str | None = None,
    poll_interval: float = 30.0,
    query_timeout: float = 900.0,
    max_in_flight: int = 3,
    max_attempts: int = 5,
    backoff_base: float = 2.0,
    rate_limit_backoff: float = 30.0,
    http_timeout: tuple[float, float] = (10.0, 120.0),
    limiter: AccountLimiter | None = None,
) -> CleverTapSource:
    """A CleverTap source configured from `env` (CLEVERTAP_ACCOUNT_ID, CLEVERTAP_PASSCODE or
    CLEVERTAP_PASSCODE_FILE, CLEVERTAP_REGION, CLEVERTAP_BASE_URL).

    `region` (from --region) wins over CLEVERTAP_REGION; CLEVERTAP_BASE_URL wins over both.
    Raises InvalidInput before any request when a credential is missing. Sources of one account
    share one limiter of `max_in_flight` unless `limiter` is given.
    """
    config = config_from_env(env, region=region)
    policy = Policy(
        poll_interval=poll_interval,
        query_timeout=query_timeout,
        max_attempts=max_attempts,
        backoff_base=backoff_base,
        backoff_max=max(60.0, backoff_base),
        rate_limit_backoff=rate_limit_backoff,
    )
    return CleverTapSource(
        config,
        policy=policy,
        limiter=limiter,
        max_in_flight=max_in_flight,
        http_timeout=http_timeout,
    )
