"""A real HTTP server that speaks the CleverTap query protocol over the local engine.

The real service cannot be reached from a test or a laptop, so the CleverTap client is proved
against this: POST `/1/counts/{top,events,profiles,trends}.json`, `partial` answers with a req_id
polled by GET `?req_id=`, the auth headers, the per-account concurrency limit, and faults injected
on request with a seed, so the same sequence of requests meets the same faults.

    emulator = start_emulator(LocalEngine(), port=0, partial_polls=2, faults="500:0.1")
    ... emulator.url, emulator.stats.max_in_flight ...
    emulator.stop()

Bad requests get an answer, never a dropped connection: a missing, malformed or negative
Content-Length is a 400 (411 for a chunked body), a body over `MAX_BODY` bytes a 413, a JSON
body nested too deep or unreadable a 400; the path and the auth headers are checked before a byte
of the body is read, so an unauthenticated client cannot make it read anything (the connection
is closed after such an answer, since the body was left unread). Work is bounded by the engine:
at most 20 groups per request and 3,660 points per trend.

What a request meets, in order: it is counted in flight (peak kept in `stats.max_in_flight`) and
refused with 429 "Too many concurrent requests" when more than `concurrency` are; it sleeps
`latency`; the headers are checked (401 as the real one); a fault may be drawn; then it is routed.
With `partial_polls = K` a query is answered `partial` K times (the POST's answer counts) before
`success`, so it costs 1 + K HTTP requests; the engine's answer is computed at the POST, and a
failing query fails at once, as the real service does with a bad event name.

By default it is as unkind as the recorded answers of the real service (../shared/reference):
- a query is answered `partial` at least once (`partial_polls=1`); `partial_polls=0` is the rare
  service that answers at once;
- an ordinary failure (unknown event or group, bad dates, a filter it cannot apply) is HTTP 200
  `{"status": "fail", "error": "[\"Invalid event : X\"]", "code": 400}`: the error a JSON list
  in a string (`fail_form="400"` answers HTTP 400 with a plain error instead);
- the limits the client must respect are enforced: a trend over more than 366 days or with more
  than 5 groups is refused (the message text is a guess; the limits are what clients observe);
- a filter the engine cannot apply is refused, never ignored.
Harder still on request: `string_req_ids`, `in_progress` (how a poll says "not yet": `partial`,
`code2` (a fail body with code 2), `202`, or `text`: HTTP 200 with the plain text "still in
progress"), `overfill=N` (top.json answers N more values per type than `top_n`, as the service
may), and the faults below, `405` among them (a POST refused: the client must ask again by GET,
which the emulator answers like the POST when it carries the JSON body).
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, Protocol, cast
from urllib.parse import parse_qs, urlsplit

from reportkit.plan import Endpoint, Request

__all__ = [
    "ENDPOINTS",
    "FAULT_KINDS",
    "Answerer",
    "Emulator",
    "EmulatorStats",
    "parse_faults",
    "request_key",
    "start_emulator",
]

log = logging.getLogger("reportkit.emulator")

ENDPOINTS = (
    "/1/counts/top.json",
    "/1/counts/events.json",
    "/1/counts/profiles.json",
    "/1/counts/trends.json",
)
FAULT_KINDS = ("500", "429", "reset", "slow", "garbage", "fail200", "expire", "405")
IN_PROGRESS = ("partial", "code2", "202", "text")
FAIL_FORMS = ("200", "400")
MAX_TREND_DAYS = 366  # what clients observe: about a year per trends request
MAX_TREND_GROUPS = 5
UNAUTHORIZED = {"status": "fail", "error": "Account ID is not valid", "code": 401}
TOO_MANY = {"status": "fail", "error": "Too many concurrent requests", "code": 429}
MAX_BODY = 1 << 20  # bytes of a request body; a count query is well under 10 KB
MAX_JSON_DEPTH = 64  # nesting of a request body; the protocol needs 3


class _BadRequest(Exception):
    """A request the emulator answers with `status` and closes: the body may be left unread."""

    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status = status
        self.error = error


InProgress = Literal["partial", "code2", "202", "text"]
FailForm = Literal["200", "400"]


class Answerer(Protocol):
    """What the emulator serves from: the local engine's `answer` (never raises, thread-safe)."""

    def answer(self, endpoint: str, body: Any) -> tuple[int, dict[str, Any]]: ...


def parse_faults(spec: str | Mapping[str, float] | None) -> dict[str, float]:
    """`"500:0.1,reset:0.02"` -> {"500": 0.1, "reset": 0.02}; rates must sum to at most 1.

    Kinds: 500 (HTTP 500), 429 (HTTP 429, as the concurrency limit answers), reset (the connection
    is dropped with no answer), slow (`slow_seconds` more latency), garbage (a 200 whose body is
    not JSON), fail200 (`status: fail` in a 200), expire (a poll is told its req_id is unknown),
    405 (a POST is answered 405 Method Not Allowed).
    """
    if spec is None or spec == "":
        return {}
    items = spec.items() if isinstance(spec, Mapping) else _split_spec(spec)
    rates: dict[str, float] = {}
    for kind, rate in items:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}: expected one of {', '.join(FAULT_KINDS)}")
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"fault rate for {kind} must be between 0 and 1, not {rate}")
        rates[kind] = rates.get(kind, 0.0) + rate
    if sum(rates.values()) > 1.0 + 1e-9:
        raise ValueError("fault rates add up to more than 1")
    return rates


def _split_spec(spec: str) -> list[tuple[str, float]]:
    out = []
    for part in spec.split(","):
        if not part.strip():
            continue
        kind, sep, rate = part.strip().partition(":")
        if not sep:
            raise ValueError(f"fault {part.strip()!r} needs a rate, e.g. {kind}:0.1")
        try:
            out.append((kind.strip(), float(rate)))
        except ValueError:
            raise ValueError(f"fault rate {rate!r} is not a number") from None
    return out


@dataclass(frozen=True, slots=True)
class EmulatorStats:
    """A snapshot of what the emulator has seen since it started (or since `reset_stats`)."""

    requests: int = 0
    posts: int = 0
    polls: int = 0
    max_in_flight: int = 0
    rejected: int = 0  # 429s from the concurrency limit, not from faults
    statuses: Mapping[int, int] = field(default_factory=dict)
    faults: Mapping[str, int] = field(default_factory=dict)
    by_endpoint: Mapping[str, int] = field(default_factory=dict)
    # by request key (path, a space, the body as compact JSON with sorted keys: `Request.key`)
    posted: Mapping[str, int] = field(default_factory=dict)  # POSTs that reached the engine
    succeeded: Mapping[str, int] = field(default_factory=dict)  # `success` answers sent


@dataclass(slots=True)
class _Pending:
    endpoint: str
    key: str  # the request key of the POST that started it
    answer: dict[str, Any]
    remaining: int  # partial answers still to give
    expires: float


class _State:
    """Everything the handler threads share, behind one lock."""

    def __init__(
        self,
        engine: Answerer,
        *,
        account_id: str | None,
        passcode: str | None,
        partial_polls: int,
        latency: float,
        concurrency: int,
        faults: dict[str, float],
        seed: int,
        req_ttl: float,
        slow_seconds: float,
        string_req_ids: bool,
        in_progress: InProgress,
        fail_form: FailForm,
        overfill: int,
    ) -> None:
        self.engine = engine
        self.account_id = account_id
        self.passcode = passcode
        self.partial_polls = partial_polls
        self.latency = latency
        self.concurrency = concurrency
        self.faults = faults
        self.req_ttl = req_ttl
        self.slow_seconds = slow_seconds
        self.string_req_ids = string_req_ids
        self.in_progress = in_progress
        self.fail_form = fail_form
        self.overfill = overfill
        self.lock = threading.Lock()
        self.rng = random.Random(seed)
        self.next_id = random.Random(seed).randrange(10**12, 10**13)
        self.pending: dict[str, _Pending] = {}
        self.expire_next = 0
        self.in_flight = 0
        self.reset()

    def reset(self) -> None:
        self.requests = self.posts = self.polls = self.max_in_flight = self.rejected = 0
        self.statuses: Counter[int] = Counter()
        self.fault_counts: Counter[str] = Counter()
        self.by_endpoint: Counter[str] = Counter()
        self.posted: Counter[str] = Counter()
        self.succeeded: Counter[str] = Counter()

    def snapshot(self) -> EmulatorStats:
        with self.lock:
            return EmulatorStats(
                requests=self.requests,
                posts=self.posts,
                polls=self.polls,
                max_in_flight=self.max_in_flight,
                rejected=self.rejected,
                statuses=dict(self.statuses),
                faults=dict(self.fault_counts),
                by_endpoint=dict(self.by_endpoint),
                posted=dict(self.posted),
                succeeded=dict(self.succeeded),
            )

    def draw_fault(self) -> str | None:
        """One draw per request, in arrival order, from the seeded generator."""
        with self.lock:
            roll = self.rng.random()
        edge = 0.0
        for kind in FAULT_KINDS:
            edge += self.faults.get(kind, 0.0)
            if roll < edge:
                return kind
        return None

    def new_req_id(self) -> int | str:
        with self.lock:
            self.next_id += 1
            number = self.next_id
        return f"r{number}" if self.string_req_ids else number


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    _status: int = 0
    _counted: bool = False  # this request is counted in flight
    _note: str = ""
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes
    server_version = "reportkit-emulator"
    timeout = 60  # seconds a client may take over one read of its request
    sys_version = ""

    # -- plumbing ---------------------------------------------------------------------------
    def log_message(self, format: str, *args: Any) -> None:
        pass  # _handle writes one line per request instead

    def _leave(self) -> None:
        """Stop counting this request in flight. Done before the answer's first byte goes out: a
        client that reads the answer and sends its next request at once must not find this one
        still counted (that would be our race, not the client's excess)."""
        if self._counted:
            self._counted = False
            with self.server.state.lock:
                self.server.state.in_flight -= 1

    def _reply(self, status: int, body: dict[str, Any] | str) -> None:
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        self._leave()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self._status = status
        self._note = self._note or (_status_of(body) if isinstance(body, dict) else "")

    def _reset(self) -> None:
        """Drop the connection with a TCP RST and no answer."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self._status = 0
        self._note = "reset"

    def _read_body(self) -> bytes:
        """The body, once the path and credentials have been checked; _BadRequest when its
        length is missing, malformed or too large."""
        if self.headers.get("Transfer-Encoding"):
            raise _BadRequest(411, "Length Required (chunked bodies are not accepted)")
        values = self.headers.get_all("Content-Length") or []
        if not values:
            return b""
        text = values[0].strip()
        if len(set(values)) > 1 or not text.isascii() or not text.isdigit():
            raise _BadRequest(400, "Invalid Content-Length")
        if len(text) > 12 or int(text) > MAX_BODY:
            raise _BadRequest(413, f"Request body too large (at most {MAX_BODY} bytes)")
        length = int(text)
        data = self.rfile.read(length) if length else b""
        if len(data) < length:
            raise _BadRequest(400, "Request body shorter than its Content-Length")
        return data

    def do_POST(self) -> None:
        self._handle("POST")

    def do_GET(self) -> None:
        self._handle("GET")

    # -- the protocol -----------------------------------------------------------------------
    def _handle(self, method: str) -> None:
        state = self.server.state
        started = time.monotonic()
        self._status, self._note = 0, ""
        url = urlsplit(self.path)
        with state.lock:
            state.in_flight += 1
            self._counted = True
            state.requests += 1
            state.by_endpoint[url.path] += 1
            state.max_in_flight = max(state.max_in_flight, state.in_flight)
            over = state.in_flight > state.concurrency
            if over:
                state.rejected += 1
        try:
            if not self._admitted(url.path):
                self.close_connection = True  # the body, if any, was not read
                return
            raw = self._read_body()  # a GET may carry the JSON body too (asked again after a 405)
            if over:
                self._reply(429, TOO_MANY)
                self._note = "over the concurrency limit"
                return
            if state.latency > 0:
                time.sleep(state.latency)
            self._serve(method, url.path, parse_qs(url.query), raw)
        except _BadRequest as exc:
            self.close_connection = True
            self._reply(exc.status, {"status": "fail", "error": exc.error, "code": exc.status})
        except (BrokenPipeError, ConnectionResetError):
            self._status, self._note = 0, "client went away"
            self.close_connection = True
        except Exception as exc:  # our bug: still an answer, never a dropped connection
            log.exception("emulator error on %s %s", method, self.path)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self._reply(500, {"status": "fail", "error": type(exc).__name__, "code": 500})
        finally:
            self._leave()
            with state.lock:
                if self._status:
                    state.statuses[self._status] += 1
            log.info(
                "%s %s %s %s %.3fs%s",
                self.client_address[0],
                method,
                self.path,
                self._status or "-",
                time.monotonic() - started,
                f" {self._note}" if self._note else "",
            )

    def _admitted(self, path: str) -> bool:
        """Path and credentials, checked before any of the body is read; False once answered."""
        state = self.server.state
        if path not in ENDPOINTS:
            self._reply(404, {"status": "fail", "error": f"Not found: {path}", "code": 404})
            return False
        account = self.headers.get("X-CleverTap-Account-Id") or ""
        passcode = self.headers.get("X-CleverTap-Passcode") or ""
        if (
            not account
            or not passcode
            or (state.account_id is not None and account != state.account_id)
            or (state.passcode is not None and passcode != state.passcode)
        ):
            self._reply(401, UNAUTHORIZED)
            return False
        return True

    def _serve(self, method: str, path: str, query: dict[str, list[str]], raw: bytes) -> None:
        state = self.server.state
        req_id = (query.get("req_id") or [""])[0]
        if method == "GET" and not req_id and not raw:
            self._reply(405, {"status": "fail", "error": "Method Not Allowed", "code": 405})
            return
        fault = state.draw_fault()
        if fault == "expire" and method != "GET":
            fault = None  # only polls carry a req_id to forget
        if fault == "405" and method != "POST":
            fault = None  # the GET that follows a 405 is the client's way out
        if fault is not None:
            with state.lock:
                state.fault_counts[fault] += 1
            self._note = f"fault={fault}"
            if fault == "slow":
                time.sleep(state.slow_seconds)
            elif fault == "500":
                self._reply(500, "<html><body>500 Internal Server Error</body></html>")
                return
            elif fault == "429":
                self._reply(429, TOO_MANY)
                return
            elif fault == "reset":
                self._reset()
                return
            elif fault == "garbage":
                self._reply(200, '{"status": "succ')
                return
            elif fault == "fail200":
                self._reply(200, {"status": "fail", "error": '["Injected failure"]', "code": 1})
                return
            elif fault == "405":
                self._reply(405, {"status": "fail", "error": "Method Not Allowed", "code": 405})
                return
        if method == "POST" or not req_id:  # a GET with the JSON body asks like a POST
            self._post(path, raw)
        else:
            self._poll(path, req_id, expire=fault == "expire")

    def _post(self, path: str, raw: bytes) -> None:
        state = self.server.state
        with state.lock:
            state.posts += 1
        try:
            body = _parse_body(raw)
        except _BadRequest as exc:
            self._reply(exc.status, {"status": "fail", "error": exc.error, "code": exc.status})
            return
        key = request_key(path, body)
        with state.lock:
            state.posted[key] += 1
        refused = _over_limits(path, body)
        if refused:
            status, answer = 400, {"status": "fail", "error": refused, "code": 400}
        else:
            status, answer = state.engine.answer(path, _overfilled(path, body, state.overfill))
        if status == 400 and answer.get("status") == "fail" and state.fail_form == "200":
            # as recorded: HTTP 200, the error a JSON list inside a string
            status = 200
            answer = {**answer, "error": json.dumps([str(answer.get("error", ""))])}
        if status != 200 or answer.get("status") != "success" or state.partial_polls <= 0:
            self._reply(status, answer)
            if status == 200 and answer.get("status") == "success":
                self._succeeded(key)
            return
        req_id = state.new_req_id()
        with state.lock:
            state.pending[str(req_id)] = _Pending(
                path, key, answer, state.partial_polls - 1, time.monotonic() + state.req_ttl
            )
        self._reply(200, {"status": "partial", "req_id": req_id})
        self._note = f"partial req_id={req_id}"

    def _succeeded(self, key: str) -> None:
        """Count a `success` answer that went out whole."""
        with self.server.state.lock:
            self.server.state.succeeded[key] += 1

    def _poll(self, path: str, req_id: str, *, expire: bool) -> None:
        state = self.server.state
        now = time.monotonic()
        with state.lock:
            state.polls += 1
            for key in [k for k, p in state.pending.items() if p.expires <= now]:
                del state.pending[key]
            if expire or state.expire_next > 0:
                state.expire_next = max(0, state.expire_next - (not expire))
                state.pending.pop(req_id, None)
            pending = state.pending.get(req_id)
            if pending is None or pending.endpoint != path:
                pending = None
            elif pending.remaining > 0:
                pending.remaining -= 1
                remaining = pending.remaining + 1
            else:
                del state.pending[req_id]
                remaining = 0
        if pending is None:
            self._reply(
                200,
                {
                    "status": "fail",
                    "error": f"Invalid req_id {req_id} (unknown or expired)",
                    "code": 400,
                },
            )
            return
        if remaining == 0:
            self._reply(200, pending.answer)
            self._succeeded(pending.key)
            return
        wire_id: int | str = int(req_id) if req_id.isdigit() else req_id
        if state.in_progress == "text":
            self._reply(200, "still in progress")
            self._note = "still in progress"
        elif state.in_progress == "202":
            self._reply(202, {"status": "partial", "req_id": wire_id})
        elif state.in_progress == "code2":
            self._reply(
                200, {"status": "fail", "code": 2, "error": "Query in progress", "req_id": wire_id}
            )
        else:
            self._reply(200, {"status": "partial", "req_id": wire_id})


def _parse_body(raw: bytes) -> Any:
    """The JSON of a request body; _BadRequest (400) when it is not JSON, not UTF-8, or nested
    deeper than MAX_JSON_DEPTH (checked before parsing: json recurses once per level)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:  # a cheap scan: brackets outside strings
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    if deepest > MAX_JSON_DEPTH:
        raise _BadRequest(400, f"Request body nested too deep (at most {MAX_JSON_DEPTH} levels)")
    try:
        return json.loads(raw.decode("utf-8") if raw else "null")
    except (ValueError, RecursionError):
        raise _BadRequest(400, "Malformed JSON body") from None


def _over_limits(path: str, body: Any) -> str | None:
    """Why the service refuses a trends request a client should have split, or None."""
    if path != "/1/counts/trends.json" or not isinstance(body, dict):
        return None
    groups = body.get("groups")
    if isinstance(groups, dict) and len(groups) > MAX_TREND_GROUPS:
        return f"Too many groups : {len(groups)} (at most {MAX_TREND_GROUPS} per request)"
    start, end = _day(body.get("from")), _day(body.get("to"))
    if start is not None and end is not None and (end - start).days + 1 > MAX_TREND_DAYS:
        return f"Date range too long : {body['from']} - {body['to']} (at most one year)"
    return None


def _day(value: Any) -> date | None:
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    try:
        return date(value // 10000, value // 100 % 100, value % 100)
    except (ValueError, OverflowError):
        return None


def _overfilled(path: str, body: Any, extra: int) -> Any:
    """The body asking `extra` more values per group, for answers longer than `top_n`."""
    if extra <= 0 or path != "/1/counts/top.json" or not isinstance(body, dict):
        return body
    groups = body.get("groups")
    if not isinstance(groups, dict):
        return body
    wider = {
        key: {**g, "top_n": g.get("top_n", 10) + extra}
        if isinstance(g, dict) and isinstance(g.get("top_n", 10), int)
        else g
        for key, g in groups.items()
    }
    return {**body, "groups": wider}


def request_key(path: str, body: Any) -> str:
    """The identity of a query: `reportkit.plan.Request.key` of the same call."""
    return Request(cast(Endpoint, path), body).key


def _status_of(body: dict[str, Any]) -> str:
    status = str(body.get("status", ""))
    if status == "fail":
        return f"fail: {body.get('error', '')}"
    return status


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    state: _State


class Emulator:
    """A running emulator: its `url`, live `stats`, and `stop()`."""

    def __init__(self, server: _Server) -> None:
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name="reportkit-emulator",
        )
        self._thread.start()
        host, port = server.server_address[:2]
        self.host = str(host)
        self.port = int(port)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def stats(self) -> EmulatorStats:
        return self._server.state.snapshot()

    @property
    def pending_req_ids(self) -> list[str]:
        with self._server.state.lock:
            return list(self._server.state.pending)

    def reset_stats(self) -> None:
        with self._server.state.lock:
            self._server.state.reset()

    def expire_next_polls(self, count: int = 1) -> None:
        """Answer the next `count` polls as if their req_id had expired."""
        with self._server.state.lock:
            self._server.state.expire_next += count

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"Emulator(url={self.url!r})"


def start_emulator(
    engine: Answerer,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    account_id: str | None = None,
    passcode: str | None = None,
    partial_polls: int = 1,
    latency: float = 0.0,
    concurrency: int = 3,
    faults: str | Mapping[str, float] | None = None,
    seed: int = 0,
    req_ttl: float = 600.0,
    slow_seconds: float = 3.0,
    string_req_ids: bool = False,
    in_progress: InProgress = "partial",
    fail_form: FailForm = "200",
    overfill: int = 0,
) -> Emulator:
    """Start an emulator in a background thread and return it, already listening.

    `account_id` / `passcode` None accept any non-empty value (the headers are still required).
    `port=0` picks a free port (read it back from `.url`).
    """
    if partial_polls < 0 or concurrency < 1 or latency < 0 or overfill < 0:
        raise ValueError("partial_polls, latency and overfill must be >= 0, concurrency >= 1")
    if in_progress not in IN_PROGRESS:
        raise ValueError(f"in_progress must be one of {', '.join(IN_PROGRESS)}")
    if fail_form not in FAIL_FORMS:
        raise ValueError(f"fail_form must be one of {', '.join(FAIL_FORMS)}")
    server = _Server((host, port), _Handler)
    server.state = _State(
        engine,
        account_id=account_id,
        passcode=passcode,
        partial_polls=partial_polls,
        latency=latency,
        concurrency=concurrency,
        faults=parse_faults(faults),
        seed=seed,
        req_ttl=req_ttl,
        slow_seconds=slow_seconds,
        string_req_ids=string_req_ids,
        in_progress=in_progress,
        fail_form=fail_form,
        overfill=overfill,
    )
    return Emulator(server)
