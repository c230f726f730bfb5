"""Hostile values and event names, through a real import and a real `reportkit run`.

One store, one run (HTML, Markdown, PDF, charts, a dry-run email), then every output read the
way its reader reads it: HTML by a parser, Markdown by a CommonMark parser with GFM tables, the PDF
by pypdf, the email by the email package. Each value must show as the same inert text it is.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from email import message_from_bytes, policy
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from markdown_it import MarkdownIt
from pypdf import PdfReader

from reportkit.cli import cli
from reportkit.render.labels import display_text
from tests.conftest import AS_OF

HOSTILE = {
    "script": "<script>alert(1)</script>",
    "img": "<img src=x onerror=alert(2)>",
    "svg": "<svg onload=alert(3)>",
    "css": "</style><style>body{display:none}</style>",
    "markdown": "| pipes | **bold** [link](http://x) `code`",
    "heading": "# heading",
    "list": "- item",
    "jinja": "{{ 7*7 }}",
    "include": "{% include '/etc/passwd' %}",
    "file": "file:///etc/passwd",
    "url": "http://example.invalid/x.png",
    "image": "![img](http://example.invalid/x.png)",
    "rtl": "user\u202egnp.exe",
    "controls": "nul\x00bel\x07esc\x1b[31mred\x7fdel\x1fus",
    "newline": "first line\nBcc: victim@example.com",
    "long": "W" * 3000,
}
PROPERTY = "Thing <script>alert(4)</script> | {{ 7*7 }}"
EVENT = "Purchase"
LONG_EVENT = "E" * 500  # the schema allows event names of 512 characters
# every character that must never reach an output as itself (tab and newline may)
RAW_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def events() -> list[dict[str, Any]]:
    """Value i is seen i+1 times (so the ranking is fixed); each hostile name is an event."""
    rows = []
    for rank, value in enumerate(HOSTILE.values()):
        for n in range(rank + 1):
            rows.append(
                {
                    "event_name": EVENT,
                    "ts": 20261120120000 + n,
                    "profile": {"identity": f"u{rank}-{n}"},
                    "event_props": {PROPERTY: value},
                }
            )
    for key, name in [*HOSTILE.items(), ("long-event", LONG_EVENT)]:
        if len(name) <= 512:
            rows.append(
                {
                    "event_name": name,
                    "ts": 20261121120000,
                    "profile": {"identity": f"e-{key}"},
                    "event_props": {PROPERTY: name},
                }
            )
    return rows


def definition() -> dict[str, Any]:
    """A report over the hostile data, written as JSON (valid YAML) so any character fits."""
    queries: list[dict[str, Any]] = [
        {
            "id": "values",
            "title": "Values",
            "event": EVENT,
            "groups": {
                "thing": {"property_type": "event_properties", "name": PROPERTY, "top_n": 20}
            },
        }
    ]
    for key, name in HOSTILE.items():
        if len(name) <= 300:
            queries.append({"id": f"ev-{key}", "title": name, "event": name, "kind": "count"})
    queries += [
        {"id": "ev-long", "title": "long event", "event": LONG_EVENT, "kind": "count"},
        {
            "id": "trend",
            "title": HOSTILE["controls"],
            "event": HOSTILE["controls"],
            "kind": "trend",
        },
        {
            "id": "by-event",
            "title": HOSTILE["script"],
            "event": HOSTILE["rtl"],
            "groups": {
                "thing": {"property_type": "event_properties", "name": PROPERTY, "top_n": 20}
            },
        },
    ]
    rows = "queries['values'].groups[0].rows"
    return {
        "version": 1,
        "id": "hostile",
        "title": f"Hostile {HOSTILE['jinja']} {HOSTILE['script']}",
        "description": HOSTILE["markdown"],
        "window": "last_30_days",
        "output": {"formats": ["html", "md", "pdf"]},
        "queries": queries,
        "deliver": {
            "email": {
                "to": ["team@example.com"],
                "subject": f"{{% for r in {rows} %}}[{{{{ r.label }}}}]{{% endfor %}}",
                "body": f"{{% for r in {rows} %}}{{{{ r.label }}}}\n{{% endfor %}}",
                "attach": ["md"],
            }
        },
    }


@dataclass(frozen=True)
class Run:
    folder: Path
    html: str
    md: str
    pdf_text: str
    eml: bytes
    stdout: str


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("store")
    data = tmp / "events.jsonl"
    data.write_text("".join(json.dumps(e) + "\n" for e in events()), "utf-8")
    imported = CliRunner().invoke(cli, ["import", str(data), "--db", str(tmp / "store.duckdb")])
    assert imported.exit_code == 0, imported.output
    return tmp / "store.duckdb"


@pytest.fixture(scope="module")
def run(store: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    tmp = tmp_path_factory.mktemp("hostile")
    runner = CliRunner()
    report = tmp / "hostile.yaml"
    report.write_text(json.dumps(definition(), indent=1), "utf-8")
    done = runner.invoke(
        cli,
        [
            "run",
            str(report),
            "--source",
            f"local:{store}",
            "--as-of",
            AS_OF,
            "--out",
            str(tmp / "out"),
            "--state-dir",
            str(tmp / "state"),
            "--deliver",
            "--dry-run",
        ],
        env={"REPORTKIT_SMTP_URL": ""},
    )
    assert done.exit_code == 0, done.output
    folder = tmp / "out" / "hostile" / "2026-11-29"
    pdf = PdfReader(io.BytesIO((folder / "report.pdf").read_bytes()))
    return Run(
        folder=folder,
        html=(folder / "report.html").read_text("utf-8"),
        md=(folder / "report.md").read_text("utf-8"),
        pdf_text="\n".join(page.extract_text() for page in pdf.pages),
        eml=(tmp / "out" / "outbox" / "hostile-2026-11-29.eml").read_bytes(),
        stdout=done.stdout,
    )


class Page(HTMLParser):
    """What a browser builds from an HTML document: elements, attributes, cell and text."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.cells: list[str] = []
        self.styles: list[str] = []
        self.text: list[str] = []
        self._cell: list[str] | None = None
        self._style: list[str] | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in ("td", "th"):
            self._cell = []
        if tag == "style":
            self._style = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.cells.append("".join(self._cell))
            self._cell = None
        if tag == "style" and self._style is not None:
            self.styles.append("".join(self._style))
            self._style = None

    def handle_data(self, data: str) -> None:
        if self._style is not None:
            self._style.append(data)
            return
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def shown(value: str) -> str:
    """The inert text a reader sees for `value` (whitespace folded, as a page shows it)."""
    return " ".join(display_text(value).split())


def assert_nothing_executable(page: Page) -> None:
    names = [tag for tag, _ in page.tags]
    for forbidden in ("script", "iframe", "object", "embed", "link", "img", "image"):
        assert forbidden not in names, forbidden
    for tag, attrs in page.tags:
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name, value)
            if name in ("src", "href", "xlink:href", "action", "formaction"):
                assert value is None or value.startswith(("#", "data:")), (tag, name, value)
            if name == "style" and value:
                assert "url(" not in value.replace("url(#", ""), (tag, value)


# ------------------------------------------------------------------------------------- HTML


def test_html_has_nothing_executable_derived_from_data(run: Run) -> None:
    page = Page(run.html)
    assert_nothing_executable(page)
    assert [tag for tag, _ in page.tags].count("style") == 1  # ours
    (style,) = page.styles
    assert "display:none" not in style and "url(" not in style


@pytest.mark.parametrize("key", list(HOSTILE))
def test_html_shows_each_value_as_its_inert_text_in_a_cell(run: Run, key: str) -> None:
    cells = [" ".join(cell.split()) for cell in Page(run.html).cells]
    assert shown(HOSTILE[key]) in cells


def test_html_shows_event_names_and_property_names_as_text(run: Run) -> None:
    text = " ".join(" ".join(Page(run.html).text).split())
    for name in (HOSTILE["script"], HOSTILE["css"], HOSTILE["jinja"], HOSTILE["include"]):
        assert name in text
    assert f"By {PROPERTY}" in text
    assert f"Share is of all 1 {shown(HOSTILE['rtl'])} events" in text
    assert f"{'E' * 199}…" in text


def test_jinja_in_values_is_printed_never_evaluated(run: Run) -> None:
    page = Page(run.html)
    cells = [cell.strip() for cell in page.cells]
    assert "{{ 7*7 }}" in cells and "49" not in cells
    assert "{% include '/etc/passwd' %}" in cells
    assert "root:" not in run.html and "root:" not in run.md


def test_no_output_holds_a_raw_control_or_bidi_character(run: Run) -> None:
    texts = {
        "report.html": run.html,
        "report.md": run.md,
        "email": run.eml.decode("utf-8", "replace"),
    }
    for name, text in texts.items():
        assert RAW_CONTROL.search(text) is None, name
    assert "nul\ufffdbel\ufffdesc\ufffd[31mred\ufffddel\ufffdus" in run.html
    assert "user\ufffdgnp.exe" in run.html


def test_a_long_value_is_shortened_on_the_page_and_kept_whole_in_results(run: Run) -> None:
    cells = Page(run.html).cells
    assert "W" * 199 + "…" in cells
    assert not any("W" * 200 in cell for cell in cells)
    results = json.loads((run.folder / "results.json").read_text("utf-8"))
    values = {row["value"] for row in results["queries"]["values"]["groups"]["thing"]["rows"]}
    assert values == set(HOSTILE.values())  # every byte, controls included


def test_charts_were_drawn_with_the_values_as_text(run: Run) -> None:
    svg_text = re.findall(r"<text[^>]*>([^<]*)</text>", run.html)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg_text
    assert any(text.startswith("nul\ufffdbel") for text in svg_text)
    pngs = sorted(p.name for p in (run.folder / "charts").iterdir())
    assert pngs == ["by-event-thing.png", "trend.png", "values-thing.png"]


# --------------------------------------------------------------------------------- Markdown


def markdown_page(md: str) -> tuple[Page, list[Any]]:
    parser = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    tokens = parser.parse(md)
    return Page(parser.render(md)), tokens


def test_markdown_lets_no_html_links_or_code_through(run: Run) -> None:
    page, tokens = markdown_page(run.md)
    inline = [child for token in tokens for child in (token.children or [])]
    kinds = {token.type for token in [*tokens, *inline]}
    assert not kinds & {"html_block", "html_inline", "link_open", "code_inline", "s_open"}
    images = [attrs["src"] for tag, attrs in page.tags if tag == "img"]
    assert images == [
        "charts/values-thing.png",
        "charts/trend.png",
        "charts/by-event-thing.png",
    ]
    page.tags = [(tag, attrs) for tag, attrs in page.tags if tag != "img"]
    assert_nothing_executable(page)


def test_markdown_headings_are_only_ours(run: Run) -> None:
    _, tokens = markdown_page(run.md)
    headings = [t.tag for t in tokens if t.type == "heading_open"]
    queries = len(definition()["queries"])
    assert headings == ["h1"] + ["h2", "h3"] + ["h2"] * (queries - 2) + ["h2", "h3"]


def test_markdown_tables_keep_their_columns_on_every_row(run: Run) -> None:
    _, tokens = markdown_page(run.md)
    widths: list[int] = []
    row: int | None = None
    tables = 0
    for token in tokens:
        if token.type == "table_open":
            tables += 1
        elif token.type == "tr_open":
            row = 0
        elif token.type in ("th_open", "td_open"):
            assert row is not None
            row += 1
        elif token.type == "tr_close":
            widths.append(row or 0)
        elif token.type == "table_close":
            assert len(set(widths)) == 1, widths
            widths = []
    assert tables == 4  # header facts, two top queries, the trend
    header = next(line for line in run.md.splitlines() if line.startswith("| # |"))
    rows = [line for line in run.md.splitlines() if re.match(r"\| \d+ \|", line)]
    assert rows and all(line.count(" | ") == header.count(" | ") for line in rows)


@pytest.mark.parametrize("key", list(HOSTILE))
def test_markdown_shows_each_value_as_its_inert_text_in_a_cell(run: Run, key: str) -> None:
    page, _ = markdown_page(run.md)
    cells = [" ".join(cell.split()) for cell in page.cells]
    assert shown(HOSTILE[key]) in cells


def test_markdown_escapes_are_exact(run: Run) -> None:
    assert "| \\# heading |" in run.md
    assert "| \\- item |" in run.md
    # the `:` of a scheme and `@` are escaped too: GitHub would make live links of them
    assert "| \\| pipes \\| \\*\\*bold\\*\\* \\[link\\](http\\://x) \\`code\\` |" in run.md
    assert "| &lt;script&gt;alert(1)&lt;/script&gt; |" in run.md
    assert "| first line Bcc: victim\\@example.com |" in run.md
    assert "| {{ 7\\*7 }} |" in run.md


# -------------------------------------------------------------------------------------- PDF


@pytest.mark.parametrize("key", list(HOSTILE))
def test_pdf_shows_each_value_as_text(run: Run, key: str) -> None:
    flat = "".join(run.pdf_text.split())
    assert "".join(display_text(HOSTILE[key]).split()) in flat


def test_pdf_shows_event_and_property_names(run: Run) -> None:
    flat = "".join(run.pdf_text.split())
    for name in (HOSTILE["include"], HOSTILE["css"], PROPERTY):
        assert "".join(name.split()) in flat
    assert "root:" not in run.pdf_text


# ------------------------------------------------------------------------------------ email


def test_the_subject_renders_values_as_text_on_one_line(run: Run) -> None:
    message = message_from_bytes(run.eml, policy=policy.default)
    expected = "".join(f"[{shown(value)}]" for value in reversed(HOSTILE.values()))
    assert message["Subject"] == expected
    assert message["Bcc"] is None and message["To"] == "team@example.com"
    assert "49" not in message["Subject"].replace("[", " ").split()


def test_the_body_renders_values_as_text(run: Run) -> None:
    message: Any = message_from_bytes(run.eml, policy=policy.default)
    body = message.get_body(("plain",)).get_content()
    assert body == "".join(display_text(v) + "\n" for v in reversed(HOSTILE.values()))
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_content() == run.md
    assert "written hostile to team@example.com" in run.stdout


# ---------------------------------------------------------------------- errors quoting data

TERMINAL = "No\x1b[31mSuch\x1b]0;pwned\x07Event"  # colour, then set the terminal's title


def test_an_error_that_quotes_a_hostile_event_name_prints_it_inert(
    store: Path, tmp_path: Path
) -> None:
    report = tmp_path / "missing.yaml"
    report.write_text(
        json.dumps(
            {
                "version": 1,
                "title": f"Missing {TERMINAL}",
                "window": "last_30_days",
                "queries": [{"id": "ghost", "event": TERMINAL, "kind": "count"}],
                "deliver": {"email": {"to": ["a@example.com"], "on_failure": ["o@example.com"]}},
            }
        )
    )
    args = ["run", str(report), "--source", f"local:{store}", "--as-of", AS_OF]
    args += ["--out", str(tmp_path / "out"), "--state-dir", str(tmp_path / "state")]
    args += ["--deliver", "--dry-run"]
    done = CliRunner().invoke(cli, args, env={"REPORTKIT_SMTP_URL": ""})
    assert done.exit_code == 1
    assert "Invalid event : No\ufffd[31mSuch\ufffd]0;pwned\ufffdEvent" in done.stderr
    assert RAW_CONTROL.search(done.stderr) is None
    eml = (tmp_path / "out" / "outbox" / "missing-failed.eml").read_bytes()
    notice: Any = message_from_bytes(eml, policy=policy.default)
    assert (
        notice["Subject"] == "reportkit: Missing No\ufffd[31mSuch\ufffd]0;pwned\ufffdEvent failed"
    )
    body = notice.get_body(("plain",)).get_content()
    assert "Invalid event : No\ufffd[31mSuch\ufffd]0;pwned\ufffdEvent" in body
    assert RAW_CONTROL.search(body) is None


def test_import_reasons_that_quote_hostile_data_print_inert(tmp_path: Path) -> None:
    data = tmp_path / "bad.jsonl"
    good = {"event_name": "A", "ts": 20261120120000, "profile": {"identity": "u"}}
    data.write_text(json.dumps(good) + "\n" + json.dumps({**good, "ts": TERMINAL}) + "\n")
    done = CliRunner().invoke(
        cli, ["import", str(data), "--db", str(tmp_path / "s.duckdb"), "--skip-invalid"]
    )
    assert done.exit_code == 0, done.output
    assert f"{data}:2: bad ts No\ufffd[31mSuch\ufffd]0;pwned\ufffdEvent" in done.stderr
    assert RAW_CONTROL.search(done.stderr) is None
