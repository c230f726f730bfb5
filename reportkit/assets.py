"""Where the bundled schema and templates live, in a source checkout and in an installed wheel."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    # An installed wheel carries them under reportkit/_data; a checkout keeps them at the top.
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"reportkit is installed without its {name}/ folder")


def schemas_dir() -> Path:
    return _find("schemas")


def templates_dir() -> Path:
    return _find("templates")


def report_schema_path() -> Path:
    return schemas_dir() / "report.schema.json"
