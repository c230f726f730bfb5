"""Templates that extend the built-ins: an override named like ours extends ours through the
`reportkit/` prefix and replaces one block, in HTML, PDF and Markdown."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pypdf import PdfReader

from reportkit.errors import RenderError
from reportkit.language.model import OutputSpec
from reportkit.render import render_report
from tests.report_fixtures import make_report

HTML_OVERRIDE = """\
{% extends "reportkit/report.html.j2" %}
{% block footer %}<footer class="report-footer">ACME Analytics, confidential: {{ report.title }}</footer>{% endblock %}
"""
MD_OVERRIDE = """\
{% extends "reportkit/report.md.j2" %}
{% block footer %}

---
ACME Analytics, confidential: {{ report.title }}
{% endblock %}
"""


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("company-templates")
    (folder / "report.html.j2").write_text(HTML_OVERRIDE, "utf-8")
    (folder / "report.md.j2").write_text(MD_OVERRIDE, "utf-8")
    result = make_report()
    files = render_report(result, OutputSpec(template=folder))
    pdf = PdfReader(io.BytesIO(files["report.pdf"]))
    return {
        "title": result.title,
        "html": files["report.html"].decode("utf-8"),
        "md": files["report.md"].decode("utf-8"),
        "pdf": "\n".join(page.extract_text() for page in pdf.pages),
    }


def test_html_override_replaces_one_block_and_keeps_the_rest(rendered: dict[str, str]) -> None:
    html = rendered["html"]
    assert f"ACME Analytics, confidential: {rendered['title']}" in html
    assert "Generated" not in html.split("<footer", 1)[1]  # our footer is gone
    assert html.count("<footer") == 1
    assert '<header class="report-header">' in html  # our header block stays
    assert 'class="query query-top"' in html and "<style>" in html


def test_pdf_shows_the_overridden_block(rendered: dict[str, str]) -> None:
    text = " ".join(rendered["pdf"].split())
    assert "ACME Analytics, confidential" in text
    assert "by reportkit" not in text
    assert "Trail Runner 2" in text  # the queries are still drawn


def test_markdown_override_replaces_the_footer_only(rendered: dict[str, str]) -> None:
    md = rendered["md"]
    assert md.rstrip().endswith(f"ACME Analytics, confidential: {rendered['title']}")
    assert "by reportkit" not in md
    assert md.startswith(f"# {rendered['title']}")
    assert "| Window |" in md and "### By Product" in md


def test_extending_the_same_name_without_the_prefix_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "report.html.j2").write_text('{% extends "report.html.j2" %}\n', "utf-8")
    with pytest.raises(RenderError) as caught:
        render_report(make_report(), OutputSpec(template=tmp_path, formats=("html",)))
    assert str(caught.value) == (
        "template report.html.j2 extends or includes itself without end: to extend the built-in"
        ' template of the same name, write {% extends "reportkit/report.html.j2" %}'
    )


def test_the_prefix_cannot_leave_our_folder(tmp_path: Path) -> None:
    (tmp_path / "report.html.j2").write_text(
        '{% extends "reportkit/../../../etc/passwd" %}\n', "utf-8"
    )
    with pytest.raises(RenderError, match="not found"):
        render_report(make_report(), OutputSpec(template=tmp_path, formats=("html",)))


def test_a_query_block_override_sees_the_query(tmp_path: Path) -> None:
    (tmp_path / "report.md.j2").write_text(
        '{% extends "reportkit/report.md.j2" %}\n'
        "{% block query %}\n\n## {{ q.title|cell }} ({{ q.kind }})\n{% endblock %}\n",
        "utf-8",
    )
    result = make_report()
    files = render_report(result, OutputSpec(template=tmp_path, formats=("md",)))
    text = files["report.md"].decode("utf-8")
    for query in result.queries:
        assert f"## {query.title} ({query.kind})" in text
    assert "| Count |" not in text  # the tables were in the replaced block
