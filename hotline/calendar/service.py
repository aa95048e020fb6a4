"""The centre's one calendar with its imported arrangements (kept in the ticket store).

Deadlines, opening hours, the night review and staffing all hold the same ``WorkCalendar``;
this service loads the operator's imports into it (``set_arrangements``), so an import counts
at once in a running engine (which polls ``calendar_stamp``) and in the CLI that made it.
When an import (or a package that learnt a year) makes a provisional year official, the open
tickets' provisional deadlines are counted again and each change is logged on its ticket.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime

from hotline.base.daytypes import Arrangement, Source, YearStatus
from hotline.calendar.file import parse_arrangement
from hotline.tickets.service import TicketService
from hotline.tickets.workdays import WorkCalendar, local_date

log = logging.getLogger(__name__)

WARN_FROM_MONTH = 11  # the State Council publishes next year's arrangement in November


@dataclass(frozen=True)
class ImportResult:
    arrangement: Arrangement
    recomputed: int
    """Open tickets whose deadlines were counted again."""


class CalendarService:
    def __init__(self, tickets: TicketService) -> None:
        self.tickets = tickets
        self._stamp: tuple[int, str] | None = None

    @property
    def calendar(self) -> WorkCalendar:
        return self.tickets.settings.policy.calendar

    def load(self) -> bool:
        """Read the imported arrangements into the calendar; True when they changed."""
        store = self.tickets.store
        stamp = store.calendar_stamp()
        if stamp == self._stamp:
            return False
        found = [parse_arrangement(text, origin) for text, origin in store.arrangement_texts()]
        self.calendar.set_arrangements(found)
        changed = self._stamp is not None or bool(found)
        self._stamp = stamp
        return changed

    def recompute(self, reason: str, now: datetime | None = None) -> int:
        done = self.tickets.recompute_provisional(actor="calendar", reason=reason, now=now)
        for rec, moved in done:
            log.info("ticket %s: deadlines recomputed (%s): %s", rec.number, reason, moved)
        return len(done)

    def import_file(self, data: bytes, origin: str, *, actor: str, at: datetime) -> ImportResult:
        """Validate, store and apply a year's official arrangement (ArrangementError names
        the line of a refused file; nothing is stored then)."""
        arrangement = parse_arrangement(data, origin)
        text = data.decode("utf-8-sig")
        self.tickets.store.save_arrangement(arrangement.year, text, origin, actor=actor, at=at)
        self.load()
        n = self.recompute(f"official {arrangement.year} calendar imported ({origin})", now=at)
        return ImportResult(arrangement, n)

    def years(self, today: date) -> list[YearStatus]:
        """Last year to two years ahead, plus every imported or configured year."""
        cal = self.calendar
        years = set(range(today.year - 1, today.year + 3))
        years |= set(cal.arrangements) | set(cal.extra_years)
        years |= {d.year for d in cal.extra_holidays | cal.extra_workdays}
        return [cal.year_status(y) for y in sorted(years)]

    def warning(self, now: datetime) -> str | None:
        return next_year_warning(self.calendar, now)

    def provisional_year(self, now: datetime) -> int | None:
        return provisional_next_year(self.calendar, now)


def provisional_next_year(calendar: WorkCalendar, now: datetime) -> int | None:
    """From 1 November: next year, while its arrangement is still provisional."""
    today = local_date(now)
    if today.month < WARN_FROM_MONTH:
        return None
    if calendar.year_status(today.year + 1).source is not Source.PROVISIONAL:
        return None
    return today.year + 1


def next_year_warning(calendar: WorkCalendar, now: datetime) -> str | None:
    """The provisional next year said in the operator's words (the desktop says it in the
    page's language from the year, hotline/base/i18n.py calendar_provisional)."""
    year = provisional_next_year(calendar, now)
    if year is None:
        return None
    return f"{year}年节假日安排尚未导入，期限按法定节假日暂定计算（hotline calendar import）"
