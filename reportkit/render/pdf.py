"""The PDF report: WeasyPrint over the very HTML the HTML report is, with the print rules of
report.css (@page size and margin boxes, repeated table headers, rows and charts kept whole).

WeasyPrint only sees resources through `ConfinedFetcher`: files inside the template folders and
`data:` URIs. Everything else (`file:///etc/passwd`, `http://...`, symlinks out of a template
folder) is refused; WeasyPrint then leaves that resource out and the PDF still renders.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
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


def render_pdf(html: str, folders: Sequence[Path], *, fetcher: Any = None) -> bytes:
    """The PDF bytes of `html`; relative references resolve against the first template folder."""
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:  # OSError: Pango or its friends are missing
        raise RenderError(f"WeasyPrint is not usable here: {exc}") from exc
    fetcher = fetcher if fetcher is not None else make_fetcher(folders)
    base_url = Path(folders[0]).resolve().as_uri() + "/" if folders else None
    try:
        document = HTML(string=html, base_url=base_url, url_fetcher=fetcher)
        pdf = document.write_pdf()
    except Exception as exc:  # WeasyPrint has no single error base class
        raise RenderError(f"the PDF could not be made: {type(exc).__name__}: {exc}") from exc
    if not pdf:
        raise RenderError("the PDF could not be made: WeasyPrint returned nothing")
    return bytes(pdf)
