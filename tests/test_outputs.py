"""Writing reports: atomic files and folders, confined paths, results.json, the URL fetcher."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import ClassVar

import pytest

import reportkit.render
from reportkit.errors import RenderError
from reportkit.language.model import OutputSpec
from reportkit.publish.files import write_atomic
from reportkit.publish.folders import (
    Manifest,
    load_results,
    publish_report,
    report_dir,
    safe_id,
    save_results,
)
from tests.report_fixtures import count_query, make_report, trend_query

HTML_ONLY = OutputSpec(formats=("html",))


def _small() -> object:
    return make_report(queries=(count_query(), trend_query()))


# --------------------------------------------------------------------------- atomic files


def test_write_atomic_replaces_the_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    write_atomic(target, b"one")
    write_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    assert os.listdir(tmp_path) == ["a.txt"]


def test_write_atomic_failure_is_a_render_error(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="could not write"):
        write_atomic(tmp_path / "missing" / "a.txt", b"x")


# ------------------------------------------------------------------------------- paths


@pytest.mark.parametrize(
    "report_id", ["weekly-ecommerce", "a..b", "a--b", "Weekly.v2", "x_1", "9lives", "a" * 100]
)
def test_an_id_a_definition_allows_is_its_own_folder_name(report_id: str) -> None:
    assert safe_id(report_id) == report_id


@pytest.mark.parametrize(
    ("report_id", "cleaned"),
    [
        ("../../etc", "etc"),
        ("/etc/passwd", "etc-passwd"),
        ("a/../b", "a-b"),
        (".hidden", "hidden"),
        ("Weekly Report (EU)", "Weekly-Report-EU"),
        ("..\\..\\win", "win"),
    ],
)
def test_an_unsafe_id_is_cleaned_and_marked_with_its_hash(report_id: str, cleaned: str) -> None:
    digest = hashlib.sha256(report_id.encode()).hexdigest()[:8]
    assert safe_id(report_id) == f"{cleaned}-{digest}"


def test_ids_that_clean_alike_get_folders_of_their_own() -> None:
    ids = ["x", "../x", "/x", "x/", ".x", "a-b", "a..b", "a--b", "a/b", "a b"]
    assert len({safe_id(i) for i in ids}) == len(ids)


@pytest.mark.parametrize("report_id", ["..", "/", "", "../.."])
def test_unusable_ids_are_refused(report_id: str) -> None:
    with pytest.raises(RenderError, match="no usable folder name"):
        safe_id(report_id)


def test_report_dir_stays_inside_the_out_root(tmp_path: Path) -> None:
    for report_id in ("../../escape", "/abs/path", "..\\..\\win", "ok"):
        folder = report_dir(tmp_path, report_id, date(2026, 11, 29))
        assert folder.resolve().is_relative_to(tmp_path.resolve())
        assert folder.name == "2026-11-29"


def test_report_dir_does_not_follow_symlinks_out(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "out"
    root.mkdir()
    (root / "evil").symlink_to(outside, target_is_directory=True)
    with pytest.raises(RenderError, match="symlink"):
        report_dir(root, "evil", date(2026, 11, 29))
    (root / "inside").mkdir()
    (root / "inside" / "2026-11-29").symlink_to(outside, target_is_directory=True)
    with pytest.raises(RenderError, match="symlink"):
        report_dir(root, "inside", date(2026, 11, 29))
    assert os.listdir(outside) == []


def test_out_itself_may_be_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    folder = report_dir(link, "weekly", date(2026, 11, 29))
    assert folder == link / "weekly" / "2026-11-29"


# ---------------------------------------------------------------------------- results.json


def test_results_round_trip_losslessly(tmp_path: Path) -> None:
    result = make_report(hostile=True, long_rows=30)
    result = replace(
        result,
        queries=(
            *result.queries,
            replace(count_query("charted"), chart={"mark": "line", "vega_lite": {"height": 90}}),
        ),
    )
    path = tmp_path / "results.json"
    save_results(result, path)
    loaded = load_results(path)
    assert loaded == result
    assert [q.chart for q in loaded.queries] == [q.chart for q in result.queries]


def test_results_json_shape(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    save_results(make_report(), path)
    data = json.loads(path.read_text("utf-8"))
    top = data["queries"]["top-products"]
    assert (top["from"], top["to"]) == ("2026-11-23", "2026-11-29")
    assert top["compare"] == {"from": "2026-11-16", "to": "2026-11-22"}
    row = top["groups"]["product"]["rows"][0]
    assert set(row) == {"type", "value", "count", "previous"}
    assert data["queries"]["orders"]["count"] == 48213
    assert data["queries"]["daily-orders"]["trend"][0] == {
        "period": "20261123",
        "count": 6766,
        "previous": 6587,
    }
    assert data["report"]["as_of"] == "2026-11-30"


def test_load_results_rejects_a_foreign_file(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text('{"hello": 1}')
    with pytest.raises(RenderError, match="format"):
        load_results(path)
    path.write_text("not json")
    with pytest.raises(RenderError, match=r"not a reportkit results\.json"):
        load_results(path)


# ------------------------------------------------------------------------------ publishing


def _leftovers(parent: Path) -> list[str]:
    return sorted(name for name in os.listdir(parent) if name.startswith("."))


def test_publish_writes_results_report_and_manifest(tmp_path: Path) -> None:
    manifest = publish_report(tmp_path, _small(), HTML_ONLY, cached=["orders"])
    folder = tmp_path / "weekly-ecommerce" / "2026-11-29"
    assert manifest.directory == folder
    assert sorted(os.listdir(folder)) == ["manifest.json", "report.html", "results.json"]
    on_disk = Manifest.from_dict(json.loads((folder / "manifest.json").read_text("utf-8")))
    assert on_disk == manifest
    assert on_disk.cached == ("orders",) and on_disk.source == "demo"
    assert on_disk.as_of == date(2026, 11, 30) and on_disk.reportkit_version == "0.1.0"
    for entry in on_disk.files:
        assert hashlib.sha256((folder / entry.path).read_bytes()).hexdigest() == entry.sha256
    assert _leftovers(folder.parent) == []


def test_a_failed_render_leaves_the_previous_report_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish_report(tmp_path, _small(), HTML_ONLY)
    folder = tmp_path / "weekly-ecommerce" / "2026-11-29"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    def fail(result: object, output: object, **kw: object) -> dict[str, bytes]:
        raise RenderError("boom")  # after results.json was staged

    monkeypatch.setattr(reportkit.render, "render_report", fail)
    with pytest.raises(RenderError, match="boom"):
        publish_report(tmp_path, replace(_small(), title="New title"), HTML_ONLY)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert _leftovers(folder.parent) == []


def test_publishing_again_replaces_the_report_whole(tmp_path: Path) -> None:
    publish_report(tmp_path, _small(), OutputSpec(formats=("html", "md")))
    publish_report(tmp_path, replace(_small(), title="Second run"), HTML_ONLY)
    folder = tmp_path / "weekly-ecommerce" / "2026-11-29"
    assert "Second run" in (folder / "report.html").read_text("utf-8")
    assert not (folder / "report.md").exists()  # nothing stale from the first run survives
    assert _leftovers(folder.parent) == []


# ------------------------------------------------------------------------- the URL fetcher


class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        _Recorder.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[str]:
    _Recorder.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_fetcher_serves_template_files_and_data_uris_only(tmp_path: Path) -> None:
    from reportkit.render.pdf import make_fetcher

    folder = tmp_path / "tpl"
    folder.mkdir()
    (folder / "logo.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (folder / "passwd").symlink_to("/etc/passwd")
    fetcher = make_fetcher([folder])
    assert fetcher((folder / "logo.svg").as_uri()).read().startswith(b"<svg")
    assert fetcher("data:text/plain,hello").read() == b"hello"
    for url in (
        "file:///etc/passwd",
        (folder / "passwd").as_uri(),
        (folder / ".." / "tpl" / ".." / "x").as_uri(),
        "file://otherhost/etc/passwd",
        "http://127.0.0.1:9/x.png",
        "https://example.com/x.css",
        "ftp://example.com/x",
    ):
        with pytest.raises(ValueError, match="refuses"):
            fetcher(url)


def test_pdf_renders_without_reading_what_a_template_must_not_reach(
    tmp_path: Path, http_server: str
) -> None:
    from pypdf import PdfReader

    from reportkit.render.environment import template_dirs
    from reportkit.render.html import render_html
    from reportkit.render.pdf import make_fetcher, render_pdf
    from reportkit.render.view import build_report_view

    folder = tmp_path / "tpl"
    folder.mkdir()
    (folder / "logo.svg").write_text(
        "<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'/>"
    )
    (folder / "_count.html.j2").write_text(
        "<p>Custom partial {{ q.total|number }}</p>"
        "<img src='file:///etc/passwd'><img src='" + http_server + "/pixel.png'>"
        "<img src='logo.svg'>"
        "<div style=\"background: url('" + http_server + "/bg.png')\">x</div>"
        "<link rel='stylesheet' href='file:///etc/passwd'>"
    )
    output = OutputSpec(template=folder)
    html = render_html(build_report_view(make_report(queries=(count_query(),))), output, {})
    folders = template_dirs(folder)
    fetcher = make_fetcher(folders)
    pdf = render_pdf(html, folders, fetcher=fetcher)
    text = PdfReader(__import__("io").BytesIO(pdf)).pages[0].extract_text()
    assert "Custom partial 48,213" in text
    assert "root:" not in text
    assert "file:///etc/passwd" in fetcher.refused
    assert any(url.startswith(http_server) for url in fetcher.refused)
    assert _Recorder.hits == []


# ----------------------------------------------------------------------- reportkit render


def test_cli_render_rerenders_from_results_json(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from reportkit.cli import cli

    publish_report(tmp_path, _small(), HTML_ONLY)
    folder = tmp_path / "weekly-ecommerce" / "2026-11-29"
    results = json.loads((folder / "results.json").read_text("utf-8"))
    results["report"]["title"] = "Edited title"
    (folder / "results.json").write_text(json.dumps(results))
    done = CliRunner().invoke(cli, ["render", str(folder), "--format", "html,md", "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["formats"] == ["html", "md"]
    assert "Edited title" in (folder / "report.html").read_text("utf-8")
    assert (folder / "report.md").is_file()
    assert _leftovers(folder.parent) == []


def test_cli_render_explains_a_folder_without_results(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from reportkit.cli import cli

    done = CliRunner().invoke(cli, ["render", str(tmp_path)])
    assert done.exit_code == 1
    assert "holds no results.json" in done.output
