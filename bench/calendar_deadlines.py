"""How long a deadline takes to count, on the centre's calendar against chinese-calendar asked
day by day (what the engine did before the one calendar), and across a provisional year.

Prints microseconds per deadline; no pass/fail. ``python -m bench calendar_deadlines``.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta

import chinese_calendar

from hotline.tickets.workdays import SHANGHAI, WorkCalendar, end_of_day, local_date

N = 3000


def _per_call_us(fn: Callable[[], object], n: int = N) -> float:
    fn()  # warm: the year's table, the provisional year's holidays
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1e6


def _peer_add_workdays(start: datetime, n: int) -> datetime:
    """chinese-calendar asked for every day (the code before the calendar service)."""
    day, left = local_date(start), n
    while left:
        day += timedelta(days=1)
        left -= bool(chinese_calendar.is_workday(day))
    return end_of_day(day)


def main() -> None:
    cal = WorkCalendar()
    official = datetime(2026, 3, 2, 10, tzinfo=SHANGHAI)
    crossing = datetime(2026, 12, 20, 10, tzinfo=SHANGHAI)
    assert cal.add_workdays(official, 20) == _peer_add_workdays(official, 20)
    ours = _per_call_us(lambda: cal.add_workdays(official, 20))
    peer = _per_call_us(lambda: _peer_add_workdays(official, 20))
    prov = _per_call_us(lambda: cal.add_workdays(crossing, 20))
    mark = _per_call_us(lambda: cal.deadline_provisional(crossing, cal.add_workdays(crossing, 20)))
    first = time.perf_counter()
    WorkCalendar().is_workday(date(2031, 5, 6))  # a fresh calendar's first provisional year
    first_ms = (time.perf_counter() - first) * 1e3
    print(f"machine: {platform.machine()}, Python {platform.python_version()}, {date.today()}")
    print(f"20-working-day deadline, official 2026:     {ours:8.1f} us")
    print(
        f"  chinese-calendar day by day (the peer):   {peer:8.1f} us  (ours/peer {ours / peer:.3f})"
    )
    print(f"20-working-day deadline into provisional 2027: {prov:5.1f} us")
    print(f"  with the provisional mark:                {mark:8.1f} us")
    print(f"first answer of a provisional year (builds its table): {first_ms:.1f} ms")


if __name__ == "__main__":
    main()
