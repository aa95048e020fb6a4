from hotline.asterisk.ami.events import (
    AgentLegAnswered,
    CallArrived,
    CallQueuedInAsterisk,
    ChannelHungUp,
    IvrExited,
)
from hotline.calls.records import CallOutcome
from hotline.calls.tracker import CallTracker


def arrived(at: float = 100.0) -> CallArrived:
    return CallArrived(
        at=at, call_id="c1", linked_id="c1", caller="138", dialled="12345", channel="PJSIP/trunk-1"
    )


def hangup(at: float, uid: str = "c1") -> ChannelHungUp:
    return ChannelHungUp(
        at=at, unique_id=uid, linked_id="c1", channel="x", cause=16, cause_text="Normal Clearing"
    )


def test_answered_call_record() -> None:
    t = CallTracker()
    t.feed(arrived())
    t.feed(
        IvrExited(
            at=105,
            call_id="c1",
            ivr_path="greeting>menu:1",
            skill="consult",
            priority=0,
            agi_status="SUCCESS",
        )
    )
    t.feed(
        CallQueuedInAsterisk(
            at=105.1, call_id="c1", skill="consult", priority=0, channel="x", caller="138"
        )
    )
    t.feed(AgentLegAnswered(at=110, call_id="c1", agent_id="1001", channel="a", unique_id="l"))
    # A second answer (e.g. a replayed event) changes nothing.
    assert t.feed(
        AgentLegAnswered(at=111, call_id="c1", agent_id="1002", channel="a", unique_id="l")
    ) == (None, None)
    _c, record = t.feed(hangup(200))
    assert record is not None
    assert record.outcome is CallOutcome.ANSWERED and record.agent_id == "1001"
    assert record.wait_s == 4.9 or abs(record.wait_s - 4.9) < 1e-6  # type: ignore[operator]
    assert record.hangup_cause == "16 Normal Clearing"
    assert not t.calls


def test_abandoned_in_queue_and_in_ivr() -> None:
    t = CallTracker()
    t.feed(arrived())
    t.feed(
        CallQueuedInAsterisk(at=101, call_id="c1", skill="g", priority=0, channel="x", caller="")
    )
    _c, record = t.feed(hangup(108))
    assert record is not None and record.outcome is CallOutcome.ABANDONED_QUEUE
    assert record.wait_s == 7
    t.feed(arrived())
    _c, record = t.feed(hangup(102))
    assert record is not None and record.outcome is CallOutcome.ABANDONED_IVR
    assert record.wait_s is None


def test_unknown_channels_and_lost_calls() -> None:
    t = CallTracker()
    assert t.feed(hangup(1, uid="other")) == (None, None)
    t.feed(arrived())
    record = t.lose("c1", 150, "channel lost")
    assert record is not None and record.hangup_cause == "channel lost"
    assert t.lose("c1", 150, "again") is None


def test_json_round_trip() -> None:
    t = CallTracker()
    call, _ = t.feed(arrived())
    assert call is not None
    assert CallTracker.from_json(CallTracker.to_json(call)) == call
