"""An SMTP server that greets, answers or accepts data a byte at a time, or never, holds `send`
no longer than its session timeout; a password goes only over TLS or to loopback, whatever the
form of the SMTP URL."""

from __future__ import annotations

import socket
from collections.abc import Callable
from email.message import EmailMessage

import pytest

from reportkit.deliver.email import parse_smtp_url, send_message
from reportkit.errors import DeliveryError
from tests.hostile.servers import StandIn, endless, hold, non_loopback_address, trickle

pytestmark = pytest.mark.timeout(20)

TICK = 0.02
SESSION = 0.5
SECRET = "Smtp-Hostile-Pa55"

Script = Callable[[socket.socket, StandIn], None]


def message() -> EmailMessage:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "rk@example.com", "ana@example.com", "Weekly"
    mail.set_content("numbers")
    return mail


def read_line(conn: socket.socket) -> bytes:
    line = bytearray()
    while not line.endswith(b"\n"):
        byte = conn.recv(1)
        if not byte:
            break
        line += byte
    return bytes(line)


def conversation(slow_at: str, slow: bytes) -> Script:
    """A server that speaks SMTP properly until `slow_at` (greeting, EHLO, MAIL, DATA, end of
    data), where it sends `slow` a byte a tick instead."""

    def script(conn: socket.socket, server: StandIn) -> None:
        conn.settimeout(10)
        if slow_at == "greeting":
            trickle(conn, server, slow, TICK)
            return
        conn.sendall(b"220 stand-in ESMTP\r\n")
        in_data = False
        while not server.stopping:
            line = read_line(conn)
            server.record(line)
            if not line:
                return
            if in_data:
                if line == b".\r\n":
                    in_data = False
                    if slow_at == "end of data":
                        trickle(conn, server, slow, TICK)
                        return
                    conn.sendall(b"250 queued\r\n")
                continue
            verb = line[:4].upper()
            stage = {b"EHLO": "EHLO", b"MAIL": "MAIL", b"DATA": "DATA"}.get(verb)
            if stage == slow_at:
                trickle(conn, server, slow, TICK)
                hold(conn, server)
                return
            if verb == b"EHLO":
                conn.sendall(b"250-stand-in\r\n250 8BITMIME\r\n")
            elif verb == b"DATA":
                conn.sendall(b"354 go on\r\n")
                in_data = True
            elif verb == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"250 ok\r\n")

    return script


SLOW_SMTP: dict[str, Script] = {
    "greeting, one endless line": conversation("greeting", endless(b"220 ", b"x")),
    "greeting, endless continuation lines": conversation("greeting", endless(b"", b"220-x\r\n")),
    "greeting never comes": lambda conn, server: hold(conn, server),
    "EHLO answer trickles": conversation("EHLO", endless(b"250-", b"y")),
    "MAIL answer trickles": conversation("MAIL", endless(b"25", b"0")),
    "DATA never answered": conversation("DATA", b""),
    "end of data trickles": conversation("end of data", endless(b"", b"250-q\r\n")),
}


@pytest.mark.parametrize("kind", SLOW_SMTP)
def test_a_slow_smtp_server_cannot_hold_send(kind: str) -> None:
    with StandIn(SLOW_SMTP[kind]) as server:
        config = parse_smtp_url(f"127.0.0.1:{server.port}")
        with pytest.raises(DeliveryError) as info:
            send_message(
                config,
                message(),
                ["ana@example.com"],
                session_timeout=SESSION,
                sleep=lambda _: None,
            )
        # not tried again (on a loaded machine the stand-in may not even have accepted it yet)
        assert server.connections <= 1, "an expired session is not tried again"
    assert str(info.value) == (
        f"the SMTP server at 127.0.0.1:{server.port} did not complete the session within {SESSION:g} s: "
        "giving up on this message"
    )


def test_a_polite_stand_in_delivers() -> None:
    """The same conversation without a slow step: the deadline leaves good servers alone."""
    with StandIn(conversation("nowhere", b"")) as server:
        send_message(
            parse_smtp_url(f"127.0.0.1:{server.port}"),
            message(),
            ["ana@example.com"],
            session_timeout=30.0,  # a deadline a good server never meets
        )
        assert b"Subject: Weekly" in server.all_received()


@pytest.mark.parametrize(
    "url",
    [
        "{user}:{password}@{host}:{port}",  # no scheme
        "smtp://{user}:{password}@{host}:{port}",
        "{user}:{password}@{host}:{port}/",
    ],
)
def test_no_form_of_the_url_sends_a_password_in_clear_off_loopback(url: str) -> None:
    from tests.smtp_server import smtp_server

    host = non_loopback_address()
    if host is None:
        pytest.skip("this machine has no address other than loopback to serve SMTP on")
    with smtp_server(host=host) as (handler, port):
        config = parse_smtp_url(url.format(user="ana", password=SECRET, host=host, port=port))
        with pytest.raises(DeliveryError) as info:
            send_message(config, message(), ["ana@example.com"], sleep=lambda _: None)
        assert handler.received == []
    assert "refusing to send the password in clear" in str(info.value)
    assert SECRET not in str(info.value)


def test_without_a_password_plain_smtp_off_loopback_still_works() -> None:
    from tests.smtp_server import smtp_server

    host = non_loopback_address()
    if host is None:
        pytest.skip("this machine has no address other than loopback to serve SMTP on")
    with smtp_server(host=host) as (handler, port):
        send_message(parse_smtp_url(f"{host}:{port}"), message(), ["ana@example.com"])
        assert len(handler.received) == 1
