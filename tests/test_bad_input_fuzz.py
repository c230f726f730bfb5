"""Bad report definitions through validate, plan and run: exit 0, or one located line per problem.

Hypothesis feeds mutated examples, spliced bytes and bombs to the real CLI in-process; a few real
subprocesses prove that no traceback reaches stderr and that memory stays bounded. The seed is
fixed (derandomize), so CI sees the same cases every run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings

from reportkit.cli import cli
from reportkit.errors import SpecError
from reportkit.language.spec import parse_report
from tests.conftest import AS_OF
from tests.fuzz_support import BOMBS, check_problem_lines, definitions, runnable_definitions

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
NAME = "fuzzed.yaml"
OK_VALIDATE = "ok: 1 report definition is valid\n"
MEMORY_LIMIT_KB = 200 * 1024


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _invoke(folder: Path, data: bytes, *args: str) -> Result:
    """Run the CLI in `folder` on `data` saved as fuzzed.yaml; the path is printed as NAME."""
    (folder / NAME).write_bytes(data)
    cwd = Path.cwd()
    os.chdir(folder)
    try:
        return CliRunner().invoke(cli, list(args))
    finally:
        os.chdir(cwd)


def _no_crash(result: Result) -> None:
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"{type(result.exception).__name__}: {result.exception}")
    assert "Traceback" not in result.output


@pytest.mark.timeout(120)
@settings(FUZZ, max_examples=300)
@given(data=definitions())
def test_validate_answers_ok_or_located_lines(workdir: Path, data: bytes) -> None:
    result = _invoke(workdir, data, "validate", NAME)
    _no_crash(result)
    if result.exit_code == 0:
        assert result.stdout == OK_VALIDATE
        return
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    check_problem_lines(result.stderr, NAME)


def _window_error(stderr: str) -> bool:
    """plan's one line for a window that cannot be resolved on AS_OF."""
    return re.fullmatch(rf"error: {NAME}: query '[^']+': \S.*\n", stderr) is not None


@pytest.mark.timeout(120)
@settings(FUZZ, max_examples=150)
@given(data=definitions())
def test_plan_answers_a_plan_or_one_line_per_problem(workdir: Path, data: bytes) -> None:
    result = _invoke(workdir, data, "plan", NAME, "--as-of", AS_OF, "--json")
    _no_crash(result)
    if result.exit_code == 0:
        assert result.stdout.startswith("[")
        return
    assert result.exit_code == 2, result.output
    if not _window_error(result.stderr):
        check_problem_lines(result.stderr, NAME)


# A run fails (exit 1) only for a report that cannot be made: it validates but names what the
# store does not know, an event ("Invalid event") or a property under that property type
# ("Invalid group"); its windows cannot be resolved on AS_OF (a report-level failure in a run,
# so that the other reports still complete; exit 2 in `plan`); or its chart override cannot be
# drawn (a render failure naming the chart).
_UNKNOWN_NAME = (
    r"  query '[^']+': [^\n]*Invalid (event|group)[^\n]* \(POST /1/counts/\S+ \{[^\n]*\}\)"
)
_BAD_WINDOW = (
    rf"  {NAME}: query '[^']+': (window [^\n]* reaches outside the calendar \(years 1 to 9999\)"
    r"|a (daily|weekly|monthly) trend over [^\n]* points, more than 3660: [^\n]*"
    r"|window '[^']+' has no complete day on [^\n]*)"
)
_BAD_CHART = (
    r"  chart '[^']+' (could not be drawn: [^\n]+|refers to [^\n]+"
    r"|would be [0-9]+ pixels in (width|height) as a PNG, more than 10000: [^\n]*)"
)
_FAILED = re.compile(
    rf"FAILED  \S+\n(({_UNKNOWN_NAME})\n)+|FAILED  \S+\n({_BAD_WINDOW}|{_BAD_CHART})\n"
)


@pytest.mark.timeout(240)
@settings(FUZZ, max_examples=40)
@given(data=runnable_definitions())
def test_run_writes_a_report_or_explains_why(workdir: Path, demo_store: Path, data: bytes) -> None:
    result = _invoke(
        workdir,
        data,
        "run",
        NAME,
        "--as-of",
        AS_OF,
        "--source",
        f"local:{demo_store}",
        "--format",
        "md",
        "--out",
        str(workdir / "out"),
        "--state-dir",
        str(workdir / "state"),
    )
    _no_crash(result)
    if result.exit_code == 0:
        assert result.stdout.startswith("ok      ")
    elif result.exit_code == 1:
        assert _FAILED.fullmatch(result.stderr), result.stderr
    else:
        assert result.exit_code == 2, result.output
        if not _window_error(result.stderr):
            check_problem_lines(result.stderr, NAME)


def _cli_process(args: list[str], cwd: Path) -> tuple[int, str, str]:
    """Run `python -m reportkit ARGS` in `cwd`: exit code, stdout and stderr."""
    done = subprocess.run(
        [sys.executable, "-m", "reportkit", *args], cwd=cwd, capture_output=True, check=False
    )
    return done.returncode, done.stdout.decode(), done.stderr.decode()


# `python -m reportkit` that writes its own peak resident memory (VmHWM) to a file on exit. The
# child's ru_maxrss is no use here: Linux carries the parent's high-water mark over fork and exec,
# so it reports the size of the pytest process; VmHWM belongs to the memory map exec makes.
_MEASURED = """
import atexit, runpy, sys
def _peak(out=sys.argv[1]):
    with open("/proc/self/status") as status:
        kb = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    with open(out, "w") as handle:
        handle.write(kb)
atexit.register(_peak)
sys.argv = ["reportkit", *sys.argv[2:]]
runpy.run_module("reportkit", run_name="__main__", alter_sys=True)
"""


def _measured_run(args: list[str], cwd: Path) -> tuple[int, str, str, int]:
    """Like `_cli_process`, and the child's peak resident memory in kB."""
    peak = cwd / "peak.txt"
    done = subprocess.run(
        [sys.executable, "-c", _MEASURED, str(peak), *args],
        cwd=cwd,
        capture_output=True,
        check=False,
    )
    return done.returncode, done.stdout.decode(), done.stderr.decode(), int(peak.read_text())


BOMB_PROBLEMS = {
    "billion-laughs": f"{NAME}:5:15: the definition expands to more than 20000 values "
    "(an alias expanding exponentially?)",
    "billion-laughs-wide": f"{NAME}:3:40: the definition expands to more than 20000 values "
    "(an alias expanding exponentially?)",
    "merge-bomb": f"{NAME}:5:5: the definition expands to more than 20000 values "
    "(an alias expanding exponentially?)",
    "merge-chain": f"{NAME}:42:6: merge keys are nested more than 40 deep",
    "deep-flow": f"{NAME}:2:48: the definition is nested more than 40 levels deep",
}


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc")
@pytest.mark.timeout(120)
@pytest.mark.parametrize("bomb", sorted(BOMBS))
@pytest.mark.parametrize("command", ["validate", "plan", "run"])
def test_bombs_stop_early_in_a_real_process(
    tmp_path: Path, bomb: str, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / NAME).write_bytes(BOMBS[bomb])
    args = [command, NAME] + (["--source", "local:none.duckdb"] if command == "run" else [])
    code, out, err, peak_kb = _measured_run(args, tmp_path)
    with capsys.disabled():
        print(f"\n{command} {bomb}: exit {code}, peak RSS {peak_kb / 1024:.1f} MB", end="")
    assert (code, out, err) == (2, "", BOMB_PROBLEMS[bomb] + "\n")
    assert peak_kb < MEMORY_LIMIT_KB


@pytest.mark.timeout(60)
@pytest.mark.parametrize("bomb", sorted(BOMBS))
def test_bombs_allocate_little_while_read(bomb: str, capsys: pytest.CaptureFixture[str]) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(SpecError) as info:
            parse_report(BOMBS[bomb], Path(NAME))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    with capsys.disabled():
        print(f"\nparse_report {bomb}: peak traced {peak / 2**20:.1f} MB", end="")
    assert info.value.problems == [BOMB_PROBLEMS[bomb]]
    assert peak < MEMORY_LIMIT_KB * 1024


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"version: 1\x00\n", f"{NAME}:1:11: non-printable character U+0000 in the file "
         "(YAML allows tabs, line breaks and printable text only)"),
        (b"version: 1\n\xc3(", f"{NAME}:2:1: the file is not UTF-8 text (byte 0xc3)"),
        (b"", f"{NAME}:1:1: the file is empty: a report needs version, title and queries"),
        (b"a: !!python/object/apply:os.system [echo hacked]\n", f"{NAME}:1:4: the YAML tag "
         "!!python/object/apply:os.system is not allowed: write plain values, lists and mappings"),
    ],
)  # fmt: skip
def test_a_real_process_prints_no_traceback(tmp_path: Path, data: bytes, expected: str) -> None:
    (tmp_path / NAME).write_bytes(data)
    for command in ("validate", "plan"):
        code, out, err = _cli_process([command, NAME], tmp_path)
        assert (code, out, err) == (2, "", expected + "\n")
