"""`reportkit run --source clevertap` over real HTTP against the emulator on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reportkit.cli import cli
from reportkit.sources.emulator import Emulator, start_emulator
from reportkit.sources.local import LocalEngine
from tests.conftest import AS_OF

REPORTS = Path(__file__).resolve().parent.parent / "reports"
ACCOUNT, PASSCODE = "TEST-ACC-1", "pc-Secret-99"


@pytest.fixture(scope="module")
def engine(demo_store: Path) -> Iterator[LocalEngine]:
    local = LocalEngine(demo_store, read_only=True)
    yield local
    local.close()


def env_for(emu: Emulator) -> dict[str, str]:
    return {
        "CLEVERTAP_BASE_URL": emu.url,
        "CLEVERTAP_ACCOUNT_ID": ACCOUNT,
        "CLEVERTAP_PASSCODE": PASSCODE,
        "CLEVERTAP_REGION": "",
        "CLEVERTAP_PASSCODE_FILE": "",
    }


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=env)


def queries(folder: Path) -> dict[str, object]:
    return json.loads((folder / "results.json").read_text())["queries"]  # type: ignore[no-any-return]


def test_results_equal_the_local_sources_with_partial_polls(
    engine: LocalEngine, demo_store: Path, tmp_path: Path
) -> None:
    common = ["--as-of", AS_OF, "--format", "md", "--no-cache", "--state-dir", str(tmp_path / "s")]
    local = run(
        {},
        "run",
        str(REPORTS),
        "--source",
        f"local:{demo_store}",
        "--out",
        str(tmp_path / "local"),
        *common,
    )
    assert local.exit_code == 0, local.output
    with start_emulator(
        engine, account_id=ACCOUNT, passcode=PASSCODE, partial_polls=2, latency=0.05
    ) as emu:
        remote = run(
            env_for(emu),
            "run",
            str(REPORTS),
            "--source",
            "clevertap",
            "--poll-interval",
            "0.01",
            "--out",
            str(tmp_path / "remote"),
            *common,
        )
        stats = emu.stats
    assert remote.exit_code == 0, remote.output
    for report in ("weekly-ecommerce", "charged-breakdown"):
        assert queries(tmp_path / "remote" / report / "2026-11-29") == queries(
            tmp_path / "local" / report / "2026-11-29"
        )
    assert stats.max_in_flight <= 3
    assert stats.rejected == 0
    assert stats.polls >= 2 * stats.posts - 1  # every query was polled twice (one may be spent)
    manifest = json.loads(
        (tmp_path / "remote" / "weekly-ecommerce" / "2026-11-29" / "manifest.json").read_text()
    )
    assert manifest["source"].startswith(f"clevertap:{ACCOUNT}@127.0.0.1:")
    everything = remote.output + "".join(
        p.read_text(errors="replace")
        for p in (tmp_path / "remote").rglob("*")
        if p.is_file() and p.suffix != ".png"
    )
    assert PASSCODE not in everything


def test_every_report_through_the_strictest_emulator_equals_the_local_source(
    engine: LocalEngine, demo_store: Path, tmp_path: Path
) -> None:
    """reports/ through every unkindness at once: partial twice, string req_ids, polls answered
    "still in progress", POSTs refused with 405, answers longer than top_n, failures in the 200
    form, the trend limits; the numbers must be the local source's."""
    common = ["--as-of", AS_OF, "--format", "md", "--no-cache", "--state-dir", str(tmp_path / "s")]
    local = run(
        {},
        "run",
        str(REPORTS),
        "--source",
        f"local:{demo_store}",
        "--out",
        str(tmp_path / "local"),
        *common,
    )
    assert local.exit_code == 0, local.output
    with start_emulator(
        engine,
        account_id=ACCOUNT,
        passcode=PASSCODE,
        partial_polls=2,
        string_req_ids=True,
        in_progress="text",
        overfill=5,
        fail_form="200",
        faults="405:0.5",
        seed=12,
    ) as emu:
        remote = run(
            env_for(emu),
            "run",
            str(REPORTS),
            "--source",
            "clevertap",
            "--poll-interval",
            "0.01",
            "--out",
            str(tmp_path / "remote"),
            *common,
        )
        stats = emu.stats
    assert remote.exit_code == 0, remote.output
    folders = sorted(
        p.parent.relative_to(tmp_path / "local") for p in (tmp_path / "local").rglob("results.json")
    )
    assert len(folders) == len(list(REPORTS.glob("*.yaml")))
    for folder in folders:
        assert queries(tmp_path / "remote" / folder) == queries(tmp_path / "local" / folder), folder
    assert stats.faults.get("405", 0) > 0  # the client met the 405 and asked again by GET
    assert stats.rejected == 0


def test_a_query_that_never_finishes_times_out_naming_the_req_id(
    engine: LocalEngine, tmp_path: Path
) -> None:
    with start_emulator(engine, partial_polls=10_000) as emu:
        result = run(
            env_for(emu),
            "run",
            str(REPORTS / "charged-breakdown.yaml"),
            "--source",
            "clevertap",
            "--as-of",
            AS_OF,
            "--poll-interval",
            "0.02",
            "--query-timeout",
            "0.3",
            "--out",
            str(tmp_path / "out"),
            "--state-dir",
            str(tmp_path / "s"),
            "--format",
            "md",
        )
        pending = emu.pending_req_ids
    assert result.exit_code == 1
    assert "FAILED  charged-breakdown" in result.stderr
    assert "query 'charged'" in result.stderr
    assert any(str(req_id) in result.stderr for req_id in pending)
    assert not (tmp_path / "out" / "charged-breakdown").exists()


def test_wrong_passcode_is_exit_1_with_a_hint_and_no_secret(
    engine: LocalEngine, tmp_path: Path
) -> None:
    with start_emulator(engine, account_id=ACCOUNT, passcode="the-right-one") as emu:
        result = run(
            env_for(emu),
            "run",
            str(REPORTS / "charged-breakdown.yaml"),
            "--source",
            "clevertap",
            "--as-of",
            AS_OF,
            "--out",
            str(tmp_path / "out"),
            "--state-dir",
            str(tmp_path / "s"),
        )
    assert result.exit_code == 1
    assert "check the account id, passcode and region" in result.stderr
    assert PASSCODE not in result.output


def test_missing_credentials_stop_before_any_request(engine: LocalEngine, tmp_path: Path) -> None:
    with start_emulator(engine) as emu:
        env = {**env_for(emu), "CLEVERTAP_PASSCODE": ""}
        result = run(
            env,
            "run",
            str(REPORTS),
            "--source",
            "clevertap",
            "--as-of",
            AS_OF,
            "--out",
            str(tmp_path / "out"),
            "--state-dir",
            str(tmp_path / "s"),
        )
        assert emu.stats.requests == 0
    assert result.exit_code == 2
    assert "CLEVERTAP_PASSCODE" in result.stderr


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--max-attempts", "0"),
        ("--backoff", "-1"),
        ("--rate-limit-backoff", "601"),
        ("--poll-interval", "0"),
        ("--query-timeout", "-5"),
    ],
)
def test_retry_and_timing_options_are_checked(option: str, value: str, tmp_path: Path) -> None:
    result = run({}, "run", str(REPORTS), "--source", "clevertap", option, value)
    assert result.exit_code == 2
    assert f"Invalid value for '{option}'" in result.stderr


def test_retry_options_reach_the_exchange(engine: LocalEngine, tmp_path: Path) -> None:
    with start_emulator(engine, faults="500:1.0") as emu:
        result = run(
            env_for(emu),
            "run",
            str(REPORTS / "charged-breakdown.yaml"),
            "--source",
            "clevertap",
            "--as-of",
            AS_OF,
            "--out",
            str(tmp_path / "out"),
            "--state-dir",
            str(tmp_path / "s"),
            "--max-attempts",
            "2",
            "--backoff",
            "0",
        )
        stats = emu.stats
    assert result.exit_code == 1
    assert "kept failing for POST /1/counts/top.json" in result.stderr
    assert "after 2 attempts: HTTP 500" in result.stderr
    assert stats.requests == 4  # two requests (top and its total), two tries each
    assert "4 HTTP requests (4 POSTs, 0 polls, 2 retries)" in result.stderr  # retries included
