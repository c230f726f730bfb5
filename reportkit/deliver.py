"""Email delivery over SMTP: build the message from a published report, send it, or write .eml.

SMTP settings come from a URL: `smtp://user:pass@host:587` (STARTTLS when the server offers it;
required before a password goes over a non-loopback connection), `smtps://user:pass@host:465`
(TLS from the start) or `host:port` alone. The password never appears in a message, log or error.
"""

from __future__ import annotations

import ipaddress
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from reportkit.errors import DeliveryError, InvalidInput
from reportkit.model import EmailSpec

MIME = {
    "pdf": ("application", "pdf"),
    "html": ("text", "html"),
    "md": ("text", "markdown"),
}


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    security: Literal["starttls", "tls", "none"]
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str = "reportkit@localhost"

    def describe(self) -> str:
        """Where mail goes, without the password."""
        user = f"{self.username}@" if self.username else ""
        return f"{self.security} {user}{self.host}:{self.port}"


def parse_smtp_url(url: str, *, sender: str | None = None) -> SmtpConfig:
    """`smtp://user:pass@host:587`, `smtps://host:465` or `host:port` -> SmtpConfig."""
    text = url.strip()
    if "://" not in text:
        text = "plain://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        # never echo the URL: it may hold the password
        raise InvalidInput("the SMTP URL is not valid: write smtp://user:pass@host:587") from None
    scheme = parts.scheme.lower()
    if scheme not in ("smtp", "smtps", "plain") or not parts.hostname:
        raise InvalidInput(
            "the SMTP URL is not valid: write smtp://user:pass@host:587, smtps://... or host:port"
        )
    security: Literal["starttls", "tls", "none"] = {
        "smtp": "starttls",
        "smtps": "tls",
        "plain": "none",
    }[scheme]  # type: ignore[assignment]
    default_port = {"starttls": 587, "tls": 465, "none": 25}[security]
    username = unquote(parts.username) if parts.username else None
    return SmtpConfig(
        host=parts.hostname,
        port=port or default_port,
        security=security,
        username=username,
        password=unquote(parts.password) if parts.password else None,
        sender=sender or (username if username and "@" in username else "reportkit@localhost"),
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _one_line(value: str, what: str) -> str:
    if "\n" in value or "\r" in value:
        raise DeliveryError(f"the {what} holds a line break, which could inject mail headers")
    return value


def build_message(
    spec: EmailSpec,
    *,
    sender: str,
    subject: str,
    body: str,
    html_body: str | None = None,
    attachments: Sequence[Path] = (),
    recipients: Sequence[str] | None = None,
) -> EmailMessage:
    """A MIME message: the body (and an HTML alternative) with the report files attached."""
    message = EmailMessage()
    message["From"] = _one_line(sender, "sender")
    message["To"] = ", ".join(_one_line(a, "address") for a in (recipients or spec.to))
    if spec.cc and recipients is None:
        message["Cc"] = ", ".join(_one_line(a, "address") for a in spec.cc)
    message["Subject"] = _one_line(subject, "subject")
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="reportkit.local")
    message.set_content(body)
    if html_body is not None:
        message.add_alternative(html_body, subtype="html")
    for path in attachments:
        kind = path.suffix.lstrip(".")
        maintype, subtype = MIME.get(kind, ("application", "octet-stream"))
        data = path.read_bytes()
        if maintype == "text":
            message.add_attachment(data.decode("utf-8"), subtype=subtype, filename=path.name)
        else:
            message.add_attachment(data, maintype=maintype, subtype=subtype, filename=path.name)
    return message


def all_recipients(spec: EmailSpec) -> list[str]:
    return [*spec.to, *spec.cc, *spec.bcc]


TRANSIENT = (
    smtplib.SMTPServerDisconnected,
    smtplib.SMTPConnectError,
    ConnectionError,
    socket.timeout,
)


def _scrub(text: str, config: SmtpConfig) -> str:
    if config.password:
        text = text.replace(config.password, "***")
    return text


def send_message(
    config: SmtpConfig,
    message: EmailMessage,
    recipients: Sequence[str],
    *,
    attempts: int = 3,
    backoff: float = 1.0,
    timeout: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Send `message` to `recipients`, retrying transient failures; refused addresses are named."""
    last: Exception | None = None
    for attempt in range(1, attempts + 1):
        try:
            _send_once(config, message, recipients, timeout)
            return
        except smtplib.SMTPRecipientsRefused as exc:
            refused = ", ".join(sorted(exc.recipients))
            raise DeliveryError(f"the SMTP server refused every recipient: {refused}") from None
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(
                f"SMTP login failed for {config.username!r} at {config.host}:{config.port} "
                f"({exc.smtp_code}): check the user and password in the SMTP URL"
            ) from None
        except smtplib.SMTPResponseException as exc:
            if 400 <= exc.smtp_code < 500 and attempt < attempts:
                last = exc
            else:
                detail = _scrub(_decode(exc.smtp_error), config)
                raise DeliveryError(
                    f"the SMTP server at {config.host}:{config.port} said {exc.smtp_code} {detail}"
                ) from None
        except (*TRANSIENT, OSError) as exc:
            last = exc
            if attempt == attempts:
                break
        sleep(backoff * 2 ** (attempt - 1))
    detail = _scrub(str(last) or type(last).__name__, config)
    raise DeliveryError(
        f"cannot send mail through {config.host}:{config.port} after {attempts} attempts: {detail}"
    )


def _decode(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _send_once(
    config: SmtpConfig, message: EmailMessage, recipients: Sequence[str], timeout: float
) -> None:
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if config.security == "tls":
        client = smtplib.SMTP_SSL(config.host, config.port, timeout=timeout, context=context)
    else:
        client = smtplib.SMTP(config.host, config.port, timeout=timeout)
    with client:
        client.ehlo()
        if config.security == "starttls":
            if client.has_extn("starttls"):
                client.starttls(context=context)
                client.ehlo()
            elif config.password and not _is_loopback(config.host):
                raise DeliveryError(
                    f"the SMTP server {config.host}:{config.port} does not offer STARTTLS: "
                    "refusing to send the password in clear (use smtps://)"
                )
        if config.username and config.password:
            client.login(config.username, config.password)
        refused = client.send_message(message, from_addr=config.sender, to_addrs=list(recipients))
    if refused:
        names = ", ".join(sorted(refused))
        raise DeliveryError(f"the SMTP server refused these recipients: {names}")


def write_eml(message: EmailMessage, path: Path) -> Path:
    """Write the message as an .eml file (for --dry-run), atomically."""
    import os
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".eml", dir=path.parent)
    with os.fdopen(fd, "wb") as handle:
        handle.write(message.as_bytes())
    os.replace(tmp, path)
    return path


def headers_of(message: EmailMessage) -> Mapping[str, str]:
    return {k: str(v) for k, v in message.items()}
