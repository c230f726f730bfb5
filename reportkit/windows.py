"""Date windows: tokens and absolute dates resolved against an `as_of` day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


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
