"""What every client that carries a credential over the network shares: a whole-operation
deadline and a requests Session that never lets a credential follow a redirect elsewhere.

A socket timeout bounds one read, not an operation: a server that sends a byte a second resets
it with every byte and can hold a client for ever. An `Operation` bounds the whole exchange
instead. Every socket opened inside it is watched; when the deadline passes, or another thread
calls `abort()` (a closed source, SIGTERM), every watched socket is shut down, so a thread blocked
in a read returns at once with a connection error, whatever the server does.

    with Operation(30.0, what="POST https://hooks.example.com") as op:
        with guarded_session("https://hooks.example.com", op) as session:   # requests.Session
            response = session.post(url, json=body, timeout=op.timeout((5.0, 30.0)))
        if op.expired: ...                       # the error came from the deadline

    with Operation(30.0, what="SMTP") as op:
        sock = socket.create_connection((host, port), timeout=op.timeout(30.0))
        op.watch(sock)                           # smtplib: see reportkit.deliver.email

`guarded_session(origin, op)` follows a redirect only to the origin it was made for (same
scheme, host and port): any other redirect (cross-host, http after https, another port; whatever
the status: 301, 302, 303, 307, 308) raises `RedirectRefused` before anything is sent there, so
headers such as X-CleverTap-Passcode, Authorization or a webhook's secret path never leave.
`RedirectRefused` is a ReportkitError, not a requests exception: callers that retry on
`requests.RequestException` do not retry it. Once its operation has ended, the session returns no
response at all (`requests.Timeout` after the deadline, `requests.ConnectionError` after an
abort): a socket shut down mid-answer can otherwise pass for a short, complete answer. With
`stream=True` the body is read after `send` returns: check `operation.ended` after reading it.

Shutting a socket down works on every platform we run on (Linux, macOS) and reaches a TLS socket
too: the guard keeps a duplicate of the descriptor, and shutdown acts on the connection, not on
the descriptor. Connections through an HTTP proxy are made by urllib3's proxy manager and are
not watched: their reads stay bounded by the per-read timeout only.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from reportkit.errors import ReportkitError

if TYPE_CHECKING:
    import requests

__all__ = [
    "Operation",
    "RedirectRefused",
    "guarded_session",
    "operation_session",
    "origin_of",
]

_DEFAULT_PORTS = {"http": 80, "https": 443}


class RedirectRefused(ReportkitError):
    """A server redirected a request that carries credentials to another origin."""


def origin_of(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of `url`, lower-cased, the port filled in for http and https."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, host, port or _DEFAULT_PORTS.get(scheme, 0)


def _shown(origin: tuple[str, str, int]) -> str:
    scheme, host, port = origin
    host = f"[{host}]" if ":" in host else host
    default = _DEFAULT_PORTS.get(scheme) == port
    return f"{scheme}://{host}" + ("" if default else f":{port}")


class Operation:
    """One whole-operation deadline over every socket watched in it.

    `seconds` None means no deadline (only `abort()` ends it early). Enter it to arm the timer;
    leaving it disarms the timer and lets the watched descriptors go (the sockets themselves
    belong to their clients). Thread-safe: `abort()` and the timer run on other threads.
    """

    def __init__(self, seconds: float | None, *, what: str = "the operation") -> None:
        if seconds is not None and seconds <= 0:
            raise ValueError("an operation's deadline must be more than 0 seconds away")
        self.what = what
        self.seconds = seconds
        self.deadline = None if seconds is None else time.monotonic() + seconds
        self._lock = threading.Lock()
        self._watched: list[socket.socket] = []  # duplicates of the watched descriptors
        self._ended = threading.Event()
        self.reason = ""  # "deadline" or the reason given to abort()
        self._timer: threading.Timer | None = None

    # -- time -------------------------------------------------------------------------------
    def remaining(self) -> float:
        """Seconds left (float('inf') without a deadline); 0 once ended."""
        if self._ended.is_set():
            return 0.0
        if self.deadline is None:
            return float("inf")
        return max(self.deadline - time.monotonic(), 0.0)

    @property
    def expired(self) -> bool:
        """Whether the deadline has passed (not merely an abort)."""
        return self.deadline is not None and time.monotonic() >= self.deadline

    @property
    def cut(self) -> bool:
        """Whether its sockets were shut (at the deadline, or by an abort): what was read from
        them since may have been cut short."""
        return self._ended.is_set()

    @property
    def ended(self) -> bool:
        """Whether the operation was cut short: its deadline passed or it was aborted."""
        return self._ended.is_set() or self.expired

    def timeout(self, cap: Any) -> Any:
        """A socket timeout (one number, or a (connect, read) pair) no longer than what is left,
        and at least 10 ms, so that a call made at the last moment fails rather than blocks."""
        left = max(self.remaining(), 0.01)
        if isinstance(cap, tuple):
            return tuple(min(float(c), left) for c in cap)
        return min(float(cap), left)

    def sleep(self, seconds: float) -> bool:
        """Sleep `seconds` or until the operation ends; True if it ended."""
        return self._ended.wait(min(seconds, self.remaining()))

    # -- sockets ----------------------------------------------------------------------------
    def watch(self, sock: socket.socket) -> None:
        """Shut `sock` down when the operation ends (at once if it already has)."""
        try:
            dup = sock.dup()
        except OSError:
            return  # already closed: nothing to wait on
        with self._lock:
            if not self._ended.is_set():
                self._watched.append(dup)
                return
        _shut(dup)
        dup.close()

    def abort(self, reason: str = "aborted") -> None:
        """End the operation now, from any thread: every watched socket is shut down."""
        with self._lock:
            if self._ended.is_set():
                return
            self.reason = reason
            self._ended.set()
            watched, self._watched = self._watched, []
        for dup in watched:
            _shut(dup)
            dup.close()

    def __enter__(self) -> Operation:
        if self.deadline is not None:
            timer = threading.Timer(self.remaining(), self.abort, args=("deadline",))
            timer.daemon = True
            timer.name = "reportkit-deadline"
            self._timer = timer
            timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._timer is not None:
            self._timer.cancel()
        with self._lock:
            watched, self._watched = self._watched, []
        for dup in watched:
            dup.close()

    def __repr__(self) -> str:
        return f"Operation({self.what!r}, remaining={self.remaining():.3g})"


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


# --------------------------------------------------------------------------- requests


def guarded_session(origin: str, operation: Operation | None = None) -> requests.Session:
    """A requests Session for one origin: redirects elsewhere raise `RedirectRefused`, and (with
    `operation`) every socket it opens is watched by that operation.

    Use one session per operation: its connections belong to that operation alone. Close it
    (or use it in a `with`) when the operation is over.
    """
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    home = origin_of(origin)
    if home[0] not in _DEFAULT_PORTS or not home[1]:
        raise ValueError(f"not an http(s) origin: {origin!r}")

    class _Session(requests.Session):
        def rebuild_auth(
            self, prepared_request: requests.PreparedRequest, response: requests.Response
        ) -> None:
            target = origin_of(prepared_request.url or "")
            if target != home:
                response.close()
                raise RedirectRefused(
                    f"refused a redirect ({response.status_code}) from {_shown(home)} to "
                    f"{_shown(target)}: credentials are sent only to {_shown(home)}"
                )
            super().rebuild_auth(prepared_request, response)  # type: ignore[no-untyped-call]

        def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
            response = super().send(request, **kwargs)
            # A socket shut down mid-answer can look like a short, complete answer to
            # http.client (headers end at EOF, a body without length ends at EOF): once the
            # operation has ended, no answer counts.
            if operation is not None and operation.ended:
                response.close()
                if operation.reason == "deadline" or operation.expired:
                    raise requests.Timeout(
                        f"no whole answer within the deadline of {operation.what}"
                    )
                raise requests.ConnectionError(f"{operation.what} ended: {operation.reason}")
            return response

    session = _Session()
    session.max_redirects = 5
    if operation is not None:
        watch: Callable[[socket.socket], None] = operation.watch

        class _Http(HTTPConnection):
            def _new_conn(self) -> socket.socket:
                sock = super()._new_conn()
                watch(sock)
                return sock

        class _Https(HTTPSConnection):
            def _new_conn(self) -> socket.socket:
                sock = super()._new_conn()
                watch(sock)
                return sock

        class _HttpPool(HTTPConnectionPool):
            ConnectionCls = _Http

        class _HttpsPool(HTTPSConnectionPool):
            ConnectionCls = _Https

        class _Adapter(HTTPAdapter):
            def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
                super().init_poolmanager(*args, **kwargs)
                self.poolmanager.pool_classes_by_scheme = {"http": _HttpPool, "https": _HttpsPool}

        adapter = _Adapter()
        session.mount("http://", adapter)
        session.mount("https://", adapter)
    return session


@contextlib.contextmanager
def operation_session(
    origin: str, seconds: float | None, *, what: str = ""
) -> Iterator[tuple[Operation, requests.Session]]:
    """`Operation` and `guarded_session` together: `with operation_session(url, 30) as (op, s):`."""
    with Operation(seconds, what=what or origin) as op, guarded_session(origin, op) as session:
        yield op, session
