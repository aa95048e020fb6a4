import pytest

from hotline.asterisk.ami.events import (
    AgentLegAnswered,
    CallQueuedInAsterisk,
    ChannelHungUp,
    MalformedEvent,
    parse_event,
)


def test_user_event_is_typed_with_asterisk_timestamp() -> None:
    ev = parse_event(
        {
            "Event": "UserEvent",
            "UserEvent": "HotlineQueued",
            "CallId": "1.2",
            "Skill": "consult",
            "CallPriority": "3",
            "Channel": "PJSIP/x-1",
            "Timestamp": "1700000000.5",
        },
        received_at=99.0,
    )
    assert ev == CallQueuedInAsterisk(
        at=1700000000.5, call_id="1.2", skill="consult", priority=3, channel="PJSIP/x-1", caller=""
    )


def test_channel_snapshot_headers_repeated_by_a_user_event_take_our_value() -> None:
    # What Asterisk sends for UserEvent(HotlineQueued,...) raised on the caller's channel.
    ev = parse_event(
        {
            "Event": "UserEvent",
            "UserEvent": "HotlineQueued",
            "Channel": ["Local/12345@citizen-0;2", "Local/12345@citizen-0;2"],
            "Priority": "1",
            "CallId": "1.1",
            "Skill": "consult",
            "CallPriority": "2",
            "Caller": "138",
        },
        received_at=1.0,
    )
    assert isinstance(ev, CallQueuedInAsterisk)
    assert (ev.channel, ev.priority, ev.caller) == ("Local/12345@citizen-0;2", 2, "138")


def test_header_names_are_case_insensitive_and_receive_time_is_the_fallback() -> None:
    ev = parse_event(
        {"event": "Hangup", "uniqueid": "9.1", "cause": "16", "cause-txt": "Normal Clearing"},
        received_at=5.0,
    )
    assert isinstance(ev, ChannelHungUp) and ev.at == 5.0 and ev.cause == 16


def test_unknown_events_are_ignored() -> None:
    assert parse_event({"Event": "Newexten", "Uniqueid": "1"}, 0) is None
    assert parse_event({"Event": "UserEvent", "UserEvent": "Other"}, 0) is None


@pytest.mark.parametrize(
    "headers",
    [
        {"Event": "UserEvent", "UserEvent": "HotlineQueued", "CallId": "1"},
        {
            "Event": "UserEvent",
            "UserEvent": "HotlineQueued",
            "CallId": "1",
            "Skill": "g",
            "Channel": "c",
            "CallPriority": "high",
        },
        {"Event": "UserEvent", "UserEvent": "HotlineAgentAnswered", "CallId": "1"},
        {"Event": "Hangup"},
        {"NoEvent": "x"},
    ],
)
def test_malformed_known_events_raise(headers: dict[str, str]) -> None:
    with pytest.raises(MalformedEvent):
        parse_event(headers, 0)


def test_agent_answered() -> None:
    ev = parse_event(
        {
            "Event": "UserEvent",
            "UserEvent": "HotlineAgentAnswered",
            "CallId": "1",
            "Agent": "1001",
            "Channel": "Local/1001@x;1",
            "Uniqueid": "hl-1",
        },
        1.0,
    )
    assert ev == AgentLegAnswered(
        at=1.0, call_id="1", agent_id="1001", channel="Local/1001@x;1", unique_id="hl-1"
    )
