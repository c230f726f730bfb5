"""The report's own words in the reader's language: gettext catalogs for de, fr and hi.

The catalogs are the `.po` files beside this module, read with Babel when a report first needs
one (no compiled `.mo` to keep in step by hand). The language follows the locale that
`labels.formatting_locale` sets, so templates (through Jinja's i18n extension: `_()`, see
`environment.py`), the labels, the charts and the email helpers translate alike; the default
locale, and any language without a catalog, keeps the English of the message ids, byte for
byte. No Jinja here: the labels use it too.
"""

from __future__ import annotations

import gettext as _gettext
from functools import lru_cache
from pathlib import Path
from typing import Any

from reportkit.render import labels

CATALOG_DIR = Path(__file__).resolve().parent / "catalogs"
LANGUAGES = ("de", "fr", "hi")  # the catalogs reportkit ships


def catalog_path(language: str) -> Path:
    return CATALOG_DIR / f"{language}.po"


@lru_cache(maxsize=8)
def translations(language: str) -> _gettext.NullTranslations:
    """The catalog of `language` (`de`), or no translation when reportkit has none."""
    if language not in LANGUAGES:
        return _gettext.NullTranslations()
    import io

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import Translations

    with catalog_path(language).open("rb") as po:
        catalog = read_po(po, locale=language, abort_invalid=True)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain="reportkit")


def current_language() -> str | None:
    """The language of the locale being rendered (`de` for de_DE), None for the default."""
    locale = labels.current_locale()
    return None if locale is None else str(locale.language)


def gettext(message: str) -> str:
    """`message` in the current locale's language; English when there is none."""
    language = current_language()
    if language is None:
        return message
    return translations(language).gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    language = current_language()
    if language is None:
        return singular if count == 1 else plural
    return translations(language).ngettext(singular, plural, count)


# The modules that write words of their own, and the names their messages are marked with
PYTHON_SOURCES = ("render/labels.py", "render/view.py", "render/charts.py", "deliver/email.py")
_KEYWORDS: dict[str, Any] = {"gettext": None, "ngettext": (1, 2), "N_": None, "_word": None}


def catalog_messages() -> list[str | tuple[str, ...]]:
    """Every message reportkit translates, in order and once each: the `_()` and `ngettext()`
    strings of the built-in templates, then the messages of PYTHON_SOURCES. What the catalogs
    must cover (a test holds them to it)."""
    import jinja2
    from babel.messages.extract import extract_from_file

    from reportkit.assets import templates_dir

    found: dict[str | tuple[str, ...], None] = {}
    env = jinja2.Environment(extensions=["jinja2.ext.i18n"])
    for path in sorted(templates_dir().iterdir()):
        if path.suffix in (".j2", ".css"):
            source = path.read_text("utf-8")
            for _line, _function, message in env.extract_translations(source):  # type: ignore[attr-defined]
                if isinstance(message, tuple):  # ngettext, or `_()` with variables
                    parts = tuple(m for m in message if m is not None)
                    found[parts[0] if len(parts) == 1 else parts] = None
                elif message is not None:
                    found[message] = None
    package = Path(__file__).resolve().parent.parent
    for name in PYTHON_SOURCES:
        for _line, message, _comments, _context in extract_from_file(
            "python", package / name, keywords=_KEYWORDS
        ):
            found[message] = None
    return list(found)


def N_(message: str) -> str:  # gettext's name for "mark for the catalogs"
    """Marks a message for the catalogs where it is translated later, from a variable."""
    return message


__all__ = ["LANGUAGES", "N_", "catalog_path", "gettext", "ngettext", "translations"]
