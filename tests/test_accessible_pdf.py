"""Accessible and archivable PDFs, checked the way users' tools check them: pypdf reads the tag
tree, the XMP identification (PDF/UA-1, PDF/A-3) and the embedded files; the HTML is parsed for
its landmarks."""

from __future__ import annotations

import io
import itertools
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from reportkit.cli import cli
from reportkit.language.model import OutputSpec
from reportkit.render import render_report, results_bytes
from tests.conftest import AS_OF
from tests.report_fixtures import make_report


def _tree(node: Any, out: list[tuple[str, Any]]) -> None:
    node = node.get_object() if hasattr(node, "get_object") else node
    if isinstance(node, list):
        for child in node:
            _tree(child, out)
        return
    if not hasattr(node, "get") or "/S" not in node:
        return
    out.append((str(node["/S"]), node))
    kids = node.get("/K")
    if kids is not None:
        _tree(kids, out)


def structure(reader: PdfReader) -> list[tuple[str, Any]]:
    root = reader.trailer["/Root"]["/StructTreeRoot"].get_object()
    out: list[tuple[str, Any]] = []
    _tree(root["/K"], out)
    return out


def xmp(reader: PdfReader) -> str:
    return reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode("utf-8")


@pytest.fixture(scope="module")
def tagged() -> tuple[PdfReader, bytes]:
    report = make_report(long_rows=40)
    files = render_report(report, OutputSpec(), formats=["html", "pdf"])
    return PdfReader(io.BytesIO(files["report.pdf"])), files["report.html"]


def test_every_pdf_is_tagged_pdf_ua_1_with_title_and_language(tagged: Any) -> None:
    reader, _ = tagged
    root = reader.trailer["/Root"]
    assert "/StructTreeRoot" in root
    assert root["/MarkInfo"]["/Marked"].value is True
    assert root["/Lang"] == "en"
    assert root["/ViewerPreferences"]["/DisplayDocTitle"].value is True
    assert reader.metadata.title == "Weekly e-commerce"
    assert re.search(r'pdfuaid:part="1"|<pdfuaid:part>1<', xmp(reader))


def test_headings_come_in_order(tagged: Any) -> None:
    reader, _ = tagged
    levels = [int(s[2]) for s, _ in structure(reader) if re.fullmatch(r"/H[1-6]", s)]
    assert levels[0] == 1 and levels.count(1) == 1
    assert {2, 3} <= set(levels)
    for before, after in itertools.pairwise(levels):
        assert after <= before + 1, levels  # never skips a level going down


def test_tables_have_header_cells(tagged: Any) -> None:
    reader, _ = tagged
    tags = structure(reader)
    tables = [node for s, node in tags if s == "/Table"]
    assert len(tables) >= 5
    for table in tables:
        inside: list[tuple[str, Any]] = []
        _tree(table["/K"], inside)
        headers = [s for s, _ in inside if s == "/TH"]
        assert headers and any(s == "/TD" for s, _ in inside)


def test_each_chart_is_a_figure_with_its_title_and_values(tagged: Any) -> None:
    reader, _ = tagged
    report = make_report(long_rows=40)
    figures = [node for s, node in structure(reader) if s == "/Figure"]
    alts = [str(f.get("/Alt", "")) for f in figures]
    assert len(alts) == 7 and all(alts)  # 6 charts and the 40-row one
    products = report.queries[1]
    first = products.groups[0].rows[0]
    bar = next(a for a in alts if a.startswith(f"Bar chart, {products.title}: Product."))
    assert f"{first.value}: {first.count:,} (previous {first.previous:,})" in bar
    trend = next(a for a in alts if a.startswith("Line chart,"))
    point = report.queries[4].trend[0]
    assert f": {point.count:,}" in trend
    long = next(a for a in alts if "more rows in the table" in a)
    assert "; 15 more rows in the table." in long  # 40 rows, 25 drawn


class _Landmarks(HTMLParser):
    LANDMARKS = frozenset({"main", "header", "footer", "nav", "aside"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.outside: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in ("meta", "link", "br", "img", "input", "hr", "rect", "path", "line"):
            return
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        while self.stack and self.stack.pop() != tag:
            pass

    def handle_data(self, data: str) -> None:
        if data.strip() and "body" in self.stack and not self.LANDMARKS & set(self.stack):
            self.outside.append(data.strip())


def test_html_has_a_main_landmark_and_no_content_outside_landmarks(tagged: Any) -> None:
    _, html = tagged
    page = _Landmarks()
    page.feed(html.decode())
    names = [t for t, _ in page.tags]
    assert names.count("main") == 1
    assert page.outside == []
    svgs = [a for t, a in page.tags if t == "svg"]
    assert svgs and all(a.get("role") == "img" and a.get("aria-label") for a in svgs)
    assert any(t == "nav" and a.get("aria-label") == "Contents" for t, a in page.tags)
    assert all(a.get("scope") == "col" for t, a in page.tags if t == "th")


def test_an_archive_pdf_is_pdf_a_3_carrying_results_and_definition() -> None:
    report = make_report()
    definition = ("weekly.yaml", b"title: Weekly\n")
    files = render_report(
        report, OutputSpec(pdf_archive=True), formats=["pdf"], definition=definition
    )
    reader = PdfReader(io.BytesIO(files["report.pdf"]))
    meta = xmp(reader)
    assert 'pdfaid:part="3"' in meta and 'pdfaid:conformance="A"' in meta
    assert "<pdfuaid:part>1</pdfuaid:part>" in meta  # still accessible
    assert "/StructTreeRoot" in reader.trailer["/Root"]
    attachments = reader.attachments
    assert attachments["results.json"] == [results_bytes(report)]
    assert attachments["weekly.yaml"] == [b"title: Weekly\n"]
    af = [ref.get_object() for ref in reader.trailer["/Root"]["/AF"]]
    assert sorted(str(spec["/AFRelationship"]) for spec in af) == ["/Data", "/Source"]
    assert reader.trailer["/Root"]["/OutputIntents"]  # sRGB, as PDF/A asks


ARCHIVED = """\
version: 1
title: Archived orders
timezone: UTC
window: last_7_days
queries:
  - id: orders
    title: Orders
    event: Charged
    kind: count
  - id: cities
    title: Cities
    event: Charged
    groups:
      city: { property_type: geo_fields, name: City, top_n: 5 }
output:
  formats: [pdf]
  pdf: { archive: true }
"""


def test_render_rebuilds_a_report_folder_from_an_archive_pdf(
    demo_store: Path, tmp_path: Path
) -> None:
    definition = tmp_path / "archived.yaml"
    definition.write_text(ARCHIVED)
    runner = CliRunner()
    ran = runner.invoke(
        cli,
        [
            *("run", str(definition), "--as-of", AS_OF, "--source", f"local:{demo_store}"),
            *("--out", str(tmp_path / "out"), "--state-dir", str(tmp_path / "state"), "--json"),
        ],
    )
    assert ran.exit_code == 0, ran.output
    folder = Path(json.loads(ran.stdout)[0]["directory"])
    pdf = tmp_path / "kept.pdf"
    pdf.write_bytes((folder / "report.pdf").read_bytes())

    done = runner.invoke(cli, ["render", str(pdf), "--out", str(tmp_path / "restored"), "--json"])
    assert done.exit_code == 0, done.output
    restored = Path(json.loads(done.stdout)["directory"])
    assert restored == tmp_path / "restored" / "archived" / "2026-11-29"
    assert (restored / "results.json").read_bytes() == (folder / "results.json").read_bytes()
    assert (restored / "report.pdf").read_bytes() == pdf.read_bytes()
    html = (restored / "report.html").read_text()
    orders = json.loads((folder / "results.json").read_text())["queries"]["orders"]["count"]
    assert f"{orders:,}" in html and "Archived orders" in html
    assert "Archived orders" in (restored / "report.md").read_text()
    assert PdfReader(restored / "report.pdf").attachments["archived.yaml"] == [ARCHIVED.encode()]

    # rendering the folder again keeps the PDF an archive, with its definition
    again = runner.invoke(cli, ["render", str(restored), "--format", "pdf"])
    assert again.exit_code == 0, again.output
    assert "archived.yaml" in PdfReader(restored / "report.pdf").attachments


def test_a_pdf_without_results_is_invalid_input(tmp_path: Path) -> None:
    files = render_report(make_report(), OutputSpec(), formats=["pdf"])
    plain = tmp_path / "plain.pdf"
    plain.write_bytes(files["report.pdf"])
    done = CliRunner().invoke(cli, ["render", str(plain)])
    assert done.exit_code == 2
    assert done.stderr.strip() == (
        f"error: {plain}: this PDF carries no results.json; only a report made with "
        "output.pdf.archive: true can be rebuilt from its PDF"
    )
    junk = tmp_path / "junk.pdf"
    junk.write_bytes(b"not a pdf at all")
    done = CliRunner().invoke(cli, ["render", str(junk)])
    assert done.exit_code == 2 and done.stderr.startswith(f"error: {junk}: not a readable PDF")
