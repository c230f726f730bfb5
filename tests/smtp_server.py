"""A real SMTP server (aiosmtpd) on 127.0.0.1 for delivery tests."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed: Any = message_from_bytes(self.data, policy=policy.default)
        return parsed  # type: ignore[no-any-return]


@dataclass
class Handler:
    """Accepts mail; refuses addresses containing 'refused'; fails the first `fail_data` DATAs."""

    fail_data: int = 0
    received: list[Received] = field(default_factory=list)
    attempts: int = 0

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if "refused" in address:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.attempts += 1
        if self.attempts <= self.fail_data:
            return "451 4.3.0 try again later"
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content)
        )
        return "250 Message accepted"


@dataclass
class Login:
    """An AUTH checker: accepts `user` with `password`, and records who tried."""

    user: str
    password: str
    attempts: list[tuple[str, bool]] = field(default_factory=list)

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user = auth_data.login.decode()
        ok = user == self.user and auth_data.password.decode() == self.password
        self.attempts.append((user, ok))
        return AuthResult(success=ok, handled=False)


@contextmanager
def smtp_server(
    login: Login | None = None, *, host: str = "127.0.0.1", **options: Any
) -> Iterator[tuple[Handler, int]]:
    """aiosmtpd on a free port of `host` (loopback unless told); with `login`, AUTH (PLAIN, LOGIN) is offered without
    TLS (loopback only). Not required (aiosmtpd warns about that without TLS): `login.attempts`
    tells who logged in."""
    handler = Handler(**options)
    port = free_port()
    auth: dict[str, Any] = {}
    if login is not None:
        auth = {"authenticator": login, "auth_require_tls": False}
    controller = Controller(handler, hostname=host, port=port, **auth)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()
