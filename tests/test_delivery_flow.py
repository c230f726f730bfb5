"""The documented flow end to end: validate -> run --deliver to a real SMTP server -> rerun."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reportkit.cli import cli
from tests.conftest import AS_OF
from tests.smtp_server import smtp_server

REPORTS = Path(__file__).resolve().parent.parent / "reports"
WEEKLY = REPORTS / "weekly-ecommerce.yaml"


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env={"REPORTKIT_SMTP_URL": ""})


def run_weekly(
    demo_store: Path, tmp: Path, port: int, *extra: str, definition: Path = WEEKLY
) -> Result:
    return run(
        "run",
        str(definition),
        "--as-of",
        AS_OF,
        "--source",
        f"local:{demo_store}",
        "--out",
        str(tmp / "out"),
        "--state-dir",
        str(tmp / "state"),
        "--format",
        "pdf,md",
        "--deliver",
        "--smtp-url",
        f"127.0.0.1:{port}",
        *extra,
    )


def test_validate_run_deliver_then_a_cached_rerun_sends_nothing_new(
    demo_store: Path, tmp_path: Path
) -> None:
    assert run("validate", str(REPORTS)).exit_code == 0
    with smtp_server() as (handler, port):
        first = run_weekly(demo_store, tmp_path, port)
        assert first.exit_code == 0, first.output
        assert (
            "sent    weekly-ecommerce to growth-team@example.com, cfo@example.com" in first.stdout
        )
        (mail,) = handler.received
        assert mail.rcpt_tos == ["growth-team@example.com", "cfo@example.com"]
        message = mail.message
        folder = tmp_path / "out" / "weekly-ecommerce" / "2026-11-29"
        orders = json.loads((folder / "results.json").read_text())["queries"]["orders"]
        assert message["Subject"].startswith(
            f"Weekly e-commerce, 23\u201329 Nov 2026: {orders['count']:,} orders ("
        )
        assert message["To"] == "growth-team@example.com"
        assert message["Cc"] == "cfo@example.com"
        (attachment,) = list(message.iter_attachments())
        assert attachment.get_filename() == "report.pdf"
        assert attachment.get_content() == (folder / "report.pdf").read_bytes()

        second = run_weekly(demo_store, tmp_path, port, "--json")
        assert second.exit_code == 0, second.output
        manifest = json.loads(second.stdout)[0]
        assert set(manifest["cached"]) == {
            q for q in json.loads((folder / "results.json").read_text())["queries"]
        }
        assert len(handler.received) == 1  # send_if: changed -> the same numbers are not sent again


def test_send_if_changed_sends_again_when_forced_fresh_numbers_differ(
    demo_store: Path, tmp_path: Path
) -> None:
    definition = tmp_path / "weekly-ecommerce.yaml"
    definition.write_text(WEEKLY.read_text())
    with smtp_server() as (handler, port):
        assert run_weekly(demo_store, tmp_path, port, definition=definition).exit_code == 0
        other = run(
            "run",
            str(definition),
            "--as-of",
            "2026-11-23",
            "--source",
            f"local:{demo_store}",
            "--out",
            str(tmp_path / "out"),
            "--state-dir",
            str(tmp_path / "state"),
            "--format",
            "pdf",
            "--deliver",
            "--smtp-url",
            f"127.0.0.1:{port}",
        )
        assert other.exit_code == 0, other.output
        assert len(handler.received) == 2  # another week, other numbers


def test_a_failed_run_sends_a_notice_not_the_report(demo_store: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "version: 1\ntitle: Broken\nqueries:\n  - {id: ghost, event: No Such Event, kind: count}\n"
        "deliver:\n  email:\n    to: [boss@example.com]\n    on_failure: [oncall@example.com]\n"
    )
    with smtp_server() as (handler, port):
        result = run_weekly(demo_store, tmp_path, port, definition=broken)
    assert result.exit_code == 1
    (notice,) = handler.received
    assert notice.rcpt_tos == ["oncall@example.com"]
    assert notice.message["Subject"] == "reportkit: Broken failed"
    assert "Invalid event : No Such Event" in notice.message.get_body().get_content()


def test_a_refused_recipient_fails_the_run_with_its_address(
    demo_store: Path, tmp_path: Path
) -> None:
    definition = tmp_path / "r.yaml"
    definition.write_text(
        "version: 1\ntitle: R\nqueries:\n  - {id: orders, event: Charged, kind: count}\n"
        "deliver:\n  email:\n    to: [refused@example.com]\n    attach: [md]\n"
    )
    with smtp_server() as (_, port):
        result = run_weekly(demo_store, tmp_path, port, definition=definition)
    assert result.exit_code == 1
    assert (
        "delivery: email: the SMTP server refused every recipient: refused@example.com"
        in result.stderr
    )


def test_deliver_without_an_smtp_server_is_exit_2_before_any_query(tmp_path: Path) -> None:
    result = run(
        "run",
        str(WEEKLY),
        "--out",
        str(tmp_path / "o"),
        "--state-dir",
        str(tmp_path / "s"),
        "--deliver",
    )
    assert result.exit_code == 2
    assert "set REPORTKIT_SMTP_URL or pass --smtp-url" in result.stderr
    assert not (tmp_path / "s").exists()


def test_a_bad_subject_template_names_the_key(demo_store: Path, tmp_path: Path) -> None:
    definition = tmp_path / "r.yaml"
    definition.write_text(
        "version: 1\ntitle: R\nqueries:\n  - {id: orders, event: Charged, kind: count}\n"
        "deliver:\n  email:\n    to: [a@example.com]\n    subject: '{{ queries.ordrs.total }}'\n    attach: [md]\n"
    )
    with smtp_server() as (handler, port):
        result = run_weekly(demo_store, tmp_path, port, definition=definition)
    assert result.exit_code == 1
    assert "deliver.email.subject:" in result.stderr and "ordrs" in result.stderr
    assert handler.received == []


@pytest.mark.parametrize("value", ["Gold\nBcc: victim@example.com", "x\r\nX-Evil: 1"])
def test_a_value_with_a_line_break_cannot_inject_headers(
    demo_store: Path, tmp_path: Path, value: str
) -> None:
    definition = tmp_path / "r.yaml"
    definition.write_text(
        "version: 1\ntitle: R\nqueries:\n  - {id: orders, event: Charged, kind: count}\n"
        "deliver:\n  email:\n    to: [a@example.com]\n    attach: [md]\n"
        f"    subject: {json.dumps('{{ report.title }} ' + value)}\n"
    )
    with smtp_server() as (handler, port):
        result = run_weekly(demo_store, tmp_path, port, definition=definition)
    # refused when the definition is read, at its place, before any query or mail
    assert result.exit_code == 2
    assert f"{definition}:9:5: deliver.email.subject: holds U+000" in result.stderr
    assert "a line break or control character" in result.stderr
    assert handler.received == []


def test_send_writes_eml_for_a_built_report(demo_store: Path, tmp_path: Path) -> None:
    with smtp_server() as (_, port):
        assert run_weekly(demo_store, tmp_path, port).exit_code == 0
    folder = tmp_path / "out" / "weekly-ecommerce" / "2026-11-29"
    result = run(
        "send",
        str(folder),
        "--reports",
        str(REPORTS),
        "--dry-run",
        "--outbox",
        str(tmp_path / "outbox"),
        "--state-dir",
        str(tmp_path / "fresh-state"),
    )
    assert result.exit_code == 0, result.output
    (eml,) = (tmp_path / "outbox").glob("*.eml")
    assert b"Subject: Weekly e-commerce" in eml.read_bytes()
