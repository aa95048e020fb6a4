"""China's calendar of working days, rest days, public holidays and make-up working days.

One calendar serves every feature that asks "is this a working day?": ticket deadlines, opening
hours, the night review's "first working morning" and staffing's day types. Pure: no clock, no
I/O; the engine hands it the arrangements it read from the ticket store.

Rules (docs/CALENDAR.md):

1. A day's answer comes from the first of three sources that knows it:
   a. **configured**: dates the centre configured (local holidays, local working days) and whole
      years it describes itself (``extra_years``: Monday-Friday work unless a local holiday);
   b. **official**: the State Council's arrangement for the year — one the operator imported
      (``hotline calendar import``), else the chinese-calendar package where it knows the year;
      an import wins because an operator imports to correct or to get ahead of the package;
   c. **provisional**: for a year neither knows, the statutory public holidays computed for that
      year by the ``holidays`` package (New Year, Spring Festival with its eve, Qingming,
      Labour Day, Dragon Boat, Mid-Autumn, National Day, and the in-lieu weekday when one falls
      on a weekend, as the 放假办法 requires), weekends as rest days, no make-up working days
      (调休 cannot be guessed) — unless that package already carries the year's official
      substitute days: then each such day off comes with its make-up working day, never
      alone (a bridged day off without the Saturday worked for it would be one day too many).
2. A provisional answer is marked so (``Day.source``), so that a deadline computed across such a
   day can be shown as provisional and recomputed when the official arrangement arrives.
3. Years outside ``FIRST_YEAR``..``LAST_YEAR`` raise ``CalendarOutOfRange`` unless configured:
   before the first, no national data exists; after the last, the lunar tables end.
"""

from __future__ import annotations

import enum
import importlib.metadata
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from types import MappingProxyType
from zoneinfo import ZoneInfo

import chinese_calendar
import holidays as holidays_package

CENTRE_TZ = ZoneInfo("Asia/Shanghai")
"""The centre's time zone: its days, opening hours, deadlines and the times people read.
The one place it is named; every other module imports it from here."""

FIRST_YEAR = 2004  # chinese-calendar's first year
LAST_YEAR = 2099  # the holidays package's lunar tables run to 2100


class CalendarOutOfRange(ValueError):
    """No source knows this date (see FIRST_YEAR and LAST_YEAR)."""


class DayType(enum.StrEnum):
    WORKDAY = "workday"
    REST_DAY = "rest_day"
    HOLIDAY = "holiday"
    MAKEUP_WORKDAY = "makeup_workday"


class Source(enum.StrEnum):
    CONFIGURED = "configured"
    OFFICIAL = "official"
    PROVISIONAL = "provisional"


@dataclass(frozen=True)
class Day:
    day: date
    type: DayType
    source: Source
    name: str = ""
    """The holiday's name (or the make-up day's), in Chinese where the source has it."""

    @property
    def is_workday(self) -> bool:
        return self.type in (DayType.WORKDAY, DayType.MAKEUP_WORKDAY)


@dataclass(frozen=True)
class YearStatus:
    year: int
    source: Source
    detail: str


@dataclass(frozen=True)
class Arrangement:
    """One year's official arrangement as an operator imported it (tickets.calendar_import)."""

    year: int
    holidays: Mapping[date, str]
    workdays: Mapping[date, str]
    origin: str = ""
    """Where it came from, e.g. the notice's number and the file's name."""


@cache
def _version(package: str) -> str:
    return importlib.metadata.version(package)


@cache
def _package_knows(year: int) -> bool:
    try:
        chinese_calendar.get_holiday_detail(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


# The holidays package names an official substitute day off "休息日（由 2026-01-04 调休）":
# the date is the weekend day worked in exchange.
_SWAPPED_FROM = re.compile(r"由\s*(\d{4}-\d{2}-\d{2})\s*调休")
MAKEUP_NAME = "调休上班"


@cache
def provisional_days(year: int, substitutes: bool = True) -> Mapping[date, tuple[DayType, str]]:
    """A year's days off and make-up working days by the holidays package, names in Chinese:
    the statutory holidays and their in-lieu weekdays; with ``substitutes``, also the official
    substitute days off it carries for the year, each with the weekend day worked for it."""
    found = holidays_package.country_holidays("CN", years=year, language="zh_CN")
    days: dict[date, tuple[DayType, str]] = {}
    worked: set[date] = set()
    for day, label in found.items():
        if day.year != year:
            continue
        names = [n.strip() for n in str(label).split(";")]
        swaps = [date.fromisoformat(m) for n in names for m in _SWAPPED_FROM.findall(n)]
        statutory = [n for n in names if not _SWAPPED_FROM.search(n)]
        if statutory:
            days[day] = (DayType.HOLIDAY, "; ".join(statutory))
        elif substitutes:
            days[day] = (DayType.HOLIDAY, str(label))
        if substitutes:
            worked.update(swaps)
    # A day worked for a day off in another year belongs to that year's table: left out here.
    for day in sorted(worked):
        if day.year == year and day not in days:
            days[day] = (DayType.MAKEUP_WORKDAY, MAKEUP_NAME)
    return MappingProxyType(days)


def _weekday_type(day: date) -> DayType:
    return DayType.WORKDAY if day.weekday() < 5 else DayType.REST_DAY


class ChinaCalendar:
    """The calendar rules above. Arrangements may be replaced while it is in use
    (``set_arrangements``): every feature holding it sees an import at once."""

    def __init__(
        self,
        extra_holidays: Iterable[date] = (),
        extra_workdays: Iterable[date] = (),
        extra_years: Iterable[int] = (),
        arrangements: Iterable[Arrangement] = (),
        packages_until: int | None = None,
    ) -> None:
        """``packages_until``: the last year whose official data is taken from the packages
        (chinese-calendar's arrangement, the holidays package's substitute days); later years
        are provisional. None: whatever the installed packages know. Given like a clock: a
        test fixes it so that a package release does not change which years it sees as
        provisional (docs/CALENDAR.md)."""
        self.packages_until = packages_until
        self.extra_holidays = frozenset(extra_holidays)
        self.extra_workdays = frozenset(extra_workdays)
        self.extra_years = frozenset(extra_years)
        both = self.extra_holidays & self.extra_workdays
        if both:
            listed = ", ".join(d.isoformat() for d in sorted(both))
            raise ValueError(f"dates both extra holiday and extra workday: {listed}")
        self._arrangements: Mapping[int, Arrangement] = {}
        self.set_arrangements(arrangements)

    def set_arrangements(self, arrangements: Iterable[Arrangement]) -> None:
        # One assignment each: a reader sees the old mapping or the new one, never half of
        # each (the year tables are rebuilt lazily from the new arrangements).
        self._arrangements = MappingProxyType({a.year: a for a in arrangements})
        self._tables: dict[int, Mapping[date, Day]] = {}

    @property
    def arrangements(self) -> Mapping[int, Arrangement]:
        return self._arrangements

    def day(self, day: date) -> Day:
        if day in self.extra_holidays:
            return Day(day, DayType.HOLIDAY, Source.CONFIGURED, "本地假日")
        if day in self.extra_workdays:
            kind = DayType.MAKEUP_WORKDAY if day.weekday() >= 5 else DayType.WORKDAY
            return Day(day, kind, Source.CONFIGURED, "本地工作日")
        if day.year in self.extra_years:
            return Day(day, _weekday_type(day), Source.CONFIGURED)
        if not FIRST_YEAR <= day.year <= LAST_YEAR:
            raise CalendarOutOfRange(
                f"{day.isoformat()}: no calendar covers years outside {FIRST_YEAR}-{LAST_YEAR} "
                "(a centre may describe such a year itself: [tickets] extra_years)"
            )
        # A deadline walks up to ~30 days one by one and chinese-calendar takes ~17 us a day:
        # each year's answers are worked out once (about 10 ms) and looked up after that.
        table = self._tables.get(day.year)
        if table is None:
            table = self._tables[day.year] = self._year_table(day.year)
        return table[day]

    def _year_table(self, year: int) -> Mapping[date, Day]:
        first = date(year, 1, 1)
        days = (first + timedelta(days=i) for i in range(366))
        return MappingProxyType({d: self._national(d) for d in days if d.year == year})

    def _national(self, day: date) -> Day:
        """The official or provisional answer (configured dates are checked before)."""
        imported = self._arrangements.get(day.year)
        if imported is not None:
            if day in imported.holidays:
                return Day(day, DayType.HOLIDAY, Source.OFFICIAL, imported.holidays[day])
            if day in imported.workdays:
                return Day(day, DayType.MAKEUP_WORKDAY, Source.OFFICIAL, imported.workdays[day])
            return Day(day, _weekday_type(day), Source.OFFICIAL)
        if self._package_knows(day.year):
            return self._from_package(day)
        found = provisional_days(day.year, self._packages_cover(day.year)).get(day)
        if found is not None:
            return Day(day, found[0], Source.PROVISIONAL, found[1])
        return Day(day, _weekday_type(day), Source.PROVISIONAL)

    def _packages_cover(self, year: int) -> bool:
        return self.packages_until is None or year <= self.packages_until

    def _package_knows(self, year: int) -> bool:
        return self._packages_cover(year) and _package_knows(year)

    @staticmethod
    def _from_package(day: date) -> Day:
        on_holiday, holiday = chinese_calendar.get_holiday_detail(day)
        name = getattr(holiday, "chinese", "") or (str(holiday) if holiday else "")
        if isinstance(holiday, str):  # the package answers with the enum's English value
            found = next((h for h in chinese_calendar.Holiday if h.value == holiday), None)
            name = found.chinese if found is not None else holiday
        if on_holiday:
            kind = DayType.HOLIDAY if holiday else DayType.REST_DAY
            return Day(day, kind, Source.OFFICIAL, name if holiday else "")
        if day.weekday() >= 5:
            return Day(day, DayType.MAKEUP_WORKDAY, Source.OFFICIAL, name)
        return Day(day, DayType.WORKDAY, Source.OFFICIAL)

    def day_type(self, day: date) -> DayType:
        return self.day(day).type

    def is_workday(self, day: date) -> bool:
        return self.day(day).is_workday

    def year_status(self, year: int) -> YearStatus:
        if year in self.extra_years:
            return YearStatus(year, Source.CONFIGURED, "[tickets] extra_years: Monday-Friday")
        if not FIRST_YEAR <= year <= LAST_YEAR:
            raise CalendarOutOfRange(f"{year}: outside {FIRST_YEAR}-{LAST_YEAR}")
        imported = self._arrangements.get(year)
        if imported is not None:
            return YearStatus(year, Source.OFFICIAL, f"imported: {imported.origin}")
        if self._package_knows(year):
            version = _version("chinese-calendar")
            return YearStatus(year, Source.OFFICIAL, f"chinese-calendar {version}")
        version = _version("holidays")
        days = provisional_days(year, self._packages_cover(year)).values()
        makeup = sum(kind is DayType.MAKEUP_WORKDAY for kind, _ in days)
        found = f"{makeup} make-up working days" if makeup else "no make-up working days"
        return YearStatus(
            year, Source.PROVISIONAL, f"statutory holidays computed by holidays {version}; {found}"
        )

    def is_provisional_year(self, year: int) -> bool:
        return self.year_status(year).source is Source.PROVISIONAL

    def provisional_between(self, start: date, end: date) -> bool:
        """Whether any day after ``start`` up to ``end`` comes from a provisional year."""
        first, last = sorted((start, end))
        return any(self.is_provisional_year(y) for y in range(first.year, last.year + 1))


DEFAULT_CALENDAR = ChinaCalendar()


def day_type(day: date, calendar: ChinaCalendar | None = None) -> DayType:
    """The day's type (the default calendar: national data, no local dates)."""
    return (calendar or DEFAULT_CALENDAR).day_type(day)
