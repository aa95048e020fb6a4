"""What a display may read on MQTT, and the shape the ACD snapshot check expects (no I/O)."""

from __future__ import annotations

import json
from dataclasses import fields

from hotline.acd.store import TRACKED_FIELDS, _Tracked, check_snapshot
from hotline.base.bus import DISPLAY_FIELDS, EventBus, display_copy
from hotline.base.settings import Config
from hotline.calls.tracker import CallInProgress

PERSONAL = {
    "caller", "number", "text", "transcript", "speech_text", "channel", "seat", "path",
    "recording", "ticket", "ticket_number", "detail", "dialled", "ivr_path",
}  # fmt: skip


def test_no_personal_field_is_shown_to_a_display() -> None:
    assert not PERSONAL & DISPLAY_FIELDS
    shown = display_copy({"call_id": "1", "caller": "13800000000", "skill": "general"})
    assert shown == {"call_id": "1", "skill": "general"}
    assert display_copy({"a_field_added_later": "x"}) == {}


def test_every_event_goes_whole_to_the_private_feed_and_stripped_to_the_display_feed() -> None:
    bus = EventBus(Config().mqtt)
    bus.publish(("calls", "1", "arrived"), {"call_id": "1", "caller": "13800000000", "at": 1.0})
    (private, whole), (public, shown) = (bus._queue.get_nowait() for _ in range(2))
    assert private == "hotline/private/calls/1/arrived" and public == "hotline/calls/1/arrived"
    assert json.loads(whole)["caller"] == "13800000000"
    assert json.loads(shown) == {"call_id": "1", "at": 1.0}


def test_the_snapshot_check_knows_every_field_of_a_tracked_call() -> None:
    assert set(_Tracked.model_fields) == TRACKED_FIELDS == {f.name for f in fields(CallInProgress)}
    call = CallInProgress("1", "1", "13800000000", "12345", "PJSIP/x-1", 1.0)
    data = {"acd": {}, "calls": {"1": {f: getattr(call, f) for f in TRACKED_FIELDS}}}
    assert check_snapshot(data) == data
