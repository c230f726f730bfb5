"""Date windows: tokens and absolute dates resolved against an `as_of` day.

Pure functions of their inputs: the clock never enters here (the caller passes `as_of`).
Relative windows end on the last complete day, `as_of - 1`, unless `include_today` moves the end to
`as_of`, so a weekly CI run gives numbers that do not change when re-run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from reportkit.errors import WindowError
from reportkit.language.model import WindowSpec

Unit = Literal["day", "week", "month", "quarter", "year"]
WeekStart = Literal["monday", "sunday"]

_LAST_N = re.compile(r"^last_([1-9][0-9]{0,3})_(day|week|month|quarter|year)s$")
_THIS = re.compile(r"^this_(week|month|quarter|year)$")
_TO_DATE = re.compile(r"^(week|month|quarter|year)_to_date$")
_LAST = re.compile(r"^last_(week|month|quarter|year)$")


@dataclass(frozen=True, slots=True)
class DateRange:
    """An inclusive range of local dates."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def api_from(self) -> int:
        return int(self.start.strftime("%Y%m%d"))

    def api_to(self) -> int:
        return int(self.end.strftime("%Y%m%d"))

    def __str__(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"


@dataclass(frozen=True, slots=True)
class ResolvedWindow:
    """A window as written, its concrete dates, and the compare window's."""

    spec: WindowSpec
    current: DateRange
    previous: DateRange | None = None


@dataclass(frozen=True, slots=True)
class _Parsed:
    form: Literal["today", "yesterday", "last_n", "to_date", "absolute"]
    unit: Unit = "day"
    n: int = 1


def is_window_token(token: str) -> bool:
    """True when `token` is a relative window reportkit understands."""
    try:
        _parse(WindowSpec(token=token))
    except WindowError:
        return False
    return True


def _parse(spec: WindowSpec) -> _Parsed:
    token = spec.token
    if token is None:
        return _Parsed("absolute")
    if token in ("today", "yesterday"):
        return _Parsed(token)  # type: ignore[arg-type]
    if m := _LAST_N.match(token):
        return _Parsed("last_n", m.group(2), int(m.group(1)))  # type: ignore[arg-type]
    if m := _LAST.match(token):
        return _Parsed("last_n", m.group(1), 1)  # type: ignore[arg-type]
    if m := (_THIS.match(token) or _TO_DATE.match(token)):
        return _Parsed("to_date", m.group(1))  # type: ignore[arg-type]
    raise WindowError(f"unknown window {token!r}")


def period_start(day: date, unit: Unit, week_start: WeekStart = "monday") -> date:
    """The first day of the calendar period (week, month, quarter, year) holding `day`."""
    if unit == "day":
        return day
    if unit == "week":
        offset = day.weekday() if week_start == "monday" else (day.weekday() + 1) % 7
        return day - timedelta(days=offset)
    if unit == "month":
        return day.replace(day=1)
    if unit == "quarter":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return date(day.year, 1, 1)


def shift_periods(start: date, unit: Unit, n: int) -> date:
    """The start of the period `n` periods after the one starting at `start` (n may be negative)."""
    if unit == "day":
        return start + timedelta(days=n)
    if unit == "week":
        return start + timedelta(weeks=n)
    months = {"month": 1, "quarter": 3, "year": 12}[unit] * n
    index = start.year * 12 + start.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def same_day_last_year(day: date) -> date:
    """The same date a year earlier; 29 February maps to 28 February."""
    if day.month == 2 and day.day == 29:
        return date(day.year - 1, 2, 28)
    return day.replace(year=day.year - 1)


def resolve_window(
    spec: WindowSpec,
    as_of: date,
    *,
    week_start: WeekStart = "monday",
    include_today: bool = False,
) -> DateRange:
    """The concrete dates of `spec` for a report run on `as_of`."""
    parsed = _parse(spec)
    end = as_of if include_today else as_of - timedelta(days=1)
    if parsed.form == "absolute":
        assert spec.start is not None and spec.end is not None
        if spec.start > spec.end:
            raise WindowError(
                f"window from {spec.start.isoformat()} is after to {spec.end.isoformat()}"
            )
        return DateRange(spec.start, spec.end)
    if parsed.form == "today":
        return DateRange(as_of, as_of)
    if parsed.form == "yesterday":
        day = as_of - timedelta(days=1)
        return DateRange(day, day)
    if parsed.form == "last_n":
        if parsed.unit == "day":
            return DateRange(end - timedelta(days=parsed.n - 1), end)
        current = period_start(as_of, parsed.unit, week_start)
        return DateRange(
            shift_periods(current, parsed.unit, -parsed.n), current - timedelta(days=1)
        )
    start = period_start(as_of, parsed.unit, week_start)
    if end < start:
        raise WindowError(
            f"window {spec.token!r} has no complete day on {as_of.isoformat()}, the first day "
            f"of the {parsed.unit}: write last_{parsed.unit} for the previous whole {parsed.unit}, "
            f"or set include_today: true"
        )
    return DateRange(start, end)


def previous_window(
    spec: WindowSpec,
    current: DateRange,
    compare: Literal["previous_period", "previous_year"],
    *,
    week_start: WeekStart = "monday",
) -> DateRange:
    """The window a `compare` setting matches `current` with.

    previous_year: the same dates a year earlier. previous_period: for calendar windows the
    previous calendar span (last_2_months -> the two months before; month_to_date on the 18th ->
    the first 17 days of the previous month, clipped to its end); otherwise the same number of
    days just before.
    """
    if compare == "previous_year":
        return DateRange(same_day_last_year(current.start), same_day_last_year(current.end))
    parsed = _parse(spec)
    if parsed.form == "last_n" and parsed.unit != "day":
        start = shift_periods(current.start, parsed.unit, -parsed.n)
        return DateRange(start, current.start - timedelta(days=1))
    if parsed.form == "to_date":
        start = shift_periods(current.start, parsed.unit, -1)
        period_end = current.start - timedelta(days=1)
        end = min(start + timedelta(days=current.days - 1), period_end)
        return DateRange(start, end)
    return DateRange(
        current.start - timedelta(days=current.days), current.start - timedelta(days=1)
    )


def local_date(now: datetime, timezone: str) -> date:
    """The calendar date in `timezone` at the aware instant `now` (the default as_of)."""
    from zoneinfo import ZoneInfo

    return now.astimezone(ZoneInfo(timezone)).date()


MAX_TREND_POINTS = 3660  # ten years of days; a longer trend is a mistake that would run for long
# Days a relative window is resolved on to tell whether it is too long whatever the date
# (a leap day, month ends, a year end): a trend too long on every one of them always is.
_PROBE_DAYS = (date(2025, 3, 1), date(2026, 7, 15), date(2028, 2, 29), date(2030, 12, 31))


def trend_points(granularity: str, dates: DateRange) -> int:
    """How many points a trend of `granularity` over `dates` has."""
    months = (dates.end.year - dates.start.year) * 12 + dates.end.month - dates.start.month + 1
    return {"daily": dates.days, "weekly": dates.days // 7, "monthly": months}[granularity]


def fewest_trend_points(
    spec: WindowSpec, granularity: str, *, week_start: WeekStart, include_today: bool
) -> tuple[int, DateRange] | None:
    """The fewest points a trend over `spec` can have whatever the day it runs on, with the
    window that has them (None when the window cannot be resolved: its own error says why)."""
    fewest: tuple[int, DateRange] | None = None
    for day in _PROBE_DAYS:
        try:
            dates = resolve_window(spec, day, week_start=week_start, include_today=include_today)
        except (WindowError, OverflowError, ValueError):
            continue
        points = trend_points(granularity, dates)
        if fewest is None or points < fewest[0]:
            fewest = (points, dates)
    return fewest
