"""Sending mail through a real SMTP server on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

from reportkit.deliver.email import build_message, parse_smtp_url, send_message, write_eml
from reportkit.errors import DeliveryError, InvalidInput
from reportkit.language.model import EmailSpec
from tests.smtp_server import smtp_server

SECRET = "s3cret-PASSWORD-xyz"


def test_parse_smtp_urls() -> None:
    c = parse_smtp_url(f"smtp://ana%40corp.com:{SECRET}@mail.corp.com")
    assert (c.host, c.port, c.security, c.username, c.password) == (
        "mail.corp.com",
        587,
        "starttls",
        "ana@corp.com",
        SECRET,
    )
    assert c.sender == "ana@corp.com"
    assert SECRET not in repr(c) and SECRET not in c.describe()
    assert parse_smtp_url("smtps://mail.corp.com").port == 465
    plain = parse_smtp_url("127.0.0.1:2525")
    # no scheme reads as smtp:// (STARTTLS when offered, a password only over TLS or loopback)
    assert (plain.host, plain.port, plain.security) == ("127.0.0.1", 2525, "starttls")
    assert parse_smtp_url("u:p@mail.corp.com").port == 25


@pytest.mark.parametrize("url", ["ftp://x", f"smtp://u:{SECRET}@host:notaport", "://"])
def test_a_bad_smtp_url_is_invalid_input_without_the_password(url: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_smtp_url(url)
    assert SECRET not in str(info.value)


def make(tmp_path: Path, subject: str = "Weekly report") -> tuple[EmailSpec, object, Path]:
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(b"%PDF-1.7 fake but exact bytes \x00\x01\x02")
    spec = EmailSpec(to=("ana@example.com",), cc=("bo@example.com",), bcc=("cy@example.com",))
    message = build_message(
        spec, sender="rk@example.com", subject=subject, body="Hello", attachments=[pdf]
    )
    return spec, message, pdf


def test_a_message_arrives_with_headers_and_the_exact_attachment(tmp_path: Path) -> None:
    _spec, message, pdf = make(tmp_path)
    with smtp_server() as (handler, port):
        send_message(
            parse_smtp_url(f"127.0.0.1:{port}"),
            message,
            ["ana@example.com", "bo@example.com", "cy@example.com"],
        )  # type: ignore[arg-type]
    (got,) = handler.received
    assert got.rcpt_tos == ["ana@example.com", "bo@example.com", "cy@example.com"]
    mail = got.message
    assert mail["Subject"] == "Weekly report"
    assert mail["To"] == "ana@example.com"
    assert mail["Cc"] == "bo@example.com"
    assert mail["Bcc"] is None  # bcc recipients are in the envelope only
    (attachment,) = list(mail.iter_attachments())
    assert attachment.get_filename() == "report.pdf"
    assert attachment.get_content() == pdf.read_bytes()


def test_transient_failures_are_retried(tmp_path: Path) -> None:
    _, message, _ = make(tmp_path)
    waits: list[float] = []
    with smtp_server(fail_data=2) as (handler, port):
        send_message(
            parse_smtp_url(f"127.0.0.1:{port}"), message, ["ana@example.com"], sleep=waits.append
        )  # type: ignore[arg-type]
    assert handler.attempts == 3
    assert len(handler.received) == 1
    assert waits == [1.0, 2.0]


def test_giving_up_after_the_last_attempt_says_so(tmp_path: Path) -> None:
    _, message, _ = make(tmp_path)
    with smtp_server(fail_data=5) as (_, port), pytest.raises(DeliveryError, match="451"):
        send_message(
            parse_smtp_url(f"127.0.0.1:{port}"),
            message,
            ["a@example.com"],
            attempts=2,
            sleep=lambda _: None,
        )  # type: ignore[arg-type]


def test_a_refused_recipient_is_named(tmp_path: Path) -> None:
    _, message, _ = make(tmp_path)
    with smtp_server() as (handler, port), pytest.raises(DeliveryError) as info:
        send_message(
            parse_smtp_url(f"127.0.0.1:{port}"), message, ["ana@example.com", "refused@example.com"]
        )  # type: ignore[arg-type]
    assert str(info.value) == "the SMTP server refused these recipients: refused@example.com"
    assert [r.rcpt_tos for r in handler.received] == [["ana@example.com"]]
    with smtp_server() as (_handler, port), pytest.raises(DeliveryError) as info:
        send_message(parse_smtp_url(f"127.0.0.1:{port}"), message, ["refused@example.com"])  # type: ignore[arg-type]
    assert "refused every recipient: refused@example.com" in str(info.value)


def test_no_server_is_a_clear_error(tmp_path: Path) -> None:
    from tests.smtp_server import free_port

    _, message, _ = make(tmp_path)
    config = parse_smtp_url(f"smtp://u:{SECRET}@127.0.0.1:{free_port()}")
    with pytest.raises(DeliveryError) as info:
        send_message(config, message, ["a@example.com"], attempts=2, sleep=lambda _: None)  # type: ignore[arg-type]
    assert "after 2 attempts" in str(info.value)
    assert SECRET not in str(info.value)


@pytest.mark.parametrize("subject", ["Hi\nBcc: victim@example.com", "Hi\r\nX-Evil: 1"])
def test_a_line_break_in_the_subject_is_refused(tmp_path: Path, subject: str) -> None:
    with pytest.raises(DeliveryError, match="line break"):
        make(tmp_path, subject)


def test_dry_run_writes_the_eml_atomically(tmp_path: Path) -> None:
    from email import message_from_bytes, policy

    _, message, pdf = make(tmp_path)
    path = write_eml(message, tmp_path / "out" / "email.eml")  # type: ignore[arg-type]
    parsed = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert parsed["Subject"] == "Weekly report"
    (attachment,) = list(parsed.iter_attachments())  # type: ignore[attr-defined]
    assert attachment.get_content() == pdf.read_bytes()
    assert not list((tmp_path / "out").glob(".tmp-*"))
