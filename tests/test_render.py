"""Rendering as a reader sees it: PDF text (pypdf), parsed HTML, Markdown text and a golden file.

WeasyPrint takes about half a second a document, so the big report is rendered once per module.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest
from pypdf import PdfReader

from reportkit.language.model import OutputSpec
from reportkit.publish.folders import write_rendered
from reportkit.render import render_report
from reportkit.render.labels import value_label
from reportkit.render.view import build_report_view
from tests.report_fixtures import HOSTILE, JINJA, count_query, make_report, trend_query

GOLDEN = Path(__file__).parent / "golden"


class _Page(HTMLParser):
    """Tags, attributes and text of an HTML document, as a browser's parser sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in ("style", "script"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.text.append(data)

    def names(self) -> list[str]:
        return [tag for tag, _ in self.tags]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    out = tmp_path_factory.mktemp("report")
    result = make_report(hostile=True, long_rows=100)
    files = write_rendered(out, render_report(result, OutputSpec()))
    page = _Page()
    page.feed((out / "report.html").read_text("utf-8"))
    reader = PdfReader(io.BytesIO((out / "report.pdf").read_bytes()))
    return {
        "out": out,
        "files": files,
        "result": result,
        "html": (out / "report.html").read_text("utf-8"),
        "page": page,
        "md": (out / "report.md").read_text("utf-8"),
        "pages": [p.extract_text() for p in reader.pages],
        "reader": reader,
    }


def test_render_report_writes_every_format_and_returns_the_paths(rendered: dict) -> None:
    out: Path = rendered["out"]
    names = {p.relative_to(out).as_posix() for p in rendered["files"]}
    assert {"report.html", "report.md", "report.pdf"} <= names
    assert "charts/top-products-product.png" in names
    assert all(p.is_file() and p.stat().st_size > 0 for p in rendered["files"])
    assert (out / "charts" / "daily-orders.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ------------------------------------------------------------------------------------- PDF


def test_pdf_shows_titles_numbers_and_headline(rendered: dict) -> None:
    text = "\n".join(rendered["pages"])
    assert f"Weekly {HOSTILE} {JINJA}" in text
    assert "Orders placed" in text and "48,213" in text and "9,120" in text
    assert "+3,103" in text  # change against 45,110
    assert "2026-11-23 – 2026-11-29" in text
    assert "(not set)" in text
    assert "0–100" in text and "900–1,000" in text


def test_pdf_says_demo_data_and_page_number_on_every_page(rendered: dict) -> None:
    pages = rendered["pages"]
    assert len(pages) >= 3
    for number, text in enumerate(pages, start=1):
        assert "DEMO DATA" in text, f"page {number} lacks the demo marker"
        assert f"Page {number} of {len(pages)}" in text


def test_pdf_repeats_the_table_header_on_the_next_page_of_a_long_table(rendered: dict) -> None:
    pages = rendered["pages"]
    first = next(i for i, t in enumerate(pages) if "Product 000" in t)
    later = next(i for i, t in enumerate(pages) if "Product 080" in t)
    assert later > first, "the 100-row table should run onto another page"
    assert "Product 000" not in pages[later]
    header = "# PRODUCT COUNT SHARE PREVIOUS CHANGE % CHANGE"
    assert header in " ".join(pages[later].split())


def test_pdf_is_a4_portrait_by_default(rendered: dict) -> None:
    box = rendered["reader"].pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)


def test_pdf_shows_hostile_values_as_text(rendered: dict) -> None:
    text = "\n".join(rendered["pages"])
    assert HOSTILE in text
    assert JINJA in text


def test_pdf_paper_and_orientation_come_from_the_output_spec(tmp_path: Path) -> None:
    result = make_report(queries=(count_query(),))
    write_rendered(
        tmp_path,
        render_report(result, OutputSpec(paper="letter", orientation="landscape"), formats=["pdf"]),
    )
    box = PdfReader(tmp_path / "report.pdf").pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (792, 612)


# ------------------------------------------------------------------------------------ HTML


def test_html_is_self_contained(rendered: dict) -> None:
    page: _Page = rendered["page"]
    names = page.names()
    assert names.count("style") == 1
    assert "link" not in names and "img" not in names and "script" not in names
    for _tag, attrs in page.tags:
        for attr in ("src", "href"):
            ref = attrs.get(attr)
            assert ref is None or ref.startswith(("#", "data:")), ref
    view = build_report_view(rendered["result"])
    charts = sum(len(q.groups) for q in view.queries if q.kind == "top") + sum(
        1 for q in view.queries if q.kind == "trend"
    )
    assert names.count("svg") == charts


def test_html_shows_hostile_values_as_text_never_markup(rendered: dict) -> None:
    page: _Page = rendered["page"]
    text = "".join(page.text)
    assert HOSTILE in text
    assert JINJA in text  # never evaluated: no 49 in its place
    assert "script" not in page.names()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered["html"]


def test_html_header_and_demo_banner(rendered: dict) -> None:
    text = " ".join(" ".join(rendered["page"].text).split())
    assert "Demo data — this report was built" in text
    assert "Timezone UTC" in text and "As of 2026-11-30" in text
    assert "Generated 2026-11-30 07:00 UTC" in text


def test_html_buckets_in_range_order_and_dates_readable(rendered: dict) -> None:
    text = "".join(rendered["page"].text)
    positions = [text.index(f"{lo:,}–{lo + 100:,}") for lo in range(0, 1000, 100)]
    assert positions == sorted(positions)
    assert "2026-11-23" in text and "1795392000" not in text


def test_user_template_overrides_ours_file_by_file(tmp_path: Path) -> None:
    folder = tmp_path / "tpl"
    folder.mkdir()
    (folder / "_count.html.j2").write_text("<p class='mine'>Custom {{ q.total|number }}</p>")
    out = tmp_path / "out"
    write_rendered(
        out,
        render_report(
            make_report(queries=(count_query(), trend_query())),
            OutputSpec(template=folder),
            formats=["html"],
        ),
    )
    html = (out / "report.html").read_text("utf-8")
    assert "Custom 48,213" in html
    assert "Orders per day" in html  # the trend partial is still ours


# -------------------------------------------------------------------------------- Markdown


def test_markdown_escapes_hostile_values_and_table_cells(rendered: dict) -> None:
    md: str = rendered["md"]
    assert "<script" not in md
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in md
    assert "Shoes \\| Sandals and more" in md
    assert JINJA.replace("*", "\\*") in md
    table = [line for line in md.splitlines() if line.startswith("| 3 |")]
    assert table, "the pipe row is in a table"
    cells = [c for c in table[0].replace("\\|", "").split("|")]
    header = next(line for line in md.splitlines() if line.startswith("| # | Product"))
    assert len(cells) == len(header.split("|"))


def test_markdown_references_chart_pngs_relatively(rendered: dict) -> None:
    md: str = rendered["md"]
    out: Path = rendered["out"]
    assert "](charts/top-products-product.png)" in md
    for line in md.splitlines():
        if line.startswith("!["):
            target = line.rsplit("](", 1)[1].rstrip(")")
            assert not target.startswith("/") and (out / target).is_file()
    assert "**DEMO DATA**" in md


def test_markdown_matches_the_golden_file(tmp_path: Path) -> None:
    result = make_report(demo=False, queries=(count_query(), trend_query()))
    write_rendered(tmp_path, render_report(result, OutputSpec(), formats=["md"]))
    got = (tmp_path / "report.md").read_text("utf-8")
    golden = GOLDEN / "small-report.md"
    if os.environ.get("REPORTKIT_UPDATE_GOLDEN"):  # rewrite, review the diff, commit
        golden.write_text(got, "utf-8")
    assert got == golden.read_text("utf-8")


# ---------------------------------------------------------------------------------- misc


def test_value_labels() -> None:
    assert value_label("-1", "STR") == "(not set)"
    assert value_label("-1", "NUMBER") == "(not set)"
    assert value_label("0-100", "NUMBER") == "0–100"
    assert value_label("1795392000-1795478400", "DATE") == "2026-11-23"
    assert value_label("1795392000-1795564800", "DATE") == "2026-11-23 – 2026-11-24"
    assert value_label("Gold", "STR") == "Gold"


def test_percent_change_is_blank_when_previous_is_zero_or_missing() -> None:
    from reportkit.results import GroupTable, Row
    from tests.report_fixtures import top_query

    q = top_query()
    rows = (Row("STR", "a", 10, 0), Row("STR", "b", 10, None), Row("STR", "c", 15, 10))
    q = type(q)(
        **{
            **{f: getattr(q, f) for f in q.__slots__},
            "groups": (GroupTable("g", "G", "event_properties", 3, "desc", rows),),
        }
    )
    view = build_report_view(make_report(queries=(q,)))
    got = [(r.change, r.pct_change) for r in view.queries[0].groups[0].rows]
    assert got == [(10, None), (None, None), (5, 50.0)]


def test_importing_render_stays_light() -> None:
    code = (
        "import sys, reportkit.render, reportkit.publish.folders, reportkit.cli;"
        "heavy = {'weasyprint', 'vl_convert', 'jinja2'} & set(sys.modules);"
        "print(sorted(heavy))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_chart_override_changes_mark_colour_and_merges_a_fragment_but_not_data() -> None:
    from reportkit.render.charts import apply_override, build_charts, render_svg

    query = replace(
        trend_query(),
        chart={
            "mark": "area",
            "color": "#aa3377",
            "vega_lite": {"height": 90, "data": {"url": "file:///etc/passwd"}},
        },
    )
    (chart,) = build_charts(build_report_view(make_report(queries=(query,))))
    main = chart.spec["layer"][0]
    assert main["mark"]["type"] == "area" and chart.spec["height"] == 90
    assert main["encoding"]["color"]["scale"]["range"][0] == "#aa3377"
    assert "values" in chart.spec["data"] and "url" not in chart.spec["data"]
    assert "#aa3377" in render_svg(chart)
    hidden = replace(query, chart={"show": False})
    assert build_charts(build_report_view(make_report(queries=(hidden,)))) == []
    assert apply_override({"layer": [{"mark": {"type": "bar"}, "encoding": {}}]}, None)
