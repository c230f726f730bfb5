"""SIGTERM or Ctrl-C ends a `reportkit run` within moments even while its worker threads are
blocked reading from a CleverTap server that trickles or says nothing; the report published by
an earlier run stays as it was and nothing half-written is left."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from reportkit.cli import cli
from reportkit.sources.emulator import start_emulator
from reportkit.sources.local import LocalEngine
from tests.conftest import AS_OF
from tests.hostile.servers import StandIn, endless, hold, trickle
from tests.hostile.support import ACCOUNT, PASSCODE

ROOT = Path(__file__).resolve().parents[2]
REPORT = ROOT / "reports" / "weekly-ecommerce.yaml"

pytestmark = [pytest.mark.integration, pytest.mark.timeout(45)]


def silent(conn: object, server: StandIn) -> None:
    server.read_request(conn)  # type: ignore[arg-type]
    hold(conn, server)  # type: ignore[arg-type]


def trickling_headers(conn: object, server: StandIn) -> None:
    server.read_request(conn)  # type: ignore[arg-type]
    trickle(conn, server, endless(b"HTTP/1.1 200 OK\r\n", b"X-A: 1\r\n"), 0.2)  # type: ignore[arg-type]


def trickling_body(conn: object, server: StandIn) -> None:
    server.read_request(conn)  # type: ignore[arg-type]
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 9999999\r\n\r\n{"
    trickle(conn, server, endless(head, b" "), 0.2)  # type: ignore[arg-type]


SERVERS: dict[str, Callable[[object, StandIn], None]] = {
    "silent": silent,
    "trickling headers": trickling_headers,
    "trickling body": trickling_body,
}


def args(out: Path, state: Path, formats: str = "md") -> list[str]:
    return [
        "run",
        str(REPORT),
        "--source",
        "clevertap",
        "--as-of",
        AS_OF,
        "--format",
        formats,
        "--out",
        str(out),
        "--state-dir",
        str(state),
        "--query-timeout",
        "600",
        "--no-cache",
        "-q",
    ]


def env(url: str) -> dict[str, str]:
    return {
        "CLEVERTAP_ACCOUNT_ID": ACCOUNT,
        "CLEVERTAP_PASSCODE": PASSCODE,
        "CLEVERTAP_BASE_URL": url,
    }


def digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def previous(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An out folder holding the report of an earlier, successful run over the emulator."""
    out = tmp_path_factory.mktemp("interrupted") / "out"
    engine = LocalEngine(demo_store, read_only=True)
    with start_emulator(engine, partial_polls=0) as emu:  # answered at once
        # with a PDF, which the definition's deliver.email attaches (see the SMTP case below)
        result = CliRunner().invoke(
            cli, args(out, out.parent / "state", "md,pdf"), env=env(emu.url)
        )
    engine.close()
    assert result.exit_code == 0, result.output
    return out


CASES = [
    *[(kind, signal.SIGTERM) for kind in SERVERS],
    ("silent", signal.SIGINT),  # Ctrl-C
]


@pytest.mark.parametrize(("kind", "signum"), CASES, ids=[f"{k}-{s.name}" for k, s in CASES])
def test_a_signal_ends_a_run_blocked_in_reads(
    previous: Path, tmp_path: Path, kind: str, signum: signal.Signals
) -> None:
    out = tmp_path / "out"
    shutil.copytree(previous, out)
    before = digest(out)
    with StandIn(SERVERS[kind]) as server:  # type: ignore[arg-type]
        proc = subprocess.Popen(
            [sys.executable, "-m", "reportkit", *args(out, tmp_path / "state")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **env(server.url), "PYTHONPATH": str(ROOT)},
        )
        try:
            while server.connections < 3 and proc.poll() is None:  # three queries in flight
                time.sleep(0.02)
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.3)  # the workers are now inside their reads
            sent = time.monotonic()
            proc.send_signal(signum)
            _, stderr = proc.communicate(timeout=20)  # a bound, not a measurement
            took = time.monotonic() - sent
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    print(f"\n{signum.name} against a {kind} server: exit {proc.returncode} after {took:.2f} s")
    assert proc.returncode == 1, stderr
    assert stderr.strip().splitlines()[-1] == f"error: interrupted ({signum.name})" or (
        signum == signal.SIGINT and stderr.strip().splitlines()[-1] == "error: interrupted"
    )
    assert "Traceback" not in stderr and PASSCODE not in stderr
    assert digest(out) == before  # the earlier report, whole; nothing new, nothing half-written


def test_sigterm_ends_a_send_held_by_a_trickling_smtp_greeting(
    previous: Path, tmp_path: Path
) -> None:
    """Delivery waits in the main thread: the signal ends it there, before its session deadline."""
    from tests.hostile.test_slow_smtp import SLOW_SMTP

    folder = next((previous / "weekly-ecommerce").iterdir())
    state = tmp_path / "state"
    with StandIn(SLOW_SMTP["greeting, one endless line"]) as server:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "reportkit",
                "send",
                str(folder),
                "--reports",
                str(REPORT.parent),
                "--state-dir",
                str(state),
                "--smtp-url",
                f"127.0.0.1:{server.port}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        try:
            while server.connections < 1 and proc.poll() is None:
                time.sleep(0.02)
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.3)  # inside the greeting
            sent = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            _, stderr = proc.communicate(timeout=20)  # a bound, not a measurement
            took = time.monotonic() - sent
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    print(f"\nSIGTERM during a trickling SMTP greeting: exit {proc.returncode} after {took:.2f} s")
    assert proc.returncode == 1, stderr
    assert stderr.strip().splitlines()[-1] == "error: interrupted (SIGTERM)"
    assert not (state / "sent").exists()  # nothing recorded as sent
