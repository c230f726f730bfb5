"""Email delivery over SMTP: build the message from a published report, send it, or write .eml.

SMTP settings come from a URL: `smtp://user:pass@host:587` (STARTTLS when the server offers it),
`smtps://user:pass@host:465` (TLS from the start) or `user:pass@host:port` / `host:port` without a
scheme, which is read as `smtp://` (default port 25). One rule for every form: a password goes
only over TLS, or to a loopback host. The password never appears in a message, log or error.

Every SMTP session (connect, greeting, login, the message, QUIT) runs inside one
`reportkit.net.Operation`: `session_timeout` bounds it as a whole, however slowly the server
answers, and an expired session is not tried again.
"""

from __future__ import annotations

import base64
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
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote, unquote, urlsplit

from reportkit.deliver.record import Delivery as Delivery  # it lived here before channels
from reportkit.deliver.record import has_results as has_results
from reportkit.deliver.record import numbers_digest, record_sent, skip_reason
from reportkit.errors import DeliveryError, InvalidInput
from reportkit.language.model import EmailSpec
from reportkit.language.windows import DateRange
from reportkit.render.labels import formatting_locale
from reportkit.render.words import gettext
from reportkit.results import ReportResult
from reportkit.text import inert_text

if TYPE_CHECKING:
    from reportkit.net import Operation

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
        text = "plain://" + text  # the same rule as smtp://, on port 25 by default
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
        "plain": "starttls",
    }[scheme]  # type: ignore[assignment]
    default_port = 25 if scheme == "plain" else {"starttls": 587, "tls": 465, "none": 25}[security]
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
    """A header value on one line; anything str.splitlines() breaks on (\\x0b, \\x1c, \\x85,
    U+2028 ...) counts as a line break, as it does for Python's mail headers."""
    if len((value + ".").splitlines()) > 1:
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
    """`text` without the password, plain or as the URL, AUTH PLAIN or AUTH LOGIN write it."""
    password = config.password
    if not password:
        return text
    user = config.username or ""
    forms = {
        password,
        quote(password, safe=""),
        _b64(password),
        _b64(f"\0{user}\0{password}"),
        _b64(f"{user}\0{user}\0{password}"),
    }
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, "***")
    return text


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def send_message(
    config: SmtpConfig,
    message: EmailMessage,
    recipients: Sequence[str],
    *,
    attempts: int = 3,
    backoff: float = 1.0,
    timeout: float = 30.0,
    session_timeout: float = 300.0,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Send `message` to `recipients`, retrying transient failures; refused addresses are named.

    `timeout` bounds each wait for the server, `session_timeout` a whole attempt (a greeting or
    an answer that trickles in byte by byte ends there, and is not tried again)."""
    from reportkit.net import Operation

    last: Exception | None = None
    for attempt in range(1, attempts + 1):
        operation = Operation(session_timeout, what=f"SMTP {config.host}:{config.port}")
        try:
            with operation:
                try:
                    _send_once(config, message, recipients, timeout, operation)
                except (smtplib.SMTPException, OSError):
                    # a socket shut at the deadline reads as a disconnection, or as a
                    # half-received reply: either way the session ran out of time
                    if operation.ended:
                        raise _SessionExpired() from None
                    raise
                if operation.cut:
                    # the deadline shut the socket mid-reply, and smtplib read what it had got
                    # (a "250" cut from "250-...") as the answer: nothing says it was accepted
                    raise _SessionExpired()
            return
        except _SessionExpired:
            raise DeliveryError(
                f"the SMTP server at {config.host}:{config.port} did not complete the "
                f"session within {session_timeout:g} s: giving up on this message"
            ) from None
        except smtplib.SMTPRecipientsRefused as exc:
            refused = ", ".join(sorted(exc.recipients))
            raise DeliveryError(f"the SMTP server refused every recipient: {refused}") from None
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(
                f"SMTP login failed for {config.username!r} at {config.host}:{config.port} "
                f"({exc.smtp_code}): check the user and password in the SMTP URL"
            ) from None
        except UnicodeEncodeError:
            # smtplib sends AUTH as ASCII; its error would name the character, and it is no
            # OSError, so without this it would end the run with a traceback
            raise DeliveryError(
                f"SMTP login for {config.username!r} at {config.host}:{config.port} is not "
                "possible: the user or password holds characters other than ASCII, which "
                "Python's SMTP client cannot send"
            ) from None
        except smtplib.SMTPResponseException as exc:
            if 400 <= exc.smtp_code < 500 and attempt < attempts:
                last = exc
            else:
                # a multi-line reply on one line: one problem, one line
                detail = " ".join(_scrub(_decode(exc.smtp_error), config).split())
                raise DeliveryError(
                    f"the SMTP server at {config.host}:{config.port} said {exc.smtp_code} {detail}"
                ) from None
        except (*TRANSIENT, OSError) as exc:
            last = exc
            if attempt == attempts:
                break
        sleep(backoff * 2 ** (attempt - 1))
    detail = " ".join(_scrub(str(last) or type(last).__name__, config).split())
    raise DeliveryError(
        f"cannot send mail through {config.host}:{config.port} after {attempts} attempts: {detail}"
    )


class _SessionExpired(Exception):
    """The session's Operation ended while smtplib waited."""


def _decode(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


class _WatchedSMTP(smtplib.SMTP):
    """smtplib's client, its socket watched by an Operation from the moment it connects."""

    operation: Operation | None = None

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock: socket.socket = super()._get_socket(host, port, timeout)  # type: ignore[misc]
        if self.operation is not None:
            self.operation.watch(sock)  # before any TLS handshake: that can trickle too
        return sock


class _WatchedSMTPS(smtplib.SMTP_SSL, _WatchedSMTP):
    """SMTP_SSL wraps the socket _WatchedSMTP made (and watched) in TLS."""


def _send_once(
    config: SmtpConfig,
    message: EmailMessage,
    recipients: Sequence[str],
    timeout: float,
    operation: Operation,
) -> None:
    context = ssl.create_default_context()
    client: _WatchedSMTP
    if config.security == "tls":
        client = _WatchedSMTPS(timeout=operation.timeout(timeout), context=context)
    else:
        client = _WatchedSMTP(timeout=operation.timeout(timeout))
    client.operation = operation
    try:
        code, greeting = client.connect(config.host, config.port)
        if code != 220:
            raise smtplib.SMTPConnectError(code, greeting)
        with client:
            client.ehlo()
            encrypted = config.security == "tls"
            if config.security == "starttls" and client.has_extn("starttls"):
                client.starttls(context=context)
                client.ehlo()
                encrypted = True
            if config.password and not encrypted and not _is_loopback(config.host):
                # one rule for every form of the URL: a password goes only over TLS, or to
                # this machine
                raise DeliveryError(
                    f"the SMTP server {config.host}:{config.port} does not offer STARTTLS: "
                    "refusing to send the password in clear (use smtps://)"
                )
            if config.username and config.password:
                client.login(config.username, config.password)
            refused = client.send_message(
                message, from_addr=config.sender, to_addrs=list(recipients)
            )
    finally:
        client.close()
    if refused:
        names = ", ".join(sorted(refused))
        raise DeliveryError(f"the SMTP server refused these recipients: {names}")


def write_eml(message: EmailMessage, path: Path) -> Path:
    """Write the message as an .eml file (for --dry-run), atomically; never through a symlinked
    outbox folder (a link in --out would send the file elsewhere)."""
    from reportkit.publish.files import write_atomic

    if path.parent.is_symlink():
        raise DeliveryError(f"refusing to write {path.name} through the symlink {path.parent}")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, message.as_bytes())
    return path


def headers_of(message: EmailMessage) -> Mapping[str, str]:
    return {k: str(v) for k, v in message.items()}


# --------------------------------------------------------------------------- reports by email


def email_context(result: ReportResult) -> dict[str, Any]:
    """What a subject, a body or a check can use: report, window, queries by id (see
    `reportkit.results.context`), and `checks`, the outcomes of the report's checks."""
    from reportkit.render import labels
    from reportkit.results.context import report_span, text_context

    def label(value: str, row_type: str) -> str:
        return labels.display_text(labels.value_label(value, row_type, result.timezone))

    context = text_context(result, labels.format_window_short(report_span(result)), label)
    context["checks"] = result.checks
    return context


def render_text(template: str, context: Mapping[str, Any], what: str) -> str:
    """Render a subject or body template from a definition; errors name the key."""
    import jinja2

    from reportkit.render.environment import text_environment
    from reportkit.render.sandbox import render_limited

    try:
        env = text_environment(one_line=what == "subject")
        return render_limited(env, template, context)
    except jinja2.TemplateError as exc:
        message = " ".join(str(exc).split())
        raise DeliveryError(f"deliver.email.{what}: {message}") from None


def _eml_name(report_id: str, suffix: str) -> str:
    """A file name for the outbox: the id comes from results.json, which anyone may edit."""
    from reportkit.publish.folders import safe_id

    return f"{safe_id(report_id)}-{safe_id(suffix)}.eml"


def _inert_line(text: str) -> str:
    """Text from a definition or the data on one line, without control characters (an ESC in
    a mail read in a terminal is a command to the terminal)."""
    return " ".join(inert_text(text).split())


def _default_body(result: ReportResult, attached: Sequence[str]) -> str:
    from reportkit.render.labels import format_window_short

    windows = [q.window for q in result.queries]
    span = (
        DateRange(min(w.start for w in windows), max(w.end for w in windows)) if windows else None
    )
    lines = [f"{_inert_line(result.title)}, {format_window_short(span)}.", ""]
    if attached:
        lines.append(
            gettext("The report is attached (%(files)s).") % {"files": ", ".join(attached)}
        )
    if result.demo:
        lines.append(gettext("Built from reportkit's demo data, not real analytics."))
    source = _inert_line(result.source)
    generated = gettext("Generated by reportkit %(version)s from %(source)s.")
    lines += ["", generated % {"version": result.reportkit_version, "source": source}]
    return "\n".join(lines) + "\n"


def compose_report_email(
    folder: Path, spec: EmailSpec, *, sender: str
) -> tuple[EmailMessage, ReportResult]:
    """The email for a published report folder, as the definition's deliver.email asks."""
    from reportkit.publish.folders import load_results

    result = load_results(folder / "results.json")
    with formatting_locale(spec.locale or result.locale):
        context = email_context(result)
        subject = render_text(spec.subject, context, "subject")
        body_text = (
            render_text(spec.body, context, "body")
            if spec.body and spec.body_format != "md"
            else None
        )
        attachments = [folder / f"report.{kind}" for kind in spec.attach]
        if body_text is None and spec.body_format != "md":
            body_text = _default_body(result, [p.name for p in attachments])
        if result.demo:
            subject = f"[{gettext('demo data')}] {subject}"
    missing = [p.name for p in attachments if not p.is_file()]
    if missing:
        raise DeliveryError(
            f"{folder}: cannot attach {', '.join(missing)}: the run did not write that format"
        )
    html_body = None
    if spec.body_format == "md":
        body = (folder / "report.md").read_text(encoding="utf-8")
    else:
        body = body_text or ""
        if spec.body_format == "html":
            html_body = (folder / "report.html").read_text(encoding="utf-8")
    message = build_message(
        spec,
        sender=sender,
        subject=subject,
        body=body,
        html_body=html_body,
        attachments=attachments,
    )
    return message, result


def deliver_folder(
    folder: Path,
    spec: EmailSpec,
    *,
    config: SmtpConfig | None,
    state_dir: Path,
    outbox: Path,
    dry_run: bool = False,
    sender: str | None = None,
) -> Delivery:
    """Send (or with `dry_run` write as .eml) the report in `folder`, honouring `send_if`."""
    from_addr = sender or (config.sender if config else "reportkit@localhost")
    message, result = compose_report_email(folder, spec, sender=from_addr)
    recipients = tuple(all_recipients(spec))
    digest = numbers_digest(result)
    reason = skip_reason(
        spec.send_if,
        result,
        state_dir=state_dir,
        channel="email",
        folder=folder,
        digest=digest,
        dry_run=dry_run,
    )
    if reason is not None:
        return Delivery(result.report_id, "skipped", recipients, reason)
    if dry_run:
        path = write_eml(message, outbox / _eml_name(result.report_id, folder.name))
        return Delivery(result.report_id, "written", recipients, str(path))
    if config is None:
        raise InvalidInput("no SMTP server: set REPORTKIT_SMTP_URL or pass --smtp-url")
    send_message(config, message, recipients)
    record_sent(state_dir, result.report_id, "email", digest=digest, folder=folder)
    return Delivery(result.report_id, "sent", recipients)


def send_failure_notice(
    report_id: str,
    title: str,
    addresses: Sequence[str],
    errors: Sequence[str],
    *,
    config: SmtpConfig | None,
    outbox: Path,
    dry_run: bool = False,
    sender: str | None = None,
) -> Delivery:
    """A short notice that a report's run failed, with the (already scrubbed) errors."""
    message = EmailMessage()
    message["From"] = _one_line(
        sender or (config.sender if config else "reportkit@localhost"), "sender"
    )
    message["To"] = ", ".join(_one_line(a, "address") for a in addresses)
    message["Subject"] = _one_line(f"reportkit: {_inert_line(title)} failed", "subject")
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="reportkit.local")
    lines = [f"The report {_inert_line(title)!r} ({report_id}) could not be built:", ""]
    lines += [f"- {_inert_line(error)}" for error in errors]
    lines += ["", "Nothing else was sent for it. Re-run it once the cause is fixed."]
    message.set_content("\n".join(lines) + "\n")
    if dry_run:
        path = write_eml(message, outbox / _eml_name(report_id, "failed"))
        return Delivery(report_id, "notice written", tuple(addresses), str(path))
    if config is None:
        raise InvalidInput("no SMTP server: set REPORTKIT_SMTP_URL or pass --smtp-url")
    send_message(config, message, list(addresses))
    return Delivery(report_id, "notice sent", tuple(addresses))
