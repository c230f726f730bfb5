"""The CleverTap passcode and the SMTP password never leave the process except to their servers.

Every path a run can take with both secrets set (a good run against the emulator with delivery
over authenticated SMTP, --json, --dry-run .eml files, a wrong passcode, a failing service, an
unreachable and a refusing SMTP server, failure notices, `reportkit send`) is taken once; then
every byte it produced (stdout, stderr, every file under --out and --state-dir, the mails the SMTP
server received, the emulator's and the client's log lines) is searched for the secrets, plain,
URL-encoded and base64-encoded. The AUTH exchange on the wire is the one place they may be.
"""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from click.testing import CliRunner, Result

from reportkit.cli import cli
from reportkit.sources.emulator import start_emulator
from reportkit.sources.local import LocalEngine
from tests.conftest import AS_OF
from tests.smtp_server import Login, free_port, smtp_server

ACCOUNT = "ACC-secrets-1"
PASSCODE = "pc+Secret/Zq9=x&y%7e"
SMTP_USER = "reports@example.com"
SMTP_PASSWORD = "smtp P@ss:w/rd+%=Zx"
END = "2026-11-29"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def forms(secret: str) -> dict[str, str]:
    """The ways a secret could be written out by mistake."""
    return {
        "plain": secret,
        "url-encoded": quote(secret, safe=""),
        "form-encoded": quote_plus(secret),
        "base64": _b64(secret),
        "repr": repr(secret)[1:-1],
    }


BROKEN_PASSCODE = "pc-Two\nLines-Secret-Q7"  # a passcode file with a second line, say
ASCII_ONLY = "smtp-Pässwörd-€-9"  # smtplib sends AUTH as ASCII
NEEDLES = {
    **{f"passcode {k}": v for k, v in forms(PASSCODE).items()},
    **{f"two-line passcode {k}": v for k, v in forms(BROKEN_PASSCODE).items()},
    "two-line passcode's second line": "Lines-Secret-Q7",
    **{f"SMTP password {k}": v for k, v in forms(SMTP_PASSWORD).items()},
    **{f"non-ASCII SMTP password {k}": v for k, v in forms(ASCII_ONLY).items()},
    "AUTH PLAIN blob": _b64(f"\0{SMTP_USER}\0{SMTP_PASSWORD}"),
    "AUTH PLAIN blob with user": _b64(f"{SMTP_USER}\0{SMTP_USER}\0{SMTP_PASSWORD}"),
}


def smtp_url(port: int, password: str = SMTP_PASSWORD) -> str:
    return f"smtp://{quote(SMTP_USER, safe='')}:{quote(password, safe='')}@127.0.0.1:{port}"


@dataclass
class Evidence:
    """Everything the runs produced, and what each did."""

    results: dict[str, Result] = field(default_factory=dict)
    mails: list[bytes] = field(default_factory=list)
    logins: list[tuple[str, bool]] = field(default_factory=list)
    log_lines: str = ""
    files: dict[str, bytes] = field(default_factory=dict)

    def haystack(self) -> dict[str, bytes]:
        where = {f"file {name}": data for name, data in self.files.items()}
        for name, result in self.results.items():
            where[f"{name} stdout"] = result.stdout.encode()
            where[f"{name} stderr"] = result.stderr.encode()
            if result.exception is not None and not isinstance(result.exception, SystemExit):
                where[f"{name} exception"] = repr(result.exception).encode()
        for index, mail in enumerate(self.mails):
            where[f"mail {index}"] = mail
        where["log lines"] = self.log_lines.encode()
        return where


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("store")
    data = tmp / "events.jsonl"
    lines = [
        {
            "event_name": "Charged",
            "ts": 20261120120000 + i,
            "profile": {"identity": f"u{i % 7}"},
            "event_props": {"Amount": 10 * i, "Plan": ["free", "pro"][i % 2]},
        }
        for i in range(40)
    ]
    data.write_text("".join(json.dumps(line) + "\n" for line in lines))
    done = CliRunner().invoke(cli, ["import", str(data), "--db", str(tmp / "s.duckdb")])
    assert done.exit_code == 0, done.output
    return tmp / "s.duckdb"


def definition(folder: Path) -> Path:
    path = folder / "secrets.yaml"
    path.write_text(
        json.dumps(
            {
                "version": 1,
                "id": "secrets",
                "title": "Plans",
                "window": "last_30_days",
                "queries": [
                    {
                        "id": "plans",
                        "event": "Charged",
                        "groups": {"plan": {"property_type": "event_properties", "name": "Plan"}},
                    },
                    {"id": "orders", "event": "Charged", "kind": "count", "unique": True},
                ],
                "deliver": {
                    "email": {
                        "to": ["team@example.com"],
                        "subject": "{{ report.title }} from {{ report.source }}",
                        "attach": ["html", "md"],
                        "on_failure": ["oncall@example.com"],
                    }
                },
            }
        )
    )
    return path


@pytest.fixture(scope="module")
def logs() -> Iterator[io.StringIO]:
    """The emulator's request lines and the client's, as `reportkit emulate` would print them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    loggers = [logging.getLogger(n) for n in ("reportkit.emulator", "reportkit.clevertap")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.INFO)
    yield stream
    for lg, level in zip(loggers, levels, strict=True):
        lg.removeHandler(handler)
        lg.setLevel(level)


@pytest.fixture(scope="module")
def evidence(store: Path, logs: io.StringIO, tmp_path_factory: pytest.TempPathFactory) -> Evidence:
    tmp = tmp_path_factory.mktemp("secrets")
    report = definition(tmp)
    out, state = tmp / "out", tmp / "state"
    seen = Evidence()
    engine = LocalEngine(store, read_only=True)

    def run(
        name: str, emulator_url: str, *extra: str, smtp: str = "", passcode: str = PASSCODE
    ) -> Result:
        env = {
            "CLEVERTAP_BASE_URL": emulator_url,
            "CLEVERTAP_ACCOUNT_ID": ACCOUNT,
            "CLEVERTAP_PASSCODE": passcode,
            "CLEVERTAP_REGION": "",
            "CLEVERTAP_PASSCODE_FILE": "",
            "REPORTKIT_SMTP_URL": smtp,
        }
        args = ["run", str(report), "--source", "clevertap", "--as-of", AS_OF]
        args += ["--out", str(out), "--state-dir", str(state), "--format", "html,md"]
        args += ["--poll-interval", "0.01", "--no-cache", *extra]
        seen.results[name] = CliRunner().invoke(cli, args, env=env)
        return seen.results[name]

    login = Login(SMTP_USER, SMTP_PASSWORD)
    try:
        with smtp_server(login=login) as (handler, port):
            with start_emulator(
                engine, account_id=ACCOUNT, passcode=PASSCODE, partial_polls=1
            ) as emu:
                # the SMTP failures first: once the good run has sent the report, a rerun
                # skips it (already sent) and would not reach the SMTP server at all
                run("closed SMTP", emu.url, "--deliver", smtp=smtp_url(free_port()))
                run("wrong SMTP password", emu.url, "--deliver", smtp=smtp_url(port, "nope"))
                run(
                    "non-ASCII SMTP password", emu.url, "--deliver", smtp=smtp_url(port, ASCII_ONLY)
                )
                run("good run", emu.url, "--json", "--deliver", smtp=smtp_url(port))
                run("dry run", emu.url, "--deliver", "--dry-run", smtp=smtp_url(port))
                run("two-line passcode", emu.url, passcode=BROKEN_PASSCODE)
                seen.results["send"] = CliRunner().invoke(
                    cli,
                    ["send", str(out / "secrets" / END), "--reports", str(tmp)],
                    env={"REPORTKIT_SMTP_URL": smtp_url(port)},
                )
            with start_emulator(engine, account_id=ACCOUNT, passcode="another-one") as emu:
                run("wrong passcode", emu.url, "--deliver", smtp=smtp_url(port))
            with start_emulator(
                engine, account_id=ACCOUNT, passcode=PASSCODE, faults="fail200:1"
            ) as emu:
                run("failing service", emu.url, "--deliver", "--dry-run", smtp=smtp_url(port))
            seen.mails = [mail.data for mail in handler.received]
            seen.logins = list(login.attempts)
    finally:
        engine.close()
    seen.log_lines = logs.getvalue()
    for root in (out, state):
        for path in sorted(root.rglob("*")):
            if path.is_file():
                seen.files[str(path.relative_to(tmp))] = path.read_bytes()
    return seen


# ------------------------------------------------------------------------ the runs happened


def test_a_good_run_delivers_over_authenticated_smtp(evidence: Evidence) -> None:
    good = evidence.results["good run"]
    assert good.exit_code == 0, good.output
    assert json.loads(good.stdout)[0]["source"].startswith(f"clevertap:{ACCOUNT}@127.0.0.1:")
    assert any(b"To: team@example.com" in mail for mail in evidence.mails)
    assert (SMTP_USER, True) in evidence.logins
    assert "POST /1/counts/top.json 200" in evidence.log_lines


def test_every_failure_path_was_taken(evidence: Evidence) -> None:
    results = evidence.results
    assert results["dry run"].exit_code == 0
    assert f"out/outbox/secrets-{END}.eml" in results["dry run"].stdout
    closed = results["closed SMTP"]
    assert closed.exit_code == 1
    assert "delivery: email: cannot send mail through 127.0.0.1:" in closed.stderr
    assert "after 3 attempts" in closed.stderr
    wrong_smtp = results["wrong SMTP password"]
    assert wrong_smtp.exit_code == 1
    assert f"SMTP login failed for '{SMTP_USER}'" in wrong_smtp.stderr
    assert (SMTP_USER, False) in evidence.logins
    non_ascii = results["non-ASCII SMTP password"]
    assert non_ascii.exit_code == 1
    assert "the user or password holds characters other than ASCII" in non_ascii.stderr
    two_lines = results["two-line passcode"]
    assert two_lines.exit_code == 2
    assert two_lines.stderr == (
        "error: the CleverTap passcode in CLEVERTAP_PASSCODE holds a line break or control"
        " character: it must be one line\n"
    )
    assert results["send"].exit_code == 0, results["send"].output
    wrong = results["wrong passcode"]
    assert wrong.exit_code == 1
    assert "check the account id, passcode and region" in wrong.stderr
    assert "notice sent secrets to oncall@example.com" in wrong.stdout
    failing = results["failing service"]
    assert failing.exit_code == 1
    assert "Injected failure" in failing.stderr
    assert "secrets-failed.eml" in failing.stdout
    assert len(evidence.mails) == 3  # the good run, send, the wrong passcode's notice
    assert any(name.endswith("secrets-failed.eml") for name in evidence.files)


# --------------------------------------------------------------------------- no secret leaks


@pytest.mark.parametrize("needle", list(NEEDLES))
def test_no_secret_in_anything_a_run_leaves_behind(evidence: Evidence, needle: str) -> None:
    secret = NEEDLES[needle].encode()
    leaks = [where for where, data in evidence.haystack().items() if secret in data]
    assert leaks == []
