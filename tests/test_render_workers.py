"""Several PDFs of a run are rendered in worker processes (`publish.pool`): the same files as one
report after another, one report's failure stays its own, and how many workers a machine gets."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from reportkit.app import RunOptions, run_paths
from reportkit.cli import cli
from reportkit.publish.pool import WORKER_MEMORY, PublishJob, worker_count

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "reports"


def _run(tmp_path: Path, demo_store: Path, out: str, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli,
        [
            "run",
            str(tmp_path / "reports"),
            "--as-of",
            "2026-11-30",
            "--source",
            f"local:{demo_store}",
            "--format",
            "html,pdf",
            "--out",
            str(tmp_path / out),
            "--state-dir",
            str(tmp_path / "state"),
            "--quiet",
            "--no-fail-on-checks",
            *extra,
        ],
    )
    return result.exit_code, result.output + (result.stderr or "")


def _pdf_text(path: Path) -> list[str]:
    reader = PdfReader(io.BytesIO(path.read_bytes()))
    return [page.extract_text() for page in reader.pages]


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    """Three small reports (the vendor's example at three windows): three PDFs, two workers."""
    folder = tmp_path / "reports"
    folder.mkdir()
    text = (REPORTS / "charged-breakdown.yaml").read_text()
    for window in ("last_30_days", "last_7_days", "last_week"):
        (folder / f"charged-{window.replace('_', '-')}.yaml").write_text(
            text.replace("window: last_30_days", f"window: {window}")
        )
    return folder


def test_workers_write_the_same_reports_as_one_after_another(
    tmp_path: Path, reports: Path, demo_store: Path
) -> None:
    moment = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)  # both runs say the same "generated"
    for out, workers in (("serial", 0), ("pooled", 2)):
        options = RunOptions(
            as_of=date(2026, 11, 30),
            source=f"local:{demo_store}",
            formats=("html", "pdf"),
            out=tmp_path / out,
            state_dir=tmp_path / "state",
            render_workers=workers,
        )
        outcomes = run_paths([reports], options, now=moment)
        assert [o.ok for o in outcomes] == [True] * 3
    serial = sorted(p.relative_to(tmp_path / "serial") for p in (tmp_path / "serial").rglob("*.*"))
    pooled = sorted(p.relative_to(tmp_path / "pooled") for p in (tmp_path / "pooled").rglob("*.*"))
    assert serial == pooled and len([p for p in serial if p.name == "report.pdf"]) == 3
    for relative in serial:
        a, b = tmp_path / "serial" / relative, tmp_path / "pooled" / relative
        if relative.name == "report.pdf":
            assert _pdf_text(a) == _pdf_text(b)
        elif relative.name in ("report.html", "results.json"):
            assert a.read_bytes() == b.read_bytes(), relative


def test_a_report_that_fails_in_a_worker_fails_alone(
    tmp_path: Path, reports: Path, demo_store: Path
) -> None:
    broken = reports / "broken-templates"  # inside the definitions' folder: allowed
    broken.mkdir()
    (broken / "report.html.j2").write_text("{% if %}broken{% endif %}\n")
    definition = reports / "charged-last-7-days.yaml"
    definition.write_text(definition.read_text() + f"\noutput:\n  template: {broken}\n")
    code, output = _run(tmp_path, demo_store, "out", "--render-workers", "2")
    assert code == 1, output
    assert "template error at " in output and "broken-templates/report.html.j2:1:" in output
    others = [p.stem for p in reports.glob("*.yaml") if p != definition]
    assert len(others) == 2
    for report_id in others:
        assert list((tmp_path / "out" / report_id).glob("*/report.pdf")), report_id
    assert not list((tmp_path / "out").glob(f"{definition.stem}/*/report.pdf"))


def _jobs(pdfs: int, others: int = 0) -> list[PublishJob]:
    def job(formats: tuple[str, ...]) -> PublishJob:
        return PublishJob(out=Path("."), result=None, output=None, formats=formats)  # type: ignore[arg-type]

    return [job(("html", "pdf")) for _ in range(pdfs)] + [job(("html",)) for _ in range(others)]


def test_workers_only_where_two_pdfs_and_two_cores_and_the_memory_for_two() -> None:
    plenty = 64 * WORKER_MEMORY
    assert worker_count(_jobs(1, 5), cores=8, memory=plenty) == 0  # one PDF: nothing to share
    assert worker_count(_jobs(2), cores=1, memory=plenty) == 0  # one core: nothing to gain
    assert worker_count(_jobs(2), cores=8, memory=plenty) == 2  # no more workers than reports
    assert worker_count(_jobs(20), cores=4, memory=plenty) == 4  # nor than the cores
    assert worker_count(_jobs(20), cores=8, memory=3 * WORKER_MEMORY) == 3  # nor than memory
    assert worker_count(_jobs(20), cores=8, memory=WORKER_MEMORY) == 0
    # a number asked for is used, but never more workers than jobs
    assert worker_count(_jobs(20), requested=3, cores=1, memory=WORKER_MEMORY) == 3
    assert worker_count(_jobs(3), requested=64, cores=8, memory=plenty) == 3


def _descendants(pid: int) -> set[int]:
    """Every living process below `pid` (the forkserver and the workers it forked)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z":  # a zombie has ended
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _start_rendering(tmp_path: Path, demo_store: Path) -> tuple[subprocess.Popen[str], set[int]]:
    """A run of six PDFs with two workers, once its forkserver and workers are up."""
    folder = tmp_path / "reports"
    folder.mkdir()
    text = (REPORTS / "weekly-ecommerce.yaml").read_text().split("\ndeliver:")[0]  # no mail
    for week in range(6):
        (folder / f"weekly-{week}.yaml").write_text(text)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reportkit",
            "run",
            str(folder),
            "--as-of",
            "2026-11-30",
            "--source",
            f"local:{demo_store}",
            "--format",
            "pdf",
            "--out",
            str(tmp_path / "out"),
            "--state-dir",
            str(tmp_path / "state"),
            "--render-workers",
            "2",
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    deadline = time.monotonic() + 90
    while len(_descendants(proc.pid)) < 3 and proc.poll() is None:  # forkserver + 2 workers
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("no workers started")
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    return proc, _descendants(proc.pid)


def _gone(pids: set[int], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while any(_descendants_alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
@pytest.mark.timeout(120)
def test_sigterm_ends_the_workers_with_the_run(tmp_path: Path, demo_store: Path) -> None:
    proc, workers = _start_rendering(tmp_path, demo_store)
    try:
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        ended = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, err
    assert "interrupted (SIGTERM)" in err
    assert ended < 5, f"the run took {ended:.1f} s to end"
    assert _gone(workers, 5), "worker processes outlived the run"
    assert not [p for p in (tmp_path / "out").rglob("*") if ".tmp-" in p.name]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
@pytest.mark.timeout(120)
def test_a_run_killed_outright_leaves_no_worker_behind(tmp_path: Path, demo_store: Path) -> None:
    """SIGKILL gives the run no chance to end its workers: they notice it gone and end."""
    proc, workers = _start_rendering(tmp_path, demo_store)
    proc.kill()
    proc.wait(timeout=10)  # reaped, as a shell or CI runner reaps it: the pid is gone
    try:
        assert _gone(workers, 10), "worker processes outlived a killed run"
    finally:
        for pipe in (proc.stdout, proc.stderr):  # the workers held them open until they ended
            if pipe is not None:
                pipe.close()


def _descendants_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
