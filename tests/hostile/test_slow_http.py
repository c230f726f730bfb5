"""A server that sends a byte at a time, or nothing, holds a CleverTap query no longer than its
--query-timeout, in the status line, the headers, the body or a poll; close() ends it at once."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

import pytest
import requests

from reportkit.errors import QueryTimeout, SourceError
from reportkit.net import Operation, guarded_session
from tests.hostile.servers import StandIn, endless, hold, http_response, trickle
from tests.hostile.support import REQUEST, SUCCESS, source

# every test here would run for minutes (or for ever) without the deadline under test
pytestmark = pytest.mark.timeout(20)

TICK = 0.02  # seconds between two bytes: fast enough that only a whole-operation deadline stops it
QUERY_TIMEOUT = 0.5

Script = Callable[[socket.socket, StandIn], None]


def slow(data: bytes) -> Script:
    def script(conn: socket.socket, server: StandIn) -> None:
        server.read_request(conn)
        trickle(conn, server, data, TICK)

    return script


def silent(conn: socket.socket, server: StandIn) -> None:
    server.read_request(conn)
    hold(conn, server)


def deaf(conn: socket.socket, server: StandIn) -> None:
    """Accepts the connection and reads nothing: the request stays in the socket buffers."""
    hold(conn, server)


HEADERS = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
SLOW_SERVERS: dict[str, Script] = {
    "status line": slow(endless(b"HTTP/1.1 ", b"2")),
    "reason phrase": slow(endless(b"HTTP/1.1 200 ", b"O")),
    "one endless header": slow(endless(HEADERS + b"X-Pad: ", b"a")),
    "endless headers": slow(endless(HEADERS, b"X-A: 1\r\n")),
    "body by length": slow(
        endless(HEADERS + b"Content-Length: 99999999\r\n\r\n" + b'{"status": "success"', b" ")
    ),
    "chunked body": slow(endless(HEADERS + b"Transfer-Encoding: chunked\r\n\r\n", b"1\r\n \r\n")),
    "gzip body": slow(
        endless(HEADERS + b"Content-Encoding: gzip\r\nContent-Length: 99999999\r\n\r\n", b"\x1f")
    ),
    "body until close": slow(endless(HEADERS + b"Connection: close\r\n\r\n{", b" ")),
    "silent after the request": silent,
    "reads nothing": deaf,
}


@pytest.mark.parametrize("kind", SLOW_SERVERS)
def test_a_slow_server_cannot_hold_a_query_past_its_timeout(kind: str) -> None:
    with (
        StandIn(SLOW_SERVERS[kind]) as server,
        source(server.url, query_timeout=QUERY_TIMEOUT) as clevertap,
        pytest.raises(QueryTimeout) as info,
    ):
        clevertap.execute(REQUEST)
    message = str(info.value)
    assert "\n" not in message
    assert f"got no answer within {QUERY_TIMEOUT:g} s" in message


@pytest.mark.parametrize("kind", ["endless headers", "body by length", "silent after the request"])
def test_a_poll_that_trickles_is_cut_by_the_same_deadline(kind: str) -> None:
    """The POST is answered `partial` at once; the poll meets the slow server."""
    partial = b'{"status": "partial", "req_id": 123}'

    def script(conn: socket.socket, server: StandIn) -> None:
        head = server.read_request(conn)
        if head.startswith(b"POST"):
            conn.sendall(http_response(200, partial, {"Connection": "close"}))
            return
        conn.sendall(b"")  # the poll: behave as the slow server does
        SLOW_SERVERS[kind](conn, _Replay(server, head))

    with StandIn(script) as server:
        with (
            # longer than the others: the POST must be answered before the poll meets the server
            source(server.url, query_timeout=2.0) as clevertap,
            pytest.raises(QueryTimeout, match="req_id 123"),
        ):
            clevertap.execute(REQUEST)
        assert b"GET /1/counts/events.json?req_id=123" in server.all_received()


class _Replay:
    """A stand-in whose next read_request returns a head already read."""

    def __init__(self, server: StandIn, head: bytes) -> None:
        self._server, self._head = server, head

    @property
    def stopping(self) -> bool:
        return self._server.stopping

    def read_request(self, conn: socket.socket) -> bytes:
        return self._head


@pytest.mark.parametrize("kind", ["one endless header", "body by length", "reads nothing"])
def test_close_from_another_thread_ends_a_blocked_query_at_once(kind: str) -> None:
    """What SIGTERM does to a run: the main thread closes the source while a worker reads."""
    with StandIn(SLOW_SERVERS[kind]) as server:
        clevertap = source(server.url, query_timeout=600.0)
        failure: list[BaseException] = []

        def worker() -> None:
            try:
                clevertap.execute(REQUEST)
            except BaseException as exc:
                failure.append(exc)

        thread = threading.Thread(target=worker)
        thread.start()
        while server.connections == 0:
            thread.join(0.01)
        clevertap.close()
        thread.join(10)
        assert not thread.is_alive(), "close() did not end the blocked read"
    assert len(failure) == 1 and isinstance(failure[0], SourceError)
    assert str(failure[0]).startswith("stopped: the CleverTap source was closed")


def test_a_fast_answer_still_arrives_whole() -> None:
    """The deadline is for slow servers only: a normal answer is unaffected."""

    def script(conn: socket.socket, server: StandIn) -> None:
        server.read_request(conn)
        conn.sendall(http_response(200, SUCCESS, {"Content-Type": "application/json"}))

    with StandIn(script) as server, source(server.url, query_timeout=30.0) as clevertap:
        assert clevertap.execute(REQUEST) == {"status": "success", "count": 7}


@pytest.mark.parametrize("kind", ["endless headers", "chunked body", "silent after the request"])
def test_the_helper_bounds_any_channel_call(kind: str) -> None:
    """A webhook or Slack channel: one Operation around a plain requests call."""
    with (
        StandIn(SLOW_SERVERS[kind]) as server,
        Operation(0.5, what="webhook") as op,
        guarded_session(server.url, op) as session,
        pytest.raises(requests.RequestException),
    ):
        session.post(server.url + "/hook", json={"text": "hi"}, timeout=op.timeout((5, 5)))
    assert op.expired  # the read timeout and the timer both end at the deadline


def test_an_aborted_operation_refuses_new_connections_at_once() -> None:
    with StandIn(silent) as server:
        with Operation(None, what="webhook") as op, guarded_session(server.url, op) as session:
            op.abort("stopped")
            with pytest.raises(requests.RequestException):
                session.get(server.url + "/", timeout=(5, 5))
        assert op.reason == "stopped" and not op.expired
