"""The file an operator imports a year's official holiday arrangement from (pure: text in).

Format (docs/CALENDAR.md), one statement per line, ``#`` starts a comment::

    # 国务院办公厅关于2027年部分节假日安排的通知
    year 2027
    holiday 2027-01-01 元旦
    holiday 2027-02-05..2027-02-11 春节
    workday 2027-02-14 春节调休上班

Rules, each refusal naming the line:

* ``year YYYY`` comes first and once; every date belongs to that year.
* ``holiday FIRST[..LAST] NAME``: days off (statutory and bridged), with the holiday's name.
* ``workday DAY [NAME]``: a make-up working day (调休上班), so a Saturday or a Sunday: a
  weekday is a working day anyway and listing it is a mistake in the file.
* No date is both a holiday and a working day, or listed twice; at least one holiday.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from hotline.base.daytypes import FIRST_YEAR, LAST_YEAR, Arrangement

MAX_BYTES = 64 * 1024
MAX_NAME = 40
_DATE = r"(\d{4}-\d{2}-\d{2})"
_LINE = re.compile(rf"(holiday|workday)\s+{_DATE}(?:\.\.{_DATE})?(?:\s+(\S.*))?")
_YEAR = re.compile(r"year\s+(\d{4})")


class ArrangementError(ValueError):
    """The file is refused; the message names the line."""


def _day(text: str, where: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ArrangementError(f"{where}: {text} is not a date (YYYY-MM-DD)") from None


def parse_arrangement(data: bytes | str, origin: str = "") -> Arrangement:
    if isinstance(data, bytes):
        if len(data) > MAX_BYTES:
            raise ArrangementError(f"the file has {len(data)} bytes, at most {MAX_BYTES}")
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ArrangementError(f"the file is not UTF-8 text ({exc.reason})") from None
    year: int | None = None
    holidays: dict[date, str] = {}
    workdays: dict[date, str] = {}
    seen: dict[date, int] = {}
    for number, raw in enumerate(data.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        where = f"line {number} ({line[:60]})"
        if year is None:
            m = _YEAR.fullmatch(line)
            if m is None:
                raise ArrangementError(f"{where}: the first statement must be 'year YYYY'")
            year = int(m.group(1))
            if not FIRST_YEAR <= year <= LAST_YEAR:
                raise ArrangementError(f"{where}: {year} is outside {FIRST_YEAR}-{LAST_YEAR}")
            continue
        if _YEAR.fullmatch(line):
            raise ArrangementError(f"{where}: the year is given twice")
        m = _LINE.fullmatch(line)
        if m is None:
            raise ArrangementError(
                f"{where}: expected 'holiday FIRST[..LAST] NAME' or 'workday DAY [NAME]'"
            )
        kind, first_text, last_text, name = m.group(1), m.group(2), m.group(3), m.group(4)
        name = (name or "").strip()
        if len(name) > MAX_NAME or any(not ch.isprintable() for ch in name):
            raise ArrangementError(f"{where}: the name must be printable, at most {MAX_NAME}")
        first = _day(first_text, where)
        last = _day(last_text, where) if last_text else first
        if last < first:
            raise ArrangementError(f"{where}: the range ends before it starts")
        for d in (first, last):
            if d.year != year:
                raise ArrangementError(f"{where}: {d.isoformat()} is not in {year}")
        if kind == "holiday" and not name:
            raise ArrangementError(f"{where}: a holiday needs its name (e.g. 春节)")
        if kind == "workday" and last_text:
            raise ArrangementError(f"{where}: list make-up working days one per line")
        if kind == "workday" and first.weekday() < 5:
            raise ArrangementError(
                f"{where}: {first.isoformat()} is a weekday; only a Saturday or Sunday can be a "
                "make-up working day"
            )
        day = first
        while day <= last:
            if day in seen:
                other = "holiday" if day in holidays else "workday"
                both = " both a holiday and a working day" if other != kind else " twice"
                raise ArrangementError(
                    f"{where}: {day.isoformat()} is listed{both} (first on line {seen[day]})"
                )
            seen[day] = number
            (holidays if kind == "holiday" else workdays)[day] = name
            day += timedelta(days=1)
    if year is None:
        raise ArrangementError("the file is empty: it must start with 'year YYYY'")
    if not holidays:
        raise ArrangementError(f"the {year} arrangement lists no holiday")
    return Arrangement(year=year, holidays=holidays, workdays=workdays, origin=origin)


def format_arrangement(arrangement: Arrangement) -> str:
    """The file for an arrangement (what ``hotline calendar export`` would write)."""
    lines = [f"year {arrangement.year}"]
    lines += [f"holiday {d.isoformat()} {n}" for d, n in sorted(arrangement.holidays.items())]
    lines += [
        f"workday {d.isoformat()} {n}".rstrip() for d, n in sorted(arrangement.workdays.items())
    ]
    return "\n".join(lines) + "\n"
