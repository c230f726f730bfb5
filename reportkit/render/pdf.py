"""The PDF report: WeasyPrint over the very HTML the HTML report is, with the print rules of
report.css (@page size and margin boxes, repeated table headers, rows and charts kept whole).

WeasyPrint only sees resources through `ConfinedFetcher`: files inside the template folders and
`data:` URIs. Everything else (`file:///etc/passwd`, `http://...`, symlinks out of a template
folder) is refused; WeasyPrint then leaves that resource out and the PDF still renders.
"""

from __future__ import annotations

import io
import mimetypes
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from reportkit.errors import RenderError


def _inside(path: Path, folders: Sequence[Path]) -> bool:
    return any(path.is_relative_to(folder) for folder in folders)


def make_fetcher(folders: Sequence[Path]) -> Any:
    """A WeasyPrint URL fetcher confined to `folders` (resolved) and data: URIs."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse  # heavy

    allowed = tuple(Path(f).resolve() for f in folders)

    class ConfinedFetcher(URLFetcher):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__(allowed_protocols=("data", "file"), allow_redirects=False)
            self.refused: list[str] = []

        def fetch(self, url: str, headers: Any = None) -> Any:
            scheme = url.split(":", 1)[0].lower()
            if scheme == "data":
                return super().fetch(url, headers)
            if scheme == "file":
                parts = urlsplit(url)
                if parts.netloc not in ("", "localhost"):
                    return self._refuse(url)
                path = Path(
                    unquote(parts.path)
                ).resolve()  # resolve() follows symlinks: checked after
                if _inside(path, allowed) and path.is_file():
                    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                    return URLFetcherResponse(
                        url, body=path.read_bytes(), headers={"Content-Type": mime}
                    )
            return self._refuse(url)

        def _refuse(self, url: str) -> Any:
            self.refused.append(url)
            raise ValueError(f"reportkit refuses to load {url}: only template files and data: URIs")

    return ConfinedFetcher()


@dataclass(frozen=True, slots=True)
class PdfAttachment:
    """A file embedded in an archival PDF (PDF/A-3 associated file)."""

    name: str
    data: bytes
    description: str
    relationship: str = "Data"  # PDF 2.0 AFRelationship: Data, Source, Supplement ...


UA_VARIANT = "pdf/ua-1"
ARCHIVE_VARIANT = "pdf/a-3a"  # PDF/A-3, level A: tagged, so it stays PDF/UA as well
_UA_ID = (
    b'<rdf:Description rdf:about="" xmlns:pdfuaid="http://www.aiim.org/pdfua/ns/id/">'
    b"<pdfuaid:part>1</pdfuaid:part></rdf:Description></rdf:RDF>"
)


def _claim_pdf_ua(document: Any, pdf: Any) -> None:
    """A WeasyPrint finisher: add the PDF/UA-1 identification to the PDF/A XMP packet, which
    WeasyPrint writes for one variant only. The tags, title, language and DisplayDocTitle
    that PDF/UA asks for are there already: PDF/A-3a is tagged."""
    if "AF" in pdf.catalog:  # WeasyPrint 70 lists each attachment twice
        pdf.catalog["AF"] = type(pdf.catalog["AF"])(dict.fromkeys(pdf.catalog["AF"]))
    reference = pdf.catalog.get("Metadata")
    if reference is None:
        return
    stream = pdf.objects[int(bytes(reference).split()[0])]
    content = b"".join(
        part if isinstance(part, bytes) else str(part).encode() for part in stream.stream
    )
    if b"pdfuaid" not in content:
        stream.stream = [content.replace(b"</rdf:RDF>", _UA_ID, 1)]


def render_pdf(
    html: str,
    folders: Sequence[Path],
    *,
    fetcher: Any = None,
    archive: Sequence[PdfAttachment] | None = None,
    moment: datetime | None = None,
) -> bytes:
    """The PDF bytes of `html`, tagged for accessibility (PDF/UA-1); relative references
    resolve against the first template folder.

    With `archive` (a list, maybe empty), a PDF/A-3 (level A, tagged, also identified as
    PDF/UA-1) with those files embedded as associated files, dated `moment`."""
    try:
        from weasyprint import HTML, Attachment
    except (ImportError, OSError) as exc:  # OSError: Pango or its friends are missing
        raise RenderError(f"WeasyPrint is not usable here: {exc}") from exc
    fetcher = fetcher if fetcher is not None else make_fetcher(folders)
    base_url = Path(folders[0]).resolve().as_uri() + "/" if folders else None
    variant = UA_VARIANT if archive is None else ARCHIVE_VARIANT
    options: dict[str, Any] = {"pdf_variant": variant}
    if archive:
        options["attachments"] = [
            Attachment(
                file_obj=io.BytesIO(item.data),
                name=item.name,
                description=item.description,
                created=moment,
                modified=moment,
                relationship=item.relationship,
            )
            for item in archive
        ]
    try:
        document = HTML(string=html, base_url=base_url, url_fetcher=fetcher)
        finisher = _claim_pdf_ua if archive is not None else None
        with warnings.catch_warnings():
            # WeasyPrint 70 opens its sRGB profile for the PDF/A output intent and never closes
            # it (the profile is read in full first): the warning is noise
            warnings.filterwarnings(
                "ignore", r"unclosed file .*sRGB2014\.icc", category=ResourceWarning
            )
            pdf = document.write_pdf(finisher=finisher, **options)
    except Exception as exc:  # WeasyPrint has no single error base class
        raise RenderError(f"the PDF could not be made: {type(exc).__name__}: {exc}") from exc
    if not pdf:
        raise RenderError("the PDF could not be made: WeasyPrint returned nothing")
    return bytes(pdf)
