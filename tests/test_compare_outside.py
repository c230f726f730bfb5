"""Comparisons without blanks: a row whose previous count is unknown because it was outside the
previous window's top N says so in results.json, HTML, PDF and Markdown; on a real store, no
compared row is left without either a previous count or that mark."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from reportkit.cli import cli
from reportkit.language.model import OutputSpec
from reportkit.render import render_report
from reportkit.results import Row
from reportkit.results.codec import results_from_dict, results_to_dict
from tests.conftest import AS_OF
from tests.report_fixtures import make_report

REPORTS = Path(__file__).resolve().parent.parent / "reports"
MARK = "outside the previous top 10"


def _report_with_an_outsider():  # type: ignore[no-untyped-def]
    result = make_report()
    query = next(q for q in result.queries if q.kind == "top" and q.previous_window)
    group = query.groups[0]
    rows = list(group.rows)
    rows[-1] = replace(rows[-1], value="Face Cream", previous=None, previous_outside_top_n=True)
    group = replace(group, rows=tuple(rows), top_n=10)
    query = replace(query, groups=(group, *query.groups[1:]))
    queries = tuple(query if q.query_id == query.query_id else q for q in result.queries)
    return replace(result, queries=queries), query.query_id, group.key


def test_results_json_keeps_the_state_distinct_from_unknown_and_zero() -> None:
    result, query_id, key = _report_with_an_outsider()
    data = results_to_dict(result)
    rows = data["queries"][query_id]["groups"][key]["rows"]
    outsider = next(r for r in rows if r["value"] == "Face Cream")
    assert outsider == {
        "type": "STR",
        "value": "Face Cream",
        "count": outsider["count"],
        "previous_outside_top_n": True,
    }
    assert all("previous_outside_top_n" not in r for r in rows if r["value"] != "Face Cream")
    back = results_from_dict(json.loads(json.dumps(data)))
    again = next(q for q in back.queries if q.query_id == query_id).groups[0].rows
    assert again[-1] == Row("STR", "Face Cream", again[-1].count, None, True)


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._in = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        self._in = tag in ("td", "th")

    def handle_endtag(self, tag: str) -> None:
        self._in = False

    def handle_data(self, data: str) -> None:
        if self._in and self.rows and data.strip():
            self.rows[-1].append(data.strip())


@pytest.fixture(scope="module")
def files() -> dict[str, bytes]:
    result, _, _ = _report_with_an_outsider()
    return render_report(result, OutputSpec())


def test_html_marks_the_cell_instead_of_a_blank(files: dict[str, bytes]) -> None:
    cells = _Cells()
    cells.feed(files["report.html"].decode("utf-8"))
    row = next(r for r in cells.rows if "Face Cream" in r)
    assert row[-1] == MARK  # count and share, then the mark over the three compare columns
    header = next(r for r in cells.rows if "Previous" in r)
    others = [r for r in cells.rows if len(r) == len(header) and r is not header]
    assert others and all(r[header.index("Previous")] for r in others)  # no blank previous


def test_markdown_marks_the_cell(files: dict[str, bytes]) -> None:
    md = files["report.md"].decode("utf-8")
    line = next(x for x in md.splitlines() if "Face Cream" in x)
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[-3:] == [MARK, "n/a", "n/a"]


def test_pdf_shows_the_mark(files: dict[str, bytes]) -> None:
    reader = PdfReader(io.BytesIO(files["report.pdf"]))
    text = " ".join(" ".join(p.extract_text() for p in reader.pages).split())
    assert "Face Cream" in text and MARK in text


def test_a_real_weekly_run_leaves_no_compared_row_blank(demo_store: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli,
        [
            "run",
            str(REPORTS / "weekly-ecommerce.yaml"),
            "--as-of",
            AS_OF,
            "--source",
            f"local:{demo_store}",
            "--out",
            str(out),
            "--state-dir",
            str(tmp_path / "state"),
            "--format",
            "md",
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads((out / "weekly-ecommerce" / "2026-11-29" / "results.json").read_text())
    rows = [
        row
        for query in data["queries"].values()
        if query.get("compare")
        for group in (query.get("groups") or {}).values()
        for row in group["rows"]
    ]
    assert rows
    assert all(("previous" in r) != bool(r.get("previous_outside_top_n")) for r in rows), rows
    md = (out / "weekly-ecommerce" / "2026-11-29" / "report.md").read_text()
    for line in md.splitlines():
        if line.startswith("|") and not line.startswith("|-"):
            assert "|  |" not in line and "| |" not in line, line
