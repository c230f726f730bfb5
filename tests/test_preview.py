"""`reportkit preview`: a real server on a free loopback port, a real DuckDB store, and the page
checked in headless Chromium (the session's `browser` fixture): an edit to the YAML shows in the
open page without a reload, errors show located, the last good report stays one click away."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from reportkit.app import serving_preview
from reportkit.preview import PreviewServer

AS_OF = date(2026, 11, 30)

REPORT = """\
version: 1
title: Shop pulse
timezone: UTC
window: last_7_days
queries:
  - id: orders
    title: Orders
    event: Charged
    kind: count
  - id: products
    title: What sold
    event: Charged
    groups:
      product: { property_type: event_properties, name: Product, top_n: 3 }
"""


def _get(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.status, response.headers["Content-Type"], response.read()


def _status(server: PreviewServer) -> dict[str, Any]:
    status: dict[str, Any] = json.loads(_get(server.url + "status")[2])
    return status


@pytest.fixture()
def report_file(tmp_path: Path) -> Path:
    path = tmp_path / "reports" / "pulse.yaml"
    path.parent.mkdir()
    path.write_text(REPORT, encoding="utf-8")
    return path


@pytest.fixture()
def serve(demo_store: Path, tmp_path: Path) -> Iterator[Any]:
    """Start a preview of a path over the session's demo store; stopped after the test."""
    servers: list[Any] = []

    def start(path: Path) -> PreviewServer:
        context = serving_preview(
            path,
            "127.0.0.1",
            0,
            as_of=AS_OF,
            source=f"local:{demo_store}",
            state_dir=tmp_path / "state",
            poll=0.05,
        )
        server = context.__enter__()
        servers.append(context)
        return server

    yield start
    for context in reversed(servers):
        context.__exit__(None, None, None)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


# --------------------------------------------------------------------------- over HTTP


def test_serves_on_loopback_and_only_the_preview_page_has_a_script(
    serve: Any, report_file: Path
) -> None:
    server = serve(report_file)
    assert server.url.startswith("http://127.0.0.1:")
    status, kind, body = _get(server.url)
    page = body.decode("utf-8")
    assert status == 200 and kind.startswith("text/html")
    assert "<h1>Shop pulse</h1>" in page
    assert page.count("<script") == 1 and 'id="reportkit-preview"' in page
    # the report itself, as `run` would publish it, has no JavaScript
    build = server.preview.last_good("pulse.yaml")
    assert build is not None and build.html is not None
    assert "<script" not in build.html.lower() and "Shop pulse" in build.html


def test_a_title_change_asks_the_source_nothing_again(serve: Any, report_file: Path) -> None:
    server = serve(report_file)
    first = _status(server)["reports"]["pulse.yaml"]
    assert first["ok"] and first["asked"] == 2 and first["cached"] == 0
    _edit(report_file, "title: Shop pulse", "title: Shop heartbeat")
    assert server.wait_change(first_generation := 0, timeout=30) > first_generation
    page = _get(server.url)[2].decode("utf-8")
    assert "<h1>Shop heartbeat</h1>" in page
    second = _status(server)["reports"]["pulse.yaml"]
    assert second["asked"] == 0 and second["cached"] == 2
    # a changed query is asked again; the unchanged one still comes from the cache
    _edit(report_file, "top_n: 3", "top_n: 4")
    assert server.wait_change(1, timeout=30) > 1
    third = _status(server)["reports"]["pulse.yaml"]
    assert third["asked"] == 1 and third["cached"] == 1


def test_a_template_change_redraws(serve: Any, report_file: Path) -> None:
    templates = report_file.parent / "look"
    templates.mkdir()
    (templates / "report.css").write_text("h1 { color: rgb(1, 2, 3); }\n", encoding="utf-8")
    _edit(report_file, "timezone: UTC", "timezone: UTC\noutput: { template: look }")
    server = serve(report_file)
    assert "rgb(1, 2, 3)" in _get(server.url)[2].decode("utf-8")
    seen = server.generation
    (templates / "report.css").write_text("h1 { color: rgb(4, 5, 6); }\n", encoding="utf-8")
    assert server.wait_change(seen, timeout=30) > seen
    assert "rgb(4, 5, 6)" in _get(server.url)[2].decode("utf-8")


def test_the_pdf_is_rendered_on_demand(serve: Any, report_file: Path) -> None:
    from pypdf import PdfReader

    server = serve(report_file)
    status, kind, body = _get(server.url + "pdf/pulse.yaml")
    assert status == 200 and kind == "application/pdf"
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)
    assert "Shop pulse" in text and "What sold" in text


def test_unknown_paths_are_not_found(serve: Any, report_file: Path) -> None:
    server = serve(report_file)
    for path in ("r/../../etc/passwd", "pdf/nope.yaml", "r/nope.yaml", "nothing"):
        with pytest.raises(urllib.error.HTTPError) as caught:
            _get(server.url + path)
        caught.value.close()
        assert caught.value.code == 404


def test_a_missing_path_is_invalid_input(tmp_path: Path) -> None:
    from reportkit.errors import InvalidInput

    with (
        pytest.raises(InvalidInput, match="no such file or folder"),
        serving_preview(tmp_path / "nope.yaml", source="local:x.duckdb", state_dir=tmp_path),
    ):
        pass


# --------------------------------------------------------------------------- in Chromium


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    try:
        yield context.new_page()
    finally:
        context.close()


def test_an_edit_shows_in_the_open_page_without_a_reload(
    page: Any, serve: Any, report_file: Path
) -> None:
    from playwright.sync_api import expect

    server = serve(report_file)
    page.goto(server.url)
    expect(page.locator("h1")).to_have_text("Shop pulse")
    page.evaluate("window.stillTheSamePage = 'yes'")  # gone if the page were reloaded
    _edit(report_file, "title: Shop pulse", "title: Shop heartbeat")
    expect(page.locator("h1")).to_have_text("Shop heartbeat", timeout=20_000)
    assert page.evaluate("window.stillTheSamePage") == "yes"
    expect(page).to_have_title("Shop heartbeat")


def test_errors_show_located_and_fixing_brings_the_report_back(
    page: Any, serve: Any, report_file: Path
) -> None:
    from playwright.sync_api import expect

    server = serve(report_file)
    page.goto(server.url)
    expect(page.locator("h1")).to_have_text("Shop pulse")
    page.evaluate("window.stillTheSamePage = 'yes'")
    _edit(report_file, "kind: count", "kind: cuont")
    problems = page.locator("ol.problems li")
    expect(problems).to_have_count(1, timeout=20_000)
    expect(problems.first).to_contain_text(f"{report_file}:9:5: queries[0].kind:")
    expect(problems.first).to_contain_text("did you mean 'count'?")
    assert page.evaluate("window.stillTheSamePage") == "yes"

    page.click("#last-good")  # the last good report, one click away
    expect(page.locator("h1")).to_have_text("Shop pulse")
    page.goto(server.url)
    expect(page.locator("#preview-error")).to_be_visible()
    page.evaluate("window.stillTheSamePage = 'yes'")
    _edit(report_file, "kind: cuont", "kind: count")
    expect(page.locator("h1")).to_have_text("Shop pulse", timeout=20_000)
    expect(page.locator("ol.problems")).to_have_count(0)
    assert page.evaluate("window.stillTheSamePage") == "yes"


def test_a_folder_lists_its_reports_and_previews_each(
    page: Any, serve: Any, report_file: Path
) -> None:
    from playwright.sync_api import expect

    other = report_file.parent / "team" / "second.yaml"
    other.parent.mkdir()
    other.write_text(REPORT.replace("Shop pulse", "Second look"), encoding="utf-8")
    server = serve(report_file.parent)
    page.goto(server.url)
    links = page.locator("#reports a")
    expect(links).to_have_text(["pulse.yaml", "team/second.yaml"])
    page.click("text=team/second.yaml")
    expect(page.locator("h1")).to_have_text("Second look")
    assert page.url == server.url + "r/team/second.yaml"
    pdf = page.locator("#reportkit-preview-bar a", has_text="PDF")
    assert pdf.get_attribute("href") == "/pdf/team/second.yaml"
    page.click("#reportkit-preview-bar >> text=all reports")
    expect(links).to_have_count(2)


# --------------------------------------------------------------------------- the command


def test_the_command_serves_until_interrupted(demo_store: Path, report_file: Path) -> None:
    import select
    import signal
    import subprocess
    import sys

    command = [sys.executable, "-m", "reportkit", "preview", str(report_file), "--port", "0"]
    command += ["--as-of", "2026-11-30", "--source", f"local:{demo_store}"]
    command += ["--state-dir", str(report_file.parent / "state")]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        ready, _, _ = select.select([process.stderr], [], [], 120)
        assert ready, "the preview did not say where it listens"
        line = process.stderr.readline()
        assert line.startswith(f"previewing {report_file} at http://127.0.0.1:")
        url = line.split(" at ", 1)[1].split()[0]
        assert "<h1>Shop pulse</h1>" in _get(url)[2].decode("utf-8")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
        assert process.stderr.read() == "preview stopped\n"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()


def test_the_command_refuses_a_missing_path_and_a_busy_port(tmp_path: Path) -> None:
    import socket

    from click.testing import CliRunner

    from reportkit.cli import cli

    done = CliRunner().invoke(cli, ["preview", str(tmp_path / "nope.yaml")])
    assert (done.exit_code, done.stderr) == (
        2,
        f"error: {tmp_path / 'nope.yaml'}: no such file or folder\n",
    )
    report = tmp_path / "r.yaml"
    report.write_text(REPORT)
    store = tmp_path / "store.duckdb"
    from reportkit.sources.demo import build_demo

    build_demo(store, events=50, seed=1, end=AS_OF, days=2)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = CliRunner().invoke(
            cli,
            [
                "preview",
                str(report),
                "--port",
                str(port),
                "--source",
                f"local:{store}",
                "--state-dir",
                str(tmp_path / "state"),
            ],
        )
    assert done.exit_code == 2
    assert done.stderr.startswith(f"error: cannot listen on 127.0.0.1:{port}: ")
    assert "Traceback" not in done.stderr
