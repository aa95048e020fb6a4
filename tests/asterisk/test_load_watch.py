"""Falling behind is said, with figures: the AMI event lag's p99 over the last minute and the
backlogs (hotline/asterisk/ami/watch.py), in the log and in `hotline status`."""

from __future__ import annotations

import logging

import pytest

from hotline.app.statusview import format_status
from hotline.asterisk.ami.watch import LoadWatch, p99


def test_p99() -> None:
    assert p99([]) is None
    assert p99([float(i) for i in range(1, 101)]) == 99.0
    assert p99([0.2]) == 0.2


def test_late_events_and_a_growing_backlog_are_warned_about_with_figures(
    caplog: pytest.LogCaptureFixture,
) -> None:
    backlog = {"n": 3}
    watch = LoadWatch({"recording_backlog": lambda: backlog["n"]})
    caplog.set_level(logging.INFO, logger="hotline.asterisk.ami.watch")
    for i in range(100):  # events stamped by Asterisk 0.05 s before being taken up
        watch.event_taken(1000.0 + i * 0.1 - 0.05, 1000.0 + i * 0.1)
    quiet = watch.check(1010.0)
    assert quiet["warnings"] == [] and quiet["ami_lag_p99_s"] == 0.05
    assert quiet["recording_backlog"] == 3 and quiet["ami_events_last_min"] == 100

    for i in range(50):  # then 8 s late (the probe at 300 calls: 5-11 s)
        watch.event_taken(1010.0 + i * 0.1 - 8.0, 1010.0 + i * 0.1)
    backlog["n"] = 450
    late = watch.check(1015.0)
    assert late["ami_lag_p99_s"] == 8.0 and late["ami_lag_max_s"] == 8.0
    assert any("p99 8.00 s" in w for w in late["warnings"]), late["warnings"]
    assert "backlog recording backlog: 450 (limit 200)" in late["warnings"]
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(logged) == 2 and all(m.startswith("falling behind: ") for m in logged)

    watch.check(1020.0)  # still behind: not said again within the minute
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 2

    backlog["n"] = 0
    later = watch.check(1090.0)  # the late events left the one-minute window
    assert later["warnings"] == [] and later["ami_lag_p99_s"] is None
    assert any(r.getMessage().startswith("back to normal") for r in caplog.records)


def test_hotline_status_shows_the_figures_and_the_warnings() -> None:
    text = format_status(
        {
            "load": {
                "ami_lag_p99_s": 6.5,
                "ami_events_last_min": 900,
                "ami_queue": 12,
                "recording_backlog": 3,
                "spooled_records": 0,
                "warnings": ["AMI events handled late: p99 6.50 s"],
            }
        },
        now=0,
    )
    assert "AMI event lag p99 6.50 s (900 events in the last minute)" in text
    assert "recording backlog 3" in text
    assert "WARNING: AMI events handled late: p99 6.50 s" in text
