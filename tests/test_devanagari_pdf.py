"""hi_IN PDFs show Devanagari, not tofu: the stylesheet's font stack names a Devanagari font
(Lohit Devanagari from Debian's fonts-lohit-deva, or Noto Sans Devanagari), the PDF embeds it,
and the text extracted from the PDF holds the Hindi words the report wrote."""

from __future__ import annotations

import io
import shutil
import subprocess
from dataclasses import replace

import pytest
from pypdf import PdfReader

from reportkit.language.model import OutputSpec
from reportkit.render import render_report
from tests.report_fixtures import make_report

DEVANAGARI_FONTS = ("Lohit Devanagari", "Noto Sans Devanagari")


def _installed() -> bool:
    if shutil.which("fc-list") is None:
        return False
    listed = subprocess.run(["fc-list", ":", "family"], capture_output=True, text=True).stdout
    return any(name in listed for name in DEVANAGARI_FONTS)


@pytest.mark.integration
@pytest.mark.skipif(not _installed(), reason="no Devanagari font: install fonts-lohit-deva")
def test_a_hindi_pdf_embeds_a_devanagari_font_and_says_the_hindi_words() -> None:
    report = replace(make_report(), locale="hi_IN")
    files = render_report(report, OutputSpec(), formats=["html", "pdf"])
    reader = PdfReader(io.BytesIO(files["report.pdf"]))
    fonts = {
        str(font.get_object()["/BaseFont"])
        for page in reader.pages
        for font in page["/Resources"]["/Font"].values()
    }
    assert any("Devanagari" in name for name in fonts), fonts
    text = "\n".join(page.extract_text() for page in reader.pages)
    # words whose letters keep their order when extracted (a vowel sign written before its
    # consonant, like ि, comes out of a PDF in drawing order)
    for word in ("अवधि", "समय क्षेत्र", "स्रोत", "संख्या", "डेमो डेटा"):
        assert word in text, word
    assert "पृष्ठ 1 / " in text  # the page footer, from report.css
    html = files["report.html"].decode()
    assert '"Lohit Devanagari", "Noto Sans Devanagari"' in html  # the stack that found it
