"""The AMI consumer's reading of a channel's age when it finds a caller it had lost."""

from __future__ import annotations

from hotline.acd.consumer import _seconds


def test_channel_duration_in_seconds() -> None:
    assert _seconds("00:00:05") == 5.0
    assert _seconds("01:02:03") == 3723.0
    assert _seconds("") == 0.0 and _seconds("soon") == 0.0 and _seconds("1:2") == 0.0
