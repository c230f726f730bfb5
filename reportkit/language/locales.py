"""Which locales and currencies a definition may name: those Babel (CLDR) knows. Babel loads only
when a definition names a locale other than the default, or a currency, so `validate` stays
light."""

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


def _same_start(one: str, other: str) -> int:
    """How many leading characters two codes share."""
    count = 0
    for a, b in zip(one, other, strict=False):
        if a != b:
            break
        count += 1
    return count


def check_currency(code: str) -> str | None:
    """None when `code` is an ISO 4217 currency Babel knows (EUR, USD, INR ...), else a message
    with the nearest codes."""
    import difflib

    from babel.numbers import list_currencies

    known = sorted(list_currencies())
    if code in known:
        return None
    wanted = code.upper()
    near = difflib.get_close_matches(wanted, known, n=5, cutoff=0.6)
    # among equally near codes, the one that starts alike: EUX is a typo of EUR, not of XEU
    hint = sorted(near, key=lambda c: -_same_start(c, wanted))[:1]
    suffix = (
        f"; did you mean {hint[0]!r}?"
        if hint
        else " (write an ISO 4217 code such as EUR, USD, INR)"
    )
    return f"unknown currency {code!r}{suffix}"


__all__ = ["DEFAULT_LOCALE", "check_currency", "check_locale"]
