"""Runs that are killed, interrupted or raced: the previous report survives and nothing is left.

Real `python -m reportkit run` processes over the demo store, stopped with SIGTERM or SIGKILL
while they render into their staging folder; two runs writing the same report at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from reportkit.cli import cli
from reportkit.language.model import OutputSpec
from reportkit.publish.folders import publish_report
from reportkit.sources.emulator import Emulator, EmulatorStats, start_emulator
from reportkit.sources.local import LocalEngine
from tests.conftest import AS_OF
from tests.report_fixtures import count_query, make_report

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "reports" / "weekly-ecommerce.yaml"
DAY = "2026-11-29"
WAIT = 120.0  # seconds: the bound of every wait on a child process


def run_args(store: Path, out: Path, state: Path) -> list[str]:
    return [
        "run",
        str(REPORT),
        "--source",
        f"local:{store}",
        "--as-of",
        AS_OF,
        "--format",
        "pdf,html,md",
        "--out",
        str(out),
        "--state-dir",
        str(state),
    ]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def assert_whole(folder: Path) -> None:
    """The manifest lists exactly the files there, with their sha256."""
    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    listed = {f["path"]: f["sha256"] for f in manifest["files"]}
    on_disk = snapshot(folder)
    del on_disk["manifest.json"]
    assert set(on_disk) == set(listed)
    for name, data in on_disk.items():
        assert hashlib.sha256(data).hexdigest() == listed[name], name


def temp_entries(out: Path) -> list[str]:
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.name.startswith("."))


@pytest.fixture(scope="module")
def previous(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A good report from an earlier run (an out folder to copy into each test)."""
    out = tmp_path_factory.mktemp("previous")
    result = CliRunner().invoke(cli, run_args(demo_store, out, out.parent / "previous-state"))
    assert result.exit_code == 0, result.output
    assert_whole(out / "weekly-ecommerce" / DAY)
    return out


@pytest.fixture
def out(previous: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "out"
    shutil.copytree(previous, copy)
    return copy


def start_run(store: Path, out: Path, state: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "reportkit", *run_args(store, out, state)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=out.parent,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def wait_for_render(proc: subprocess.Popen[str], parent: Path) -> Path:
    """The staging folder of a run, once it holds results.json (the render comes next)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        for entry in parent.glob(f".{DAY}.tmp-*"):
            if (entry / "results.json").is_file():
                return entry
        if proc.poll() is not None:
            raise AssertionError(f"the run ended before rendering: {proc.communicate()}")
        time.sleep(0.01)
    proc.kill()
    raise AssertionError("no staging folder appeared")


def finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    try:
        stdout, stderr = proc.communicate(timeout=WAIT)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
        raise AssertionError(f"the run did not stop: {stderr}") from None
    return proc.returncode, stdout, stderr


@pytest.mark.integration
def test_sigterm_mid_render_exits_1_and_leaves_the_previous_report(
    demo_store: Path, out: Path, tmp_path: Path
) -> None:
    folder = out / "weekly-ecommerce" / DAY
    before = snapshot(folder)
    proc = start_run(demo_store, out, tmp_path / "state")
    wait_for_render(proc, folder.parent)
    proc.send_signal(signal.SIGTERM)
    code, _, stderr = finish(proc)
    print(f"\nSIGTERM mid-render: exit {code}, stderr {stderr.strip()!r}")
    assert code == 1, stderr
    assert stderr.strip().splitlines()[-1] == "error: interrupted (SIGTERM)"
    assert "Traceback" not in stderr
    assert snapshot(folder) == before
    assert_whole(folder)
    assert temp_entries(out) == []


@pytest.mark.integration
def test_after_sigkill_the_next_run_cleans_up_and_succeeds(
    demo_store: Path, out: Path, tmp_path: Path
) -> None:
    folder = out / "weekly-ecommerce" / DAY
    before = snapshot(folder)
    proc = start_run(demo_store, out, tmp_path / "state")
    staging = wait_for_render(proc, folder.parent)
    proc.kill()
    code, _, _ = finish(proc)
    assert code == -signal.SIGKILL
    assert snapshot(folder) == before
    assert staging.exists()  # what a killed run cannot clean up itself
    print(f"\nSIGKILL mid-render left {temp_entries(out)}")

    again = CliRunner().invoke(cli, run_args(demo_store, out, tmp_path / "state"))
    assert again.exit_code == 0, again.output
    assert_whole(folder)
    assert snapshot(folder) != before  # a new report, not the old one
    assert temp_entries(out) == []


@pytest.mark.integration
def test_two_runs_writing_the_same_report_at_once(
    demo_store: Path, out: Path, tmp_path: Path
) -> None:
    runs = [start_run(demo_store, out, tmp_path / f"state-{n}") for n in range(2)]
    results = [finish(proc) for proc in runs]
    assert [code for code, _, _ in results] == [0, 0], [err for _, _, err in results]
    assert_whole(out / "weekly-ecommerce" / DAY)
    assert temp_entries(out) == []


# ------------------------------------------------------------------ many swaps of one report


def test_publishers_racing_on_one_report_never_break_it(tmp_path: Path) -> None:
    """Eight threads publish the same report twenty times each; every swap is whole."""
    base = make_report(queries=(count_query(),))
    errors: list[BaseException] = []
    folder = tmp_path / "weekly-ecommerce" / DAY

    def publisher(n: int) -> None:
        try:
            for i in range(20):
                publish_report(
                    tmp_path, replace(base, title=f"writer {n} pass {i}"), OutputSpec(("md",))
                )
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=publisher, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=WAIT)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert_whole(folder)
    assert temp_entries(tmp_path) == []


# --------------------------------------------------------- SIGTERM while queries are running


def many_queries(folder: Path) -> Path:
    """A report of 12 top queries over different windows: 24 requests (each with its total)."""
    queries = "\n".join(
        f"  - {{id: q{i}, event: Charged, window: {{from: 2026-11-01, to: 2026-11-{10 + i}}},"
        " groups: {city: {property_type: geo_fields, name: City}}}"
        for i in range(12)
    )
    definition = folder / "many.yaml"
    definition.write_text(f"version: 1\ntitle: Many queries\nqueries:\n{queries}\n")
    return definition


@pytest.fixture
def slow_emulator(demo_store: Path) -> Iterator[Emulator]:
    engine = LocalEngine(demo_store, read_only=True)
    emu = start_emulator(engine, partial_polls=1, latency=0.15)
    yield emu
    emu.stop()
    engine.close()


def clevertap_args(definition: Path, tmp_path: Path) -> list[str]:
    return [
        "run",
        str(definition),
        "--source",
        "clevertap",
        "--as-of",
        AS_OF,
        "--format",
        "md",
        "--out",
        str(tmp_path / "out"),
        "--state-dir",
        str(tmp_path / "state"),
        "--poll-interval",
        "0.05",
    ]


def clevertap_env(emu: Emulator) -> dict[str, str]:
    return {
        "CLEVERTAP_BASE_URL": emu.url,
        "CLEVERTAP_ACCOUNT_ID": "ACC",
        "CLEVERTAP_PASSCODE": "pc",
    }


def sigterm_when(emu: Emulator, tmp_path: Path, ready: Callable[[EmulatorStats], bool]) -> str:
    """Start a CleverTap run, SIGTERM it once `ready(stats)`, check it stopped cleanly."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "reportkit", *clevertap_args(many_queries(tmp_path), tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT), **clevertap_env(emu)},
    )
    deadline = time.monotonic() + WAIT
    while not ready(emu.stats) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.002)
    proc.send_signal(signal.SIGTERM)
    stopped = time.monotonic()
    code, _, stderr = finish(proc)
    print(f"\nSIGTERM while querying: exit {code} {time.monotonic() - stopped:.2f} s after it")
    assert code == 1, stderr
    assert stderr.strip().splitlines()[-1] == "error: interrupted (SIGTERM)"
    assert "Traceback" not in stderr
    assert not (tmp_path / "out").exists() or temp_entries(tmp_path / "out") == []
    return stderr


@pytest.mark.integration
def test_sigterm_while_querying_stops_without_sending_the_queued_requests(
    slow_emulator: Emulator, tmp_path: Path
) -> None:
    sigterm_when(slow_emulator, tmp_path, lambda stats: stats.posts >= 3)
    stats = slow_emulator.stats
    print(f"{len(stats.posted)} of 24 requests were sent ({stats.requests} HTTP requests)")
    # at most those in flight or about to be (3 holding the account's slots, 3 more workers
    # waiting for one) were ever sent
    assert len(stats.posted) <= 6


@pytest.mark.integration
def test_answers_that_arrived_before_a_sigterm_are_not_asked_again(
    slow_emulator: Emulator, tmp_path: Path
) -> None:
    sigterm_when(slow_emulator, tmp_path, lambda stats: len(stats.succeeded) >= 1)
    answered = set(slow_emulator.stats.succeeded)
    slow_emulator.reset_stats()
    again = CliRunner().invoke(
        cli, clevertap_args(many_queries(tmp_path), tmp_path), env=clevertap_env(slow_emulator)
    )
    assert again.exit_code == 0, again.output
    asked_again = answered & set(slow_emulator.stats.posted)
    print(f"answered before the SIGTERM: {len(answered)}, asked again: {len(asked_again)}")
    assert asked_again == set()


@pytest.mark.integration
def test_sigterm_during_an_import_query_exits_1_in_one_line_and_leaves_no_store(
    tmp_path: Path,
) -> None:
    """DuckDB turns the signal into an error of its own ("Query interrupted") when it lands in
    a query: the command still reports the interruption, in one line, and nothing is left."""
    line = '{"event_name":"Viewed","ts":%d,"profile":{"identity":"u%d"},"event_props":{"A":%d}}\n'
    events = tmp_path / "events.jsonl"
    events.write_text("".join(line % (1790000000 + i, i % 997, i) for i in range(300_000)))
    store = tmp_path / "store.duckdb"
    proc = subprocess.Popen(
        [sys.executable, "-m", "reportkit", "import", str(events), "--db", str(store)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )

    def copied() -> bool:  # the headed copy is whole: the read of the file (one query) is next
        for copy in tmp_path.glob("reportkit-import-*/headed.jsonl"):
            with contextlib.suppress(FileNotFoundError):
                return copy.stat().st_size > events.stat().st_size
        return False

    deadline = time.monotonic() + WAIT
    while not copied():
        assert proc.poll() is None and time.monotonic() < deadline, "no headed copy appeared"
        time.sleep(0.005)
    time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    code, _, stderr = finish(proc)
    assert (code, stderr) == (1, "error: interrupted (SIGTERM)\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.jsonl"]
