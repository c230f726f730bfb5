"""How values read on the page: numbers, shares, changes, bucket and period labels.

Pure functions over plain values, shared by the Jinja filters, the chart data and the tests.
No Jinja, no I/O: `environment.py` registers these as filters.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reportkit.language.locales import DEFAULT_LOCALE
from reportkit.language.windows import DateRange
from reportkit.results import NOT_SET
from reportkit.text import inert_text, shorten

NOT_SET_LABEL = "(not set)"
BUCKET_TYPES = frozenset({"NUMBER", "DATE"})
DISPLAY_LIMIT = 200  # characters of a value shown in tables and charts; results.json keeps all

_RANGE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*-\s*(-?\d+(?:\.\d+)?)\s*$")
_DASH = "\u2013"  # en dash between the ends of a range
_MINUS = "\u2212"


# The reader's locale while a report (or a subject) is rendered: a babel Locale, or None for
# the default, whose output is written without Babel exactly as before locales existed.
_LOCALE: ContextVar[Any] = ContextVar("reportkit_locale", default=None)


@contextmanager
def formatting_locale(name: str | None) -> Iterator[None]:
    """Within the block, numbers, percentages and dates are written for locale `name` (CLDR
    rules, through Babel); None or en_US keep reportkit's own formatting."""
    token = _LOCALE.set(None if not name or name == DEFAULT_LOCALE else _babel_locale(name))
    try:
        yield
    finally:
        _LOCALE.reset(token)


def current_locale() -> Any:
    """The Babel locale being written for, None for the default (see `formatting_locale`)."""
    return _LOCALE.get()


@lru_cache(maxsize=16)
def _babel_locale(name: str) -> Any:
    from babel import Locale

    return Locale.parse(name)


@lru_cache(maxsize=64)
def _pattern(locale: Any, kind: str, digits: int) -> str:
    """The locale's decimal or percent pattern with exactly `digits` fraction digits."""
    formats = locale.decimal_formats if kind == "decimal" else locale.percent_formats
    pattern = str(formats.get(None).pattern).split(";")[0]
    match = re.match(r"^([^#0,.]*)([#0,]+)(\.[#0]+)?(.*)$", pattern)
    if match is None:
        return pattern
    head, whole, _, tail = match.groups()
    return f"{head}{whole}{'.' + '0' * digits if digits else ''}{tail}"


def _babel_number(locale: Any, value: float | int, digits: int, kind: str = "decimal") -> str:
    from babel.numbers import format_decimal, format_percent

    pattern = _pattern(locale, kind, digits)
    if kind == "percent":
        return str(format_percent(value, format=pattern, locale=locale))
    return str(format_decimal(value, format=pattern, locale=locale))


def _babel_date(day: date, skeleton: str = "yMMMd") -> str:
    from babel.dates import format_skeleton

    return str(format_skeleton(skeleton, day, locale=_LOCALE.get()))


def _babel_interval(start: date, end: date, skeleton: str = "yMMMd") -> str:
    from babel.dates import format_interval

    return str(format_interval(start, end, skeleton, locale=_LOCALE.get()))


def vega_locales(
    currency: str | None = None,
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """d3-format and d3-time-format locales for the charts, or (None, None) for the default.
    With `currency`, the number locale also says how the reader's locale writes that money
    (d3's `$` format), for the default locale too."""
    locale = _LOCALE.get()
    if locale is None and currency is None:
        return None, None
    number, time = _vega_locales(locale or _babel_locale(DEFAULT_LOCALE))
    if currency is not None:
        number = {**number, "currency": _currency_affixes(locale, currency)}
    return number, (time if locale is not None else None)


def _currency_affixes(locale: Any, currency: str) -> list[str]:
    """[prefix, suffix] around the number in the locale's currency pattern: `["$", ""]` for
    en_US dollars, `["", "\xa0€"]` for de_DE euros."""
    from babel.numbers import get_currency_symbol

    babel_locale = locale or _babel_locale(DEFAULT_LOCALE)
    pattern = str(babel_locale.currency_formats["standard"].pattern).split(";")[0]
    match = re.match(r"^([^#0,.]*)[#0,.]+(.*)$", pattern)
    symbol = str(get_currency_symbol(currency, babel_locale))
    if match is None:
        return [symbol, ""]
    head, tail = match.groups()
    return [head.replace("¤", symbol), tail.replace("¤", symbol)]


@lru_cache(maxsize=16)
def _vega_locales(locale: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    pattern = str(locale.decimal_formats.get(None).pattern).split(";")[0]
    groups = pattern.split(".")[0].split(",")[1:]
    grouping = [len(g) for g in reversed(groups)] or [3]
    number = {
        "decimal": locale.number_symbols["latn"]["decimal"],
        "thousands": locale.number_symbols["latn"]["group"],
        "grouping": grouping,
        "currency": ["", ""],
        "minus": locale.number_symbols["latn"]["minusSign"],
    }
    days = locale.days["format"]
    months = locale.months["format"]
    sunday_first = [6, 0, 1, 2, 3, 4, 5]  # d3 lists days from Sunday, CLDR from Monday (0)
    time = {
        "dateTime": "%x, %X",
        "date": "%x",
        "time": "%X",
        "periods": [locale.day_periods["format"]["abbreviated"].get(p, p) for p in ("am", "pm")],
        "days": [days["wide"][i] for i in sunday_first],
        "shortDays": [days["abbreviated"][i] for i in sunday_first],
        "months": [months["wide"][i] for i in range(1, 13)],
        "shortMonths": [months["abbreviated"][i] for i in range(1, 13)],
    }
    return number, time


def display_text(text: str, limit: int = DISPLAY_LIMIT) -> str:
    """How a value from the data reads on a page: inert and at most `limit` characters (layout
    engines take quadratic time over a long unbreakable word in a table cell: 3,000 characters
    cost 20 s of WeasyPrint, and nobody reads past a few lines of one value)."""
    return shorten(inert_text(text), limit)


def format_number(value: float | int | None, digits: int = 0) -> str:
    """`1234567` -> `1,234,567`; None -> empty."""
    if value is None:
        return ""
    locale = _LOCALE.get()
    if locale is not None:
        return _babel_number(locale, value, digits)
    if digits == 0 and float(value).is_integer():
        text = f"{int(value):,}"
    else:
        text = f"{value:,.{digits}f}"
    return text.replace("-", _MINUS) if text.startswith("-") else text


def format_money(value: float | int | None, currency: str | None = None) -> str:
    """An amount of `currency` (ISO 4217) as the reader's locale writes money, by Babel's
    `format_currency`: `1.234,50\xa0€` in de_DE, `$1,234.50` in en_US; without a currency, a
    number (`format_number`). None -> empty."""
    if value is None:
        return ""
    if not currency:
        return format_number(value)
    from babel.numbers import format_currency

    locale = _LOCALE.get()
    text = str(format_currency(value, currency, locale=locale or _babel_locale(DEFAULT_LOCALE)))
    # the default writes its minus as U+2212, as format_number does
    return _MINUS + text[1:] if locale is None and text.startswith("-") else text


def format_percent(value: float | None, digits: int = 1) -> str:
    """`12.345` (already a percentage) -> `12.3%`; None -> empty."""
    if value is None:
        return ""
    locale = _LOCALE.get()
    if locale is not None:
        return _babel_number(locale, value / 100, digits, "percent")
    return format_number(value, digits) + "%"


def format_delta(
    value: float | int | None, digits: int = 0, suffix: str = "", currency: str | None = None
) -> str:
    """A signed change: `+1,204`, `−87`, `0`, with `currency` `+€12.50`; None -> empty."""
    if value is None:
        return ""
    if currency:
        text = format_money(abs(value), currency)
        return text if value == 0 else ("+" if value > 0 else _MINUS) + text
    if suffix == "%" and _LOCALE.get() is not None:
        text = format_percent(abs(value), digits)  # `12,5 %` where the locale spaces it
        return text if value == 0 else ("+" if value > 0 else _MINUS) + text
    if value == 0:
        return format_number(0, digits) + suffix
    sign = "+" if value > 0 else _MINUS
    return sign + format_number(abs(value), digits) + suffix


def format_daterange(window: DateRange | None) -> str:
    """`2026-11-24 – 2026-11-30`, or one date for a one-day window."""
    if window is None:
        return ""
    if _LOCALE.get() is not None:
        if window.start == window.end:
            return _babel_date(window.start)
        return _babel_interval(window.start, window.end)
    if window.start == window.end:
        return window.start.isoformat()
    return f"{window.start.isoformat()} {_DASH} {window.end.isoformat()}"


def change(count: int | None, previous: int | None) -> int | None:
    if count is None or previous is None:
        return None
    return count - previous


def percent_change(count: int | None, previous: int | None) -> float | None:
    """% change against the previous count; None when there is nothing to compare with."""
    if count is None or not previous:
        return None
    return (count - previous) / previous * 100.0


def share(count: int, total: int | None) -> float | None:
    if not total:
        return None
    return count / total * 100.0


def parse_range(value: str) -> tuple[float, float] | None:
    """`"100-200"` -> (100.0, 200.0); anything else -> None."""
    match = _RANGE.match(value)
    if match is None or value == NOT_SET:
        return None
    return float(match.group(1)), float(match.group(2))


def bucket_sort_key(row_type: str, value: str) -> tuple[int, float, str]:
    """Range order by the low end; values that are not ranges (and "(not set)") go last."""
    bounds = parse_range(value) if row_type.upper() in BUCKET_TYPES else None
    if bounds is None:
        return (1, 0.0, value)
    return (0, bounds[0], value)


def _zone(timezone: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _epoch_day(seconds: float, timezone: str) -> date:
    zone = _zone(timezone)
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    return (moment.astimezone(zone) if zone else moment).date()


def _trim_number(number: float) -> str:
    return format_number(number, 0 if number.is_integer() else 2)


def value_label(value: str, row_type: str = "STR", timezone: str = "UTC") -> str:
    """The label a reader sees for a value as the service answered it.

    `"-1"` is "(not set)"; a NUMBER range `"0-100"` reads `0–100`; a DATE range of epoch seconds
    reads as local dates (the upper end exclusive when it falls on a midnight).
    """
    if value == NOT_SET:
        return _word("(not set)") if _LOCALE.get() is not None else NOT_SET_LABEL
    kind = row_type.upper()
    if kind in BUCKET_TYPES:
        bounds = parse_range(value)
        if bounds is None:
            return value
        low, high = bounds
        if kind == "NUMBER":
            return f"{_trim_number(low)}{_DASH}{_trim_number(high)}"
        try:
            first = _epoch_day(low, timezone)
            last = _epoch_day(max(low, high - 1), timezone)
        except (OverflowError, OSError, ValueError):
            return value
        if _LOCALE.get() is not None:
            return _babel_date(first) if first == last else _babel_interval(first, last)
        if first == last:
            return first.isoformat()
        return f"{first.isoformat()} {_DASH} {last.isoformat()}"
    return value


def period_date(period: str) -> date | None:
    """`"20261124"` -> date(2026, 11, 24); other shapes -> None."""
    if len(period) == 8 and period.isdigit():
        try:
            return date(int(period[:4]), int(period[4:6]), int(period[6:]))
        except ValueError:
            return None
    return None


def period_label(period: str, granularity: str | None = None) -> str:
    """Trend keys as read: daily `20261124` -> `2026-11-24`, weekly -> `week of 2026-11-23`,
    monthly `202611` -> `Nov 2026`; anything else as answered."""
    day = period_date(period)
    if day is not None and _LOCALE.get() is not None:
        if granularity == "weekly":
            return _word("week of %(day)s") % {"day": _babel_date(day)}
        if granularity == "monthly":
            return _babel_date(day, "yMMM")
        return _babel_date(day, "yMMMEd")  # with the weekday's name
    if day is not None:
        if granularity == "weekly":
            return f"week of {day.isoformat()}"
        if granularity == "monthly":
            return day.strftime("%b %Y")
        return day.isoformat()
    if len(period) == 6 and period.isdigit() and 1 <= int(period[4:]) <= 12:
        month = date(int(period[:4]), int(period[4:]), 1)
        return _babel_date(month, "yMMM") if _LOCALE.get() is not None else month.strftime("%b %Y")
    return period


def format_window_short(window: DateRange | None) -> str:
    """A window as people write it in a subject: `21–27 Nov 2026`, `28 Nov – 4 Dec 2026`."""
    if window is None:
        return ""
    start, end = window.start, window.end
    if _LOCALE.get() is not None:
        return _babel_date(end) if start == end else _babel_interval(start, end)
    if start == end:
        return f"{end.day} {end:%b %Y}"
    if (start.year, start.month) == (end.year, end.month):
        return f"{start.day}{_DASH}{end.day} {end:%b %Y}"
    if start.year == end.year:
        return f"{start.day} {start:%b} {_DASH} {end.day} {end:%b %Y}"
    return f"{start.day} {start:%b %Y} {_DASH} {end.day} {end:%b %Y}"


def window_days_label(window: DateRange) -> str:
    days = window.days
    if _LOCALE.get() is not None:
        from reportkit.render.words import ngettext

        return ngettext("%(num)s day", "%(num)s days", days) % {"num": format_number(days)}
    return "1 day" if days == 1 else f"{days} days"


def _word(message: str) -> str:
    """`message` in the reader's language (reportkit.render.words)."""
    from reportkit.render.words import gettext

    return gettext(message)


__all__ = [
    "DEFAULT_LOCALE",
    "DISPLAY_LIMIT",
    "NOT_SET_LABEL",
    "bucket_sort_key",
    "change",
    "display_text",
    "format_daterange",
    "format_delta",
    "format_money",
    "format_number",
    "format_percent",
    "parse_range",
    "percent_change",
    "period_date",
    "period_label",
    "share",
    "value_label",
    "window_days_label",
]
