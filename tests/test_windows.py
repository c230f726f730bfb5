"""Every window form, resolved at month, quarter, year and leap-day edges."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reportkit.errors import WindowError
from reportkit.language.model import WindowSpec
from reportkit.language.windows import (
    DateRange,
    is_window_token,
    local_date,
    previous_window,
    resolve_window,
)

D = date


def resolve(token: str, as_of: date, **kw: object) -> tuple[date, date]:
    r = resolve_window(WindowSpec(token=token), as_of, **kw)  # type: ignore[arg-type]
    return r.start, r.end


# as_of 2026-11-30 is a Monday.
@pytest.mark.parametrize(
    ("token", "as_of", "expected"),
    [
        ("today", D(2026, 11, 30), (D(2026, 11, 30), D(2026, 11, 30))),
        ("yesterday", D(2026, 11, 30), (D(2026, 11, 29), D(2026, 11, 29))),
        ("yesterday", D(2026, 1, 1), (D(2025, 12, 31), D(2025, 12, 31))),
        ("last_1_days", D(2026, 11, 30), (D(2026, 11, 29), D(2026, 11, 29))),
        ("last_7_days", D(2026, 11, 30), (D(2026, 11, 23), D(2026, 11, 29))),
        ("last_30_days", D(2026, 3, 1), (D(2026, 1, 30), D(2026, 2, 28))),
        ("last_30_days", D(2024, 3, 1), (D(2024, 1, 31), D(2024, 2, 29))),
        ("last_week", D(2026, 11, 30), (D(2026, 11, 23), D(2026, 11, 29))),
        ("last_week", D(2026, 12, 2), (D(2026, 11, 23), D(2026, 11, 29))),
        ("last_2_weeks", D(2026, 12, 2), (D(2026, 11, 16), D(2026, 11, 29))),
        ("last_month", D(2026, 3, 15), (D(2026, 2, 1), D(2026, 2, 28))),
        ("last_month", D(2024, 3, 1), (D(2024, 2, 1), D(2024, 2, 29))),
        ("last_month", D(2026, 1, 10), (D(2025, 12, 1), D(2025, 12, 31))),
        ("last_3_months", D(2026, 2, 10), (D(2025, 11, 1), D(2026, 1, 31))),
        ("last_quarter", D(2026, 1, 1), (D(2025, 10, 1), D(2025, 12, 31))),
        ("last_quarter", D(2026, 5, 20), (D(2026, 1, 1), D(2026, 3, 31))),
        ("last_2_quarters", D(2026, 4, 1), (D(2025, 10, 1), D(2026, 3, 31))),
        ("last_year", D(2026, 11, 30), (D(2025, 1, 1), D(2025, 12, 31))),
        ("last_2_years", D(2026, 1, 1), (D(2024, 1, 1), D(2025, 12, 31))),
        ("this_week", D(2026, 12, 3), (D(2026, 11, 30), D(2026, 12, 2))),
        ("week_to_date", D(2026, 12, 3), (D(2026, 11, 30), D(2026, 12, 2))),
        ("this_month", D(2026, 11, 30), (D(2026, 11, 1), D(2026, 11, 29))),
        ("month_to_date", D(2024, 3, 2), (D(2024, 3, 1), D(2024, 3, 1))),
        ("this_quarter", D(2026, 11, 30), (D(2026, 10, 1), D(2026, 11, 29))),
        ("quarter_to_date", D(2026, 4, 2), (D(2026, 4, 1), D(2026, 4, 1))),
        ("this_year", D(2026, 11, 30), (D(2026, 1, 1), D(2026, 11, 29))),
        ("year_to_date", D(2024, 3, 1), (D(2024, 1, 1), D(2024, 2, 29))),
    ],
)
def test_token_resolves_to_the_documented_dates(
    token: str, as_of: date, expected: tuple[date, date]
) -> None:
    assert resolve(token, as_of) == expected


def test_sunday_week_start_moves_calendar_weeks() -> None:
    # 2026-12-02 is a Wednesday; weeks starting Sunday begin on 2026-11-29.
    assert resolve("this_week", D(2026, 12, 2), week_start="sunday") == (
        D(2026, 11, 29),
        D(2026, 12, 1),
    )
    assert resolve("last_week", D(2026, 12, 2), week_start="sunday") == (
        D(2026, 11, 22),
        D(2026, 11, 28),
    )


def test_include_today_moves_the_end_to_as_of() -> None:
    assert resolve("last_7_days", D(2026, 11, 30), include_today=True) == (
        D(2026, 11, 24),
        D(2026, 11, 30),
    )
    assert resolve("month_to_date", D(2026, 11, 1), include_today=True) == (
        D(2026, 11, 1),
        D(2026, 11, 1),
    )


def test_to_date_window_on_the_first_day_says_why_and_what_to_write() -> None:
    with pytest.raises(WindowError) as info:
        resolve("month_to_date", D(2026, 11, 1))
    message = str(info.value)
    assert "'month_to_date' has no complete day on 2026-11-01" in message
    assert "write last_month" in message
    assert "include_today: true" in message


def test_absolute_window_is_taken_as_written_and_checks_order() -> None:
    spec = WindowSpec(start=D(2026, 11, 1), end=D(2026, 11, 15))
    assert resolve_window(spec, D(2020, 1, 1)) == DateRange(D(2026, 11, 1), D(2026, 11, 15))
    with pytest.raises(WindowError, match="from 2026-11-15 is after to 2026-11-01"):
        resolve_window(WindowSpec(start=D(2026, 11, 15), end=D(2026, 11, 1)), D(2026, 12, 1))


@pytest.mark.parametrize("token", ["last_0_days", "last_7_day", "next_week", "lastweek", ""])
def test_unknown_tokens_are_refused(token: str) -> None:
    assert not is_window_token(token)
    with pytest.raises(WindowError, match="unknown window"):
        resolve(token, D(2026, 11, 30))


@pytest.mark.parametrize(
    ("token", "as_of", "previous"),
    [
        ("last_7_days", D(2026, 11, 30), (D(2026, 11, 16), D(2026, 11, 22))),
        ("yesterday", D(2026, 3, 1), (D(2026, 2, 27), D(2026, 2, 27))),
        ("last_week", D(2026, 11, 30), (D(2026, 11, 16), D(2026, 11, 22))),
        ("last_month", D(2026, 3, 15), (D(2026, 1, 1), D(2026, 1, 31))),
        ("last_month", D(2026, 4, 1), (D(2026, 2, 1), D(2026, 2, 28))),
        ("last_2_months", D(2026, 3, 5), (D(2025, 11, 1), D(2025, 12, 31))),
        ("last_quarter", D(2026, 4, 1), (D(2025, 10, 1), D(2025, 12, 31))),
        ("last_year", D(2026, 4, 1), (D(2024, 1, 1), D(2024, 12, 31))),
        ("month_to_date", D(2026, 3, 31), (D(2026, 2, 1), D(2026, 2, 28))),
        ("month_to_date", D(2026, 11, 18), (D(2026, 10, 1), D(2026, 10, 17))),
        ("this_week", D(2026, 12, 3), (D(2026, 11, 23), D(2026, 11, 25))),
        ("year_to_date", D(2025, 3, 1), (D(2024, 1, 1), D(2024, 2, 28))),
    ],
)
def test_previous_period(token: str, as_of: date, previous: tuple[date, date]) -> None:
    spec = WindowSpec(token=token)
    current = resolve_window(spec, as_of)
    got = previous_window(spec, current, "previous_period")
    assert (got.start, got.end) == previous


def test_previous_year_maps_29_february_to_28() -> None:
    spec = WindowSpec(start=D(2024, 2, 25), end=D(2024, 2, 29))
    current = resolve_window(spec, D(2024, 3, 5))
    got = previous_window(spec, current, "previous_year")
    assert (got.start, got.end) == (D(2023, 2, 25), D(2023, 2, 28))


def test_as_of_follows_the_report_timezone_not_utc() -> None:
    # 23:30 UTC on 30 November is already 1 December in Tokyo, still 30 November in New York.
    now = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
    assert local_date(now, "Asia/Tokyo") == D(2026, 12, 1)
    assert local_date(now, "America/New_York") == D(2026, 11, 30)
    tokyo = resolve("month_to_date", local_date(now, "Asia/Tokyo"), include_today=True)
    assert tokyo == (D(2026, 12, 1), D(2026, 12, 1))
    with pytest.raises(WindowError):
        resolve("month_to_date", local_date(now, "Asia/Tokyo"))
    assert resolve("month_to_date", local_date(now, "America/New_York")) == (
        D(2026, 11, 1),
        D(2026, 11, 29),
    )


UNITS = ["days", "weeks", "months", "quarters", "years"]


@given(
    as_of=st.dates(min_value=D(1990, 1, 1), max_value=D(2090, 12, 31)),
    n=st.integers(min_value=1, max_value=40),
    unit=st.sampled_from(UNITS),
    compare=st.sampled_from(["previous_period", "previous_year"]),
)
def test_last_n_windows_are_whole_and_end_before_as_of(
    as_of: date, n: int, unit: str, compare: str
) -> None:
    spec = WindowSpec(token=f"last_{n}_{unit}")
    current = resolve_window(spec, as_of)
    assert current.start <= current.end < as_of
    if unit == "days":
        assert current.days == n
        assert current.end == as_of - timedelta(days=1)
    else:
        # whole calendar periods: the day after the end starts the current period
        nxt = current.end + timedelta(days=1)
        assert nxt <= as_of
        assert (nxt - timedelta(days=1)) == current.end
    previous = previous_window(spec, current, compare)  # type: ignore[arg-type]
    assert previous.start <= previous.end
    if compare == "previous_period":
        assert previous.end == current.start - timedelta(days=1)
        if unit == "days":
            assert previous.days == current.days
    else:
        assert (previous.start.year, previous.end.year) == (
            current.start.year - 1,
            current.end.year - 1,
        )
        assert abs(previous.days - current.days) <= 1
