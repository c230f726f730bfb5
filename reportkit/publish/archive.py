"""Archival PDFs: the files a PDF/A-3 report carries (results.json and its definition), read
back so that `reportkit render FILE.pdf` can rebuild the other formats without the source.

pypdf reads the PDF; its errors become `InvalidInput` naming the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from reportkit.errors import InvalidInput, RenderError, one_line
from reportkit.results import ReportResult
from reportkit.results.codec import results_from_dict

RESULTS_NAME = "results.json"
MAX_PDF_BYTES = 200_000_000


@dataclass(frozen=True, slots=True)
class Archive:
    """What an archival PDF holds: its results, the definition that asked for them (file name
    and text, when embedded) and the PDF's own bytes."""

    result: ReportResult
    definition: tuple[str, bytes] | None
    pdf: bytes


def embedded_files(path: Path) -> dict[str, bytes]:
    """Every embedded file of the PDF at `path`, by name (the first of a name given twice)."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        if path.stat().st_size > MAX_PDF_BYTES:
            raise InvalidInput(f"{path}: larger than {MAX_PDF_BYTES // 1_000_000} MB")
        reader = PdfReader(path)
        return {name: bytes(data[0]) for name, data in reader.attachments.items() if data}
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read the file: {exc.strerror or exc}") from exc
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidInput(one_line(f"{path}: not a readable PDF: {exc}")) from exc


def read_archive(path: Path) -> Archive:
    """The results and definition an archival PDF carries; a PDF without them is invalid input."""
    path = Path(path)
    files = embedded_files(path)
    data = files.get(RESULTS_NAME)
    if data is None:
        raise InvalidInput(
            f"{path}: this PDF carries no {RESULTS_NAME}; only a report made with "
            "output.pdf.archive: true can be rebuilt from its PDF"
        )
    try:
        result = results_from_dict(json.loads(data.decode("utf-8")))
    except RenderError as exc:
        raise InvalidInput(f"{path}: the embedded {RESULTS_NAME}: {exc}") from exc
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidInput(
            one_line(f"{path}: the embedded {RESULTS_NAME} is not reportkit's: {exc!r}")
        ) from exc
    definition = next(((n, d) for n, d in files.items() if n != RESULTS_NAME), None)
    return Archive(result, definition, path.read_bytes())


__all__ = ["Archive", "embedded_files", "read_archive"]
