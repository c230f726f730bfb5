"""URLs, domains and addresses inside data values stay text in GitHub-flavoured Markdown."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from reportkit.language.model import OutputSpec
from reportkit.render.environment import markdown_inline
from tests.report_fixtures import make_report, top_query
from tests.test_outputs import publish_report

LINKY = [
    "https://evil.example/login",
    "see http://evil.example/x?a=1&b=2 now",
    "HTTPS://EVIL.EXAMPLE",
    "ftp://files.example/a",
    "www.evil.com",
    "WWW.Evil.Com/path",
    "(www.evil.com)",
    "*www.evil.com*",
    "bob@evil.com",
    "mail bob.smith+x@evil.com today",
    "mailto:bob@evil.com",
    "<https://evil.example>",
    "[click](https://evil.example)",
    "https://evil.example\u200b/zero-width",
]


def gfm() -> MarkdownIt:
    """A GitHub-like parser that links bare URLs, domains and e-mail addresses."""
    return MarkdownIt("gfm-like")


def links(md: str) -> list[str]:
    tokens = gfm().parse(md)
    inline = [child for token in tokens for child in (token.children or [])]
    return [t.attrGet("href") or "" for t in inline if t.type == "link_open"]  # type: ignore[misc]


def test_the_parser_links_what_github_links() -> None:
    """The check below is only worth something if this parser does link bare URLs."""
    assert all(links(value) for value in LINKY)


@pytest.mark.parametrize("value", LINKY)
def test_a_linky_value_stays_text_and_reads_the_same(value: str) -> None:
    escaped = str(markdown_inline(value))
    assert links(escaped) == []
    rendered = gfm().render(escaped)
    assert value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in rendered


def test_a_report_with_link_values_has_no_live_links_in_its_markdown(tmp_path: Path) -> None:
    query = top_query()
    group = query.groups[0]
    rows = tuple(replace(row, value=value) for row, value in zip(group.rows, LINKY, strict=False))
    query = replace(query, groups=(replace(group, rows=rows), *query.groups[1:]))
    report = replace(make_report(queries=(query,)), title="Report for www.evil.com")
    publish_report(tmp_path, report, OutputSpec(formats=("md",)))
    (md_file,) = tmp_path.rglob("report.md")
    md = md_file.read_text("utf-8")
    # only our own links (chart images) are links
    assert [href for href in links(md) if not href.startswith("charts/")] == []
    assert "Report for www.evil.com" in gfm().render(md)
