"""AMI events as data (hotline/asterisk/ami/events.py): the tables name every field of each
event class exactly once, and a row reads its headers as the dialplan writes them."""

from __future__ import annotations

import dataclasses

import pytest

from hotline.asterisk.ami import events
from hotline.asterisk.ami.events import (
    CallArrived,
    CallbackLegFailed,
    MalformedEvent,
    RecordingStarted,
    parse_event,
)

TABLES = {**events._USER_EVENTS, **events._AMI_EVENTS}


@pytest.mark.parametrize("name", sorted(TABLES))
def test_a_row_names_every_field_of_its_event_once(name: str) -> None:
    cls, fields = TABLES[name]
    named = [f.name for f in fields]
    wanted = [f.name for f in dataclasses.fields(cls) if f.name != "at"]
    assert sorted(named) == sorted(wanted) and len(set(named)) == len(named)


def test_a_user_event_reads_its_headers_case_insensitively() -> None:
    event = parse_event(
        {"Event": "UserEvent", "UserEvent": "HotlineArrived", "CALLID": "c1",
         "linkedid": "l1", "Caller": "138", "Channel": "PJSIP/t-1", "Timestamp": "5.0"},
        9.0,
    )  # fmt: skip
    assert event == CallArrived(
        at=5.0, call_id="c1", linked_id="l1", caller="138", dialled="", channel="PJSIP/t-1"
    )


def test_an_empty_text_header_takes_the_rows_default() -> None:
    failed = parse_event(
        {"Event": "UserEvent", "UserEvent": "HotlineCallbackFailed", "CallId": "c1",
         "Agent": "1001", "Reason": ""},
        1.0,
    )  # fmt: skip
    assert failed == CallbackLegFailed(at=1.0, call_id="c1", agent_id="1001", reason="failed")
    rec = parse_event(
        {"Event": "UserEvent", "UserEvent": "HotlineRecording", "CallId": "c1", "Path": "p.wav"},
        1.0,
    )
    assert isinstance(rec, RecordingStarted) and rec.kind == "call" and rec.agent_id == ""


def test_a_missing_required_header_or_a_bad_integer_is_malformed() -> None:
    with pytest.raises(MalformedEvent, match="missing header Channel"):
        parse_event({"Event": "UserEvent", "UserEvent": "HotlineArrived", "CallId": "c1"}, 1.0)
    with pytest.raises(MalformedEvent, match="CallPriority"):
        parse_event(
            {"Event": "UserEvent", "UserEvent": "HotlineNeed", "CallId": "c1", "Skill": "x",
             "CallPriority": "high"},
            1.0,
        )  # fmt: skip
