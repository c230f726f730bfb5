"""No credential follows a redirect to another origin, whatever the status or the Location's
spelling; a redirect within the configured origin is followed."""

from __future__ import annotations

import socket

import pytest
import requests

from reportkit.errors import ReportkitError
from reportkit.net import RedirectRefused, guarded_session, origin_of
from tests.hostile.servers import StandIn, free_port, http_response
from tests.hostile.support import PASSCODE, REQUEST, SUCCESS, source

pytestmark = pytest.mark.timeout(20)

STATUSES = [301, 302, 303, 307, 308]


def redirect_to(location: str, status: int) -> StandIn:
    def script(conn: socket.socket, server: StandIn) -> None:
        server.read_request(conn)
        conn.sendall(http_response(status, b"moved", {"Location": location}))

    return StandIn(script)


def answering(body: bytes = SUCCESS) -> StandIn:
    """Answers every request on a connection with a 200 and `body`."""

    def script(conn: socket.socket, server: StandIn) -> None:
        while server.read_request(conn):
            conn.sendall(http_response(200, body, {"Content-Type": "application/json"}))

    return StandIn(script)


def elsewhere(target: StandIn, how: str) -> str:
    """A Location naming `target`'s origin, spelt `how`."""
    port = target.port
    return {
        "absolute": f"http://127.0.0.1:{port}/1/counts/events.json",
        "scheme-relative": f"//127.0.0.1:{port}/1/counts/events.json",
        "other name": f"http://localhost:{port}/1/counts/events.json",
        "upper case": f"HTTP://LOCALHOST:{port}/1/counts/events.json",
        "userinfo": f"http://127.0.0.1:1@127.0.0.1:{port}/x",
    }[how]


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize(
    "how", ["absolute", "scheme-relative", "other name", "upper case", "userinfo"]
)
def test_the_passcode_never_follows_a_redirect_to_another_origin(status: int, how: str) -> None:
    with answering() as target, redirect_to(elsewhere(target, how), status) as server:
        with source(server.url) as clevertap, pytest.raises(RedirectRefused) as info:
            clevertap.execute(REQUEST)
        message = str(info.value)
        assert target.connections == 0, "a connection reached the other origin"
        assert PASSCODE.encode() not in target.all_received()
        assert server.connections == 1, "a refused redirect is not retried"
    assert "\n" not in message and PASSCODE not in message
    assert message.startswith(f"refused a redirect ({status}) from {server.url} to ")
    assert message.endswith(f"credentials are sent only to {server.url}")
    assert isinstance(info.value, ReportkitError)


@pytest.mark.parametrize("status", [302, 307])
def test_another_port_of_the_same_host_is_another_origin(status: int) -> None:
    port = free_port()  # nothing listens: a refused redirect must not even try to connect
    with (
        redirect_to(f"http://127.0.0.1:{port}/", status) as server,
        source(server.url) as clevertap,
        pytest.raises(RedirectRefused, match=f":{port}"),
    ):
        clevertap.execute(REQUEST)


@pytest.mark.parametrize("status", STATUSES)
def test_an_upgrade_or_downgrade_of_the_scheme_is_refused(status: int) -> None:
    with (
        redirect_to("https://127.0.0.1:1/1/counts/events.json", status) as server,
        source(server.url) as clevertap,
        pytest.raises(RedirectRefused, match="https://"),
    ):
        clevertap.execute(REQUEST)


def test_https_to_http_is_another_origin_even_on_the_same_host_and_port() -> None:
    # no TLS stand-in here: the comparison the session makes on every hop, on its own
    assert origin_of("https://api.example.com/x") == ("https", "api.example.com", 443)
    assert origin_of("http://api.example.com:443/x") != origin_of("https://api.example.com/x")
    assert origin_of("HTTPS://API.example.com:443") == origin_of("https://api.example.com")


@pytest.mark.parametrize("status", STATUSES)
def test_a_redirect_within_the_origin_is_followed(status: int) -> None:
    def script(conn: socket.socket, server: StandIn) -> None:
        while True:
            head = server.read_request(conn)
            if not head:
                return
            path = head.split(b" ")[1]
            if path.startswith(b"/1/counts/"):
                conn.sendall(http_response(status, b"", {"Location": "/moved/here"}))
            else:
                conn.sendall(http_response(200, SUCCESS, {"Content-Type": "application/json"}))

    with StandIn(script) as server, source(server.url) as clevertap:
        body = clevertap.execute(REQUEST)
        # the second hop kept the credentials: it was the same origin
        assert server.all_received().count(PASSCODE.encode()) == 2
    assert body == {"status": "success", "count": 7}


def test_the_session_refuses_for_any_channel_and_any_header() -> None:
    """What a webhook or Slack channel gets from reportkit.net: the same refusal, with its own
    headers, on a plain requests call."""
    with answering() as target, redirect_to(f"{target.url}/hook", 307) as server:
        with guarded_session(server.url) as session, pytest.raises(RedirectRefused):
            session.post(
                server.url + "/hook", json={"a": 1}, headers={"Authorization": "Bearer t0k"}
            )
        assert target.connections == 0
    assert not issubclass(RedirectRefused, requests.RequestException)


def test_too_many_redirects_within_the_origin_end() -> None:
    def script(conn: socket.socket, server: StandIn) -> None:
        while server.read_request(conn):
            conn.sendall(http_response(302, b"", {"Location": "/again"}))

    with StandIn(script) as server, guarded_session(server.url) as session:
        with pytest.raises(requests.TooManyRedirects):
            session.get(server.url + "/")
        assert server.all_received().count(b"GET /again") == 5
