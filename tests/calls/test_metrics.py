"""Service metrics per skill and 15-minute interval, on hand-made call records."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hotline.calls.metrics import ALL, MetricsBook, interval_start
from hotline.calls.records import CallOutcome, CallRecord

T0 = 1_800_000_000.0 - (1_800_000_000.0 % 900)  # an interval boundary


def dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def record(
    uid: str,
    queued: float | None,
    wait: float,
    outcome: CallOutcome,
    skill: str = "consult",
) -> CallRecord:
    answered = queued + wait if queued is not None and outcome is CallOutcome.ANSWERED else None
    end = (answered or (queued or T0) + wait) + 60
    return CallRecord(
        unique_id=uid,
        linked_id=uid,
        caller="138",
        dialled="12345",
        arrived_at=dt((queued or T0) - 10),
        ended_at=dt(end if answered else (queued or T0) + wait),
        outcome=outcome,
        queued_at=dt(queued) if queued is not None else None,
        answered_at=dt(answered) if answered is not None else None,
        skill=skill,
    )


def test_service_level_counts_abandoned_calls_against_it_and_short_abandons_apart() -> None:
    book = MetricsBook()
    book.add_record(record("a", T0 + 1, 5, CallOutcome.ANSWERED))
    book.add_record(record("b", T0 + 2, 15, CallOutcome.ANSWERED))  # exactly 15 s: in target
    book.add_record(record("c", T0 + 3, 40, CallOutcome.ANSWERED))
    book.add_record(record("d", T0 + 4, 3, CallOutcome.ABANDONED_QUEUE))  # short abandon
    book.add_record(record("e", T0 + 5, 30, CallOutcome.ABANDONED_QUEUE))
    book.add_record(record("f", None, 0, CallOutcome.ABANDONED_IVR))  # never offered
    f = book.figures(T0, "consult")
    assert (f.offered, f.answered, f.answered_in_target) == (5, 3, 2)
    assert f.service_level == pytest.approx(2 / 5)
    assert f.asa_s == pytest.approx((5 + 15 + 40) / 3)
    assert (f.abandoned, f.abandoned_short, f.longest_wait_s) == (2, 1, 40)
    assert book.figures(T0, ALL).offered == 5


def test_calls_fall_in_the_interval_of_their_queue_entry_and_count_once() -> None:
    book = MetricsBook()
    assert book.add_record(record("a", T0 + 899, 30, CallOutcome.ANSWERED))
    assert book.add_record(record("b", T0 + 900, 1, CallOutcome.ANSWERED, skill="social"))
    assert not book.add_record(record("a", T0 + 899, 30, CallOutcome.ANSWERED))
    assert book.figures(T0).offered == 1
    assert book.figures(T0 + 900, "social").offered == 1
    assert book.skills(T0 + 900) == [ALL, "social"]
    # "today" lists a skill busy earlier in the day, not only in the current interval
    assert book.skills(T0, T0 + 86400) == [ALL, "consult", "social"]
    assert book.skills(T0 + 900, T0 + 86400) == [ALL, "social"]
    day = book.totals(T0, T0 + 86400)
    assert day.offered == 2 and day.service_level == pytest.approx(0.5)


def test_occupancy_is_busy_time_over_logged_in_time_split_across_intervals() -> None:
    book = MetricsBook()
    book.agent_state("1001", "ready", T0)
    book.agent_state("1001", "on_call", T0 + 600)
    book.agent_state("1001", "wrap_up", T0 + 1200)  # 300 s busy in T0, 300 s in T0+900
    book.agent_state("1001", "logged_out", T0 + 1350)  # 150 s wrap-up in T0+900
    assert book.occupancy(T0) == pytest.approx(300 / 900)
    assert book.occupancy(T0 + 900) == pytest.approx(450 / 450)
    # Live: the time in the current state counts up to "now".
    book.agent_state("1002", "on_call", T0 + 1800)
    assert book.occupancy(T0 + 1800, now=T0 + 1860) == pytest.approx(1.0)


def test_interval_start_and_forgetting_old_intervals() -> None:
    assert interval_start(T0 + 899.9) == T0
    book = MetricsBook()
    book.add_record(record("a", T0 + 1, 1, CallOutcome.ANSWERED))
    book.forget_before(T0 + 900)
    assert book.figures(T0).offered == 0
    assert book.add_record(record("a", T0 + 1, 1, CallOutcome.ANSWERED))  # forgotten id
    assert book.current(T0 + 10)[0].offered == 1
