"""`reportkit emulate` as a user runs it: listens, answers, logs a line per request, stops on Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import requests

from reportkit.plan import Request
from reportkit.sources.clevertap import AccountLimiter, clevertap_source_from_env

ROOT = Path(__file__).resolve().parent.parent


def test_emulate_serves_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    demo = pytest.importorskip("reportkit.sources.demo")  # lands with the local engine
    db = tmp_path / "demo.duckdb"
    demo.build_demo(db, events=2_000, end=date(2026, 11, 30), days=30)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reportkit",
            "emulate",
            "--db",
            str(db),
            "--port",
            "0",
            "--passcode",
            "pw-cli-secret",
            "--partial-polls",
            "2",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("export CLEVERTAP_BASE_URL=http://127.0.0.1:")
        url = line.strip().split("=", 1)[1]
        source = clevertap_source_from_env(
            {
                "CLEVERTAP_ACCOUNT_ID": "dev",
                "CLEVERTAP_PASSCODE": "pw-cli-secret",
                "CLEVERTAP_BASE_URL": url,
            },
            poll_interval=0.01,
            limiter=AccountLimiter(3),
        )
        body = {"event_name": "Charged", "from": 20261101, "to": 20261130}
        answer = source.execute(Request("/1/counts/events.json", body))
        assert answer["status"] == "success" and answer["count"] > 0
        source.close()
        headers = {"X-CleverTap-Account-Id": "dev", "X-CleverTap-Passcode": "pw-cli-secret"}
        response = requests.get(url + "/1/counts/events.json", headers=headers, timeout=5)
        assert response.status_code == 405
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=10)
    assert process.returncode == 0
    lines = [x for x in err.splitlines() if "/1/counts/events.json" in x]
    assert len(lines) == 4  # POST, two polls, the 405
    assert "partial req_id=" in lines[0]
    assert "emulator stopped" in err
    assert "pw-cli-secret" not in err


def test_emulate_rejects_a_bad_fault_spec(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from reportkit.cli import cli

    result = CliRunner().invoke(cli, ["emulate", "--db", str(tmp_path / "x"), "--faults", "boom:1"])
    assert result.exit_code == 2
    assert "unknown fault 'boom'" in result.output
