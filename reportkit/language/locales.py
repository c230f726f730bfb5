"""Which locales a definition may name: those Babel (CLDR) knows. Babel loads only when a
definition names a locale other than the default, so `validate` stays light."""

from __future__ import annotations

DEFAULT_LOCALE = "en_US"


def check_locale(name: str) -> str | None:
    """None when Babel knows `name` (de_DE, fr, hi_IN ...), else a message saying why not."""
    if name == DEFAULT_LOCALE:
        return None
    from babel import Locale, UnknownLocaleError

    try:
        Locale.parse(name)
    except (UnknownLocaleError, ValueError, TypeError):
        return f"unknown locale {name!r}: write a CLDR locale such as en_US, de_DE, fr_FR, hi_IN"
    return None


__all__ = ["DEFAULT_LOCALE", "check_locale"]
