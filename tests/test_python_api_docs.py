"""docs/python-api.md's example runs as written: load, plan, validate against the data, run
and deliver over a real SMTP server, printing what the page says it prints."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.smtp_server import smtp_server

ROOT = Path(__file__).resolve().parent.parent
PAGE = (ROOT / "docs" / "python-api.md").read_text("utf-8")


def test_the_documented_example_runs_and_mails_the_report(demo_store: Path, tmp_path: Path) -> None:
    code, printed = re.findall(r"```(?:python)?\n(.*?)```", PAGE, flags=re.S)[:2]
    shutil.copytree(ROOT / "reports", tmp_path / "reports")
    (tmp_path / ".reportkit").mkdir()
    shutil.copy(demo_store, tmp_path / ".reportkit" / "demo.duckdb")  # ends 2026-11-29
    with smtp_server() as (handler, port):
        env = {**os.environ, "REPORTKIT_SMTP_URL": f"127.0.0.1:{port}"}
        env.pop("REPORTKIT_MAIL_FROM", None)
        done = subprocess.run(
            [sys.executable, "-c", code],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout == printed
        (mail,) = handler.received
    message = mail.message
    assert mail.mail_from == "reports@example.com"
    assert message["From"] == "Reports <reports@example.com>"
    assert sorted(mail.rcpt_tos) == ["cfo@example.com", "growth-team@example.com"]
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_filename().endswith(".pdf")
    assert attachment.get_content()[:5] == b"%PDF-"
