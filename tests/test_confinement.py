"""Definitions and templates cannot read outside their folders, reach the network or write
outside --out: real runs with hostile template folders, chart overrides, ids and symlinks."""

from __future__ import annotations

import http.server
import io
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import ClassVar

import pytest
from click.testing import CliRunner, Result
from pypdf import PdfReader

from reportkit.cli import cli
from reportkit.language.spec import load_report
from reportkit.publish.folders import safe_id
from reportkit.runner import run_reports
from reportkit.sources.local import LocalEngine, LocalSource
from tests.conftest import AS_OF

SECRET = "TOP-SECRET-MARKER-7f3a"
END = "2026-11-29"


class Recorder(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        Recorder.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/css")
        self.end_headers()
        self.wfile.write(f'body::after {{ content: "{SECRET}" }}'.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def web() -> Iterator[str]:
    Recorder.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("store")
    data = tmp / "events.jsonl"
    lines = [
        {"event_name": "Charged", "ts": 20261120120000 + i, "profile": {"identity": f"u{i}"}}
        for i in range(5)
    ]
    data.write_text("".join(json.dumps(line) + "\n" for line in lines))
    done = CliRunner().invoke(cli, ["import", str(data), "--db", str(tmp / "s.duckdb")])
    assert done.exit_code == 0, done.output
    return tmp / "s.duckdb"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder no report may read from or write to, holding a secret."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_text(SECRET)
    (folder / "evil.css").write_text(f'body::after {{ content: "{SECRET}" }}')
    (folder / "secret.html.j2").write_text(f"<p>{SECRET}</p>")
    return folder


def definition(tmp_path: Path, *, report_id: str = "orders", **extra: object) -> Path:
    data = {
        "version": 1,
        "id": report_id,
        "title": "Orders",
        "window": "last_30_days",
        "queries": [{"id": "orders", "event": "Charged", "kind": "count"}],
        **extra,
    }
    path = tmp_path / f"{report_id.replace('/', '_')}.yaml"
    path.write_text(json.dumps(data))
    return path


def run(store: Path, tmp_path: Path, *paths: Path, extra: tuple[str, ...] = ()) -> Result:
    return CliRunner().invoke(
        cli,
        [
            "run",
            *map(str, paths),
            "--source",
            f"local:{store}",
            "--as-of",
            AS_OF,
            "--out",
            str(tmp_path / "out"),
            "--state-dir",
            str(tmp_path / "state"),
            *extra,
        ],
        env={"REPORTKIT_SMTP_URL": ""},
    )


def everything_under(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def templates(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "tpl"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


# --------------------------------------------------------------------------------- templates


def test_an_include_that_climbs_out_of_the_template_folder_is_not_found(
    store: Path, tmp_path: Path
) -> None:
    tpl = templates(tmp_path, {"_count.html.j2": "{% include '../../../../etc/passwd' %}"})
    done = run(store, tmp_path, definition(tmp_path, output={"template": str(tpl)}))
    assert done.exit_code == 1
    assert f"template ../../../../etc/passwd not found in {tpl.resolve()}" in done.stderr
    assert not (tmp_path / "out" / "orders" / END).exists()


@pytest.mark.parametrize("how", ["included", "the template itself"])
def test_a_template_that_is_a_symlink_out_of_its_folder_is_refused(
    store: Path, tmp_path: Path, outside: Path, how: str
) -> None:
    tpl = templates(tmp_path, {})
    if how == "included":
        (tpl / "_count.html.j2").write_text("{% include 'leak.html.j2' %}")
        (tpl / "leak.html.j2").symlink_to(outside / "secret.html.j2")
        name = "leak.html.j2"
    else:
        (tpl / "_count.html.j2").symlink_to(outside / "secret.html.j2")
        name = "_count.html.j2"
    done = run(store, tmp_path, definition(tmp_path, output={"template": str(tpl)}))
    assert done.exit_code == 1
    assert (
        f"template {name} is {tpl.resolve() / name}, which leads outside the template folders"
        in done.stderr
    )
    assert SECRET not in done.output
    assert not (tmp_path / "out" / "orders" / END).exists()


def test_a_symlink_to_a_file_inside_the_template_folders_is_followed(
    store: Path, tmp_path: Path
) -> None:
    tpl = templates(tmp_path, {"mine.html.j2": "<p class='mine'>Mine {{ q.total }}</p>"})
    (tpl / "_count.html.j2").symlink_to(tpl / "mine.html.j2")
    done = run(store, tmp_path, definition(tmp_path, output={"template": str(tpl)}))
    assert done.exit_code == 0, done.output
    assert "Mine 5" in (tmp_path / "out" / "orders" / END / "report.html").read_text()


def test_a_template_cannot_make_the_pdf_read_files_or_reach_the_network(
    store: Path, tmp_path: Path, outside: Path, web: str
) -> None:
    secret_url = (outside / "secret.txt").as_uri()
    css_url = (outside / "evil.css").as_uri()
    tpl = templates(
        tmp_path,
        {
            "_count.html.j2": (
                "<p>Custom {{ q.total }}</p>"
                f"<img src='{secret_url}'><img src='file:///etc/passwd'><img src='{web}/x.png'>"
                f"<link rel='stylesheet' href='{css_url}'>"
                f"<link rel='stylesheet' href='{web}/link.css'>"
                f"<link rel='attachment' href='{secret_url}'>"
                f"<object data='{secret_url}'></object><embed src='{web}/embed.svg'>"
                f"<div style=\"background: url('{web}/bg.png')\">styled</div>"
            ),
            "report.css": (
                f"@import url({web}/import.css);\n@import '{css_url}';\n"
                f"@font-face {{ font-family: x; src: url({web}/font.woff); }}\n"
                f"body {{ background: url({secret_url}); }}\n"
                "@page { size: {{ page_size }}; }\n"
            ),
        },
    )
    done = run(store, tmp_path, definition(tmp_path, output={"template": str(tpl)}))
    assert done.exit_code == 0, done.output
    assert done.stderr == ""  # WeasyPrint's complaints about refused resources stay quiet
    folder = tmp_path / "out" / "orders" / END
    pdf = (folder / "report.pdf").read_bytes()
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "Custom 5" in text and "styled" in text
    assert SECRET not in text and "root:" not in text
    assert SECRET.encode() not in everything_under(tmp_path / "out")
    assert b"/EmbeddedFile" not in pdf
    assert Recorder.hits == []


# ------------------------------------------------------------------------------------ charts


@pytest.mark.parametrize(
    ("chart", "refused"),
    [
        (
            {
                "vega_lite": {
                    "layer": [{"mark": "image", "encoding": {"url": {"value": "{web}/i"}}}]
                }
            },
            "<image>",
        ),
        ({"color": "url({web}/paint)"}, "url({web}/paint)"),
        ({"vega_lite": {"encoding": {"href": {"value": "{web}/link"}}}}, "{web}/link"),
    ],
)
def test_a_chart_override_cannot_load_or_link_anything(
    store: Path, tmp_path: Path, web: str, chart: dict[str, object], refused: str
) -> None:
    override = json.loads(json.dumps(chart).replace("{web}", web))
    query = {"id": "daily", "event": "Charged", "kind": "trend", "chart": override}
    report = definition(tmp_path, queries=[query])
    done = run(store, tmp_path, report)
    assert done.exit_code == 1
    refused = refused.replace("{web}", web)
    assert f"chart 'daily' refers to {refused}: a chart may not load images" in done.stderr
    assert Recorder.hits == []
    assert not (tmp_path / "out" / "orders" / END).exists()


# ------------------------------------------------------------------------------ ids and --out


@pytest.mark.parametrize("report_id", ["../escape", "/abs/escape", "a/b"])
def test_a_definition_cannot_name_a_path_as_its_id(
    store: Path, tmp_path: Path, report_id: str
) -> None:
    done = run(store, tmp_path, definition(tmp_path, report_id=report_id))
    assert done.exit_code == 2
    assert "must start with a letter or digit" in done.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("report_id", ["../../escape", "/tmp/escape", "..", "a/../../b"])
def test_the_python_api_keeps_any_id_inside_out(
    store: Path, tmp_path: Path, report_id: str
) -> None:
    report = replace(load_report(definition(tmp_path)), id=report_id)
    engine = LocalEngine(store, read_only=True)
    out = tmp_path / "deep" / "out"
    try:
        (outcome,) = run_reports(
            [report], LocalSource(engine, "local"), out=out, as_of=date(2026, 11, 30)
        )
    finally:
        engine.close()
    if report_id == "..":
        assert outcome.error == "report id '..' gives no usable folder name"
        assert not out.exists()
        return
    assert outcome.ok, outcome.error
    assert outcome.out_dir == out / safe_id(report_id) / END
    assert [p.name for p in out.iterdir()] == [safe_id(report_id)]
    assert sorted(p.name for p in (tmp_path / "deep").iterdir()) == ["out"]


def test_ids_that_would_clean_alike_get_folders_of_their_own(store: Path, tmp_path: Path) -> None:
    ids = ["a-b", "a--b", "a..b", "a.b"]
    done = run(store, tmp_path, *(definition(tmp_path, report_id=i) for i in ids))
    assert done.exit_code == 0, done.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(ids)


@pytest.mark.parametrize("level", ["report", "window end", "outbox"])
def test_a_symlink_inside_out_is_refused_not_followed(
    store: Path, tmp_path: Path, outside: Path, level: str
) -> None:
    out = tmp_path / "out"
    link = {"report": out / "orders", "window end": out / "orders" / END, "outbox": out / "outbox"}
    link[level].parent.mkdir(parents=True, exist_ok=True)
    link[level].symlink_to(outside, target_is_directory=True)
    email = {"email": {"to": ["a@example.com"]}}
    done = run(
        store, tmp_path, definition(tmp_path, deliver=email), extra=("--deliver", "--dry-run")
    )
    assert done.exit_code == 1
    assert f"through the symlink {link[level]}" in done.stderr
    assert sorted(os.listdir(outside)) == ["evil.css", "secret.html.j2", "secret.txt"]


def test_out_itself_may_be_a_symlink(store: Path, tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "out").symlink_to(real, target_is_directory=True)
    done = run(store, tmp_path, definition(tmp_path))
    assert done.exit_code == 0, done.output
    assert (real / "orders" / END / "report.html").is_file()


def test_an_edited_results_json_cannot_steer_where_mail_files_go(
    store: Path, tmp_path: Path
) -> None:
    from reportkit.deliver.email import deliver_folder
    from reportkit.language.model import EmailSpec

    assert run(store, tmp_path, definition(tmp_path), extra=("--format", "md")).exit_code == 0
    folder = tmp_path / "out" / "orders" / END
    results = json.loads((folder / "results.json").read_text())
    results["report"]["id"] = "../../../escaped"
    (folder / "results.json").write_text(json.dumps(results))
    outbox = tmp_path / "out" / "outbox"
    delivery = deliver_folder(
        folder,
        EmailSpec(to=("a@example.com",), attach=("md",)),
        config=None,
        state_dir=tmp_path / "state",
        outbox=outbox,
        dry_run=True,
    )
    name = f"{safe_id('../../../escaped')}-{END}.eml"
    assert delivery.detail == str(outbox / name)
    assert os.listdir(outbox) == [name]
    assert [p.name for p in tmp_path.rglob("*.eml")] == [name]


# ------------------------------------------------------------- template folders: where they may be


def _with_template(folder: Path, template: str) -> Path:
    path = folder / "reports" / "r.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "version: 1\ntitle: T\nqueries:\n  - {id: a, event: E, kind: count}\n"
        f"output:\n  template: {template}\n"
    )
    return path


@pytest.mark.parametrize("template", ["/", "../../outside", "/etc"])
def test_a_template_folder_outside_the_repository_is_refused(tmp_path: Path, template: str) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    path = _with_template(repo, template)
    done = CliRunner().invoke(cli, ["validate", str(path)], env={"REPORTKIT_TEMPLATE_DIRS": ""})
    assert done.exit_code == 2
    assert done.stderr == (
        f"{path}:6:3: output.template: template folder {template!r} is outside the report's "
        f"repository {repo.resolve()}: keep templates inside it, or list the folder in "
        "$REPORTKIT_TEMPLATE_DIRS\n"
    )


def test_a_template_folder_inside_the_repository_or_listed_is_taken(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "look").mkdir()
    shared = tmp_path / "shared"
    shared.mkdir()
    inside = _with_template(repo, "../look")
    assert CliRunner().invoke(cli, ["validate", str(inside)]).exit_code == 0
    listed = _with_template(repo, str(shared))
    env = {"REPORTKIT_TEMPLATE_DIRS": f"/nowhere{os.pathsep}{shared}"}
    assert CliRunner().invoke(cli, ["validate", str(listed)], env=env).exit_code == 0
    assert (
        CliRunner()
        .invoke(cli, ["validate", str(listed)], env={"REPORTKIT_TEMPLATE_DIRS": ""})
        .exit_code
        == 2
    )
