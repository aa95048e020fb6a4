"""Opening hours of manual service, by China's day types, with local exceptions.

12345 is answered 7x24 by the IVR; *agents* may not be (Kunming staffs 08:00-22:00). Out of
hours the caller is offered voicemail and a callback instead of waiting for nobody. Hours are
local (Asia/Shanghai) wall-clock ranges per day type — working day, rest day, public holiday,
make-up working day — because a make-up Saturday is staffed like a weekday and a holiday is not.
Local exceptions name dates that are closed or open all day (a city's own day off, an
emergency all-hands day).
"""

from __future__ import annotations

import re
import time as time_module
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hotline.base.daytypes import DEFAULT_CALENDAR, ChinaCalendar

CENTRE_TZ = ZoneInfo("Asia/Shanghai")
_RANGE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")
ALL_DAY = ["00:00-24:00"]


def _parse_range(text: str) -> tuple[time, time | None]:
    m = _RANGE.match(text.strip())
    if m is None:
        raise ValueError(f"{text!r} is not a range like 08:00-22:00")
    start = time(int(m.group(1)), int(m.group(2)))
    end_h, end_m = int(m.group(3)), int(m.group(4))
    if end_h == 24 and end_m != 0:
        raise ValueError(f"{text!r}: 24:MM is only valid as 24:00")
    end = None if end_h == 24 else time(end_h, end_m)  # None: midnight at the end of the day
    if end is not None and end <= start:
        raise ValueError(f"{text!r}: the range ends before it starts (split ranges at midnight)")
    return start, end


class HoursConfig(BaseModel):
    """``[hours]``: when agents answer. The default is 7x24 manual service."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    workday: list[str] = Field(default_factory=lambda: list(ALL_DAY))
    rest_day: list[str] = Field(default_factory=lambda: list(ALL_DAY))
    holiday: list[str] = Field(default_factory=lambda: list(ALL_DAY))
    makeup_workday: list[str] = Field(default_factory=lambda: list(ALL_DAY))
    closed_dates: list[date] = Field(default_factory=list)
    open_dates: list[date] = Field(default_factory=list)
    """Dates open all day whatever their type."""
    clock_start: datetime | None = None
    """For drills and tests: the hours are judged as if the engine had started at this
    instant (with its offset, e.g. 2026-10-01T03:00:00+08:00), the clock running on from
    there. Empty: the real clock. Call records keep real times either way."""

    @field_validator("clock_start")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give the time zone offset, e.g. 2026-10-01T03:00:00+08:00")
        return value

    @field_validator("workday", "rest_day", "holiday", "makeup_workday")
    @classmethod
    def _ranges(cls, ranges: list[str]) -> list[str]:
        for r in ranges:
            _parse_range(r)
        return ranges


def hours_clock(
    config: HoursConfig, real: Callable[[], float] = time_module.time
) -> Callable[[], float]:
    """The clock opening hours are judged by: the real one, or ``clock_start`` running on."""
    if config.clock_start is None:
        return real
    offset = config.clock_start.timestamp() - real()
    return lambda: real() + offset


@dataclass(frozen=True)
class BusinessHours:
    config: HoursConfig
    calendar: ChinaCalendar = DEFAULT_CALENDAR
    """The centre's one calendar (the engine passes the ticket store's, with its imports)."""

    def ranges(self, day: date) -> list[tuple[time, time | None]]:
        if day in self.config.open_dates:
            return [_parse_range(ALL_DAY[0])]
        if day in self.config.closed_dates:
            return []
        texts: list[str] = getattr(self.config, str(self.calendar.day_type(day)))
        return [_parse_range(t) for t in texts]

    def is_open(self, at: datetime) -> bool:
        local = at.astimezone(CENTRE_TZ)
        now = local.time()
        return any(
            start <= now and (end is None or now < end) for start, end in self.ranges(local.date())
        )

    def next_open(self, at: datetime, horizon_days: int = 30) -> datetime | None:
        """The next moment agents answer (``at`` itself when open); None if closed for a month."""
        if self.is_open(at):
            return at
        local = at.astimezone(CENTRE_TZ)
        for offset in range(horizon_days + 1):
            day = local.date() + timedelta(days=offset)
            for start, _end in sorted(self.ranges(day), key=lambda r: r[0]):
                candidate = datetime.combine(day, start, CENTRE_TZ)
                if candidate > local:
                    return candidate
        return None
