"""The app_queue model (hotline/simulation/appqueue.py): its rules, event by event."""

from __future__ import annotations

import pytest

from hotline.acd.core import AcdError, AcdPolicy
from hotline.acd.events import (
    AgentAnswered,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentNotReady,
    AgentReady,
    AgentState,
    AgentStateChanged,
    CallAbandoned,
    CallAnswered,
    CallbackAccepted,
    CallEnded,
    CallerHungUp,
    CallEstimate,
    CallQueued,
    CancelOffer,
    Decision,
    OfferCall,
    OfferFailed,
    Tick,
)
from hotline.simulation.appqueue import AppQueueConfig, FifoPerQueue


def login(b: FifoPerQueue, agent: str, *skills: str, at: float = 0.0) -> list[Decision]:
    b.handle(AgentLoggedIn(agent_id=agent, seat=f"S/{agent}",
                           skills=tuple((s, 1) for s in skills), at=at))  # fmt: skip
    return b.handle(AgentReady(agent_id=agent, at=at))


def queue(b: FifoPerQueue, call: str, skill: str, at: float, prio: int = 0) -> list[Decision]:
    return b.handle(CallQueued(call_id=call, skill=skill, priority=prio, caller=f"n-{call}",
                               channel=f"C/{call}", at=at))  # fmt: skip


def offers(decisions: list[Decision]) -> list[tuple[str, str]]:
    return [(d.call_id, d.agent_id) for d in decisions if isinstance(d, OfferCall)]


def serve(b: FifoPerQueue, call: str, agent: str, answered: float, ended: float) -> list[Decision]:
    """The agent answers the call, talks and hangs up; the decisions of the hang-up."""
    b.handle(AgentAnswered(call_id=call, agent_id=agent, at=answered))
    return b.handle(CallEnded(call_id=call, agent_id=agent, at=ended))


def test_one_fifo_queue_per_skill_priority_ignored_unless_queue_prio() -> None:
    for queue_prio, order in ((False, ["c1", "c2", "c3"]), (True, ["c2", "c1", "c3"])):
        b = FifoPerQueue(AppQueueConfig(queue_prio=queue_prio))
        login(b, "a", "zh")
        assert offers(queue(b, "c0", "zh", 0.0)) == [("c0", "a")]
        queue(b, "c1", "zh", 1.0)
        queue(b, "c2", "zh", 2.0, prio=9)
        queue(b, "c3", "zh", 3.0)
        served, current, t = [], "c0", 10.0
        for _ in range(3):
            nxt = offers(serve(b, current, "a", t, t + 5))
            assert len(nxt) == 1
            current = nxt[0][0]
            served.append(current)
            t += 10
        assert served == order


def test_a_call_of_another_skill_is_never_offered() -> None:
    b = FifoPerQueue()
    login(b, "tax-agent", "tax")
    assert offers(queue(b, "c1", "water", 0.0)) == []
    assert offers(login(b, "water-agent", "water", at=5.0)) == [("c1", "water-agent")]


def test_no_double_offer_to_an_agent_in_two_queues() -> None:
    b = FifoPerQueue()
    b.handle(AgentLoggedIn(agent_id="a", seat="S/a", skills=(("zh", 1), ("en", 2)), at=0.0))
    queue(b, "z1", "zh", 0.3)
    queue(b, "e1", "en", 0.6)
    first = offers(b.handle(AgentReady(agent_id="a", at=5.0)))
    assert len(first) == 1  # one of the two, never both
    assert offers(queue(b, "z2", "zh", 6.0)) == []  # ringing: not offered again
    assert offers(b.handle(Tick(at=7.0))) == []


def test_the_race_between_queues_goes_by_each_callers_recheck_phase() -> None:
    """app_queue's callers re-check every second from when they joined: the first to re-check
    after the agent is free wins, however long the other queue's caller has waited."""
    for zh_at, en_at, winner in ((0.7, 1.2, "e1"), (1.1, 0.5, "z1"), (0.2, 1.5, "z1")):
        b = FifoPerQueue()
        b.handle(AgentLoggedIn(agent_id="a", seat="S/a", skills=(("zh", 1), ("en", 1)), at=0.0))
        queue(b, "z1", "zh", zh_at)
        queue(b, "e1", "en", en_at)
        # Free at 10.0: z1 re-checks at 10 + frac(zh_at), e1 at 10 + frac(en_at).
        assert offers(b.handle(AgentReady(agent_id="a", at=10.0))) == [(winner, "a")]


def test_leastrecent_rings_the_member_whose_last_call_ended_longest_ago() -> None:
    b = FifoPerQueue(AppQueueConfig(strategy="leastrecent"))
    for agent in ("a", "b", "c"):
        login(b, agent, "zh")
    # A member who never took a call goes first (metric 0), in member order.
    assert offers(queue(b, "c1", "zh", 0.0)) == [("c1", "a")]
    assert offers(queue(b, "c2", "zh", 1.0)) == [("c2", "b")]
    serve(b, "c2", "b", 1.0, 20.0)  # b's last call ended at 20
    serve(b, "c1", "a", 0.0, 30.0)  # a's at 30
    assert offers(queue(b, "c3", "zh", 40.0)) == [("c3", "c")]  # never called
    assert offers(queue(b, "c4", "zh", 41.0)) == [("c4", "b")]  # ended longest ago
    assert offers(queue(b, "c5", "zh", 42.0)) == [("c5", "a")]


def test_shared_lastcall_counts_a_call_of_any_queue() -> None:
    for shared, expected in ((True, "b"), (False, "a")):
        b = FifoPerQueue(AppQueueConfig(shared_lastcall=shared))
        b.handle(AgentLoggedIn(agent_id="a", seat="S/a", skills=(("zh", 1), ("en", 1)), at=0.0))
        b.handle(AgentLoggedIn(agent_id="b", seat="S/b", skills=(("en", 1),), at=0.0))
        b.handle(AgentReady(agent_id="a", at=0.0))
        queue(b, "z1", "zh", 0.0)  # a takes it
        b.handle(AgentReady(agent_id="b", at=1.0))
        queue(b, "e0", "en", 1.0)  # b takes it
        serve(b, "e0", "b", 1.0, 10.0)
        serve(b, "z1", "a", 0.0, 20.0)  # a's last call (in zh) ended later than b's
        # In en, a has never had a call unless the last call is shared across queues.
        assert offers(queue(b, "e1", "en", 30.0)) == [("e1", expected)]


def test_rrmemory_goes_round_the_members() -> None:
    b = FifoPerQueue(AppQueueConfig(strategy="rrmemory"))
    for agent in ("a", "b", "c"):
        login(b, agent, "zh")
    got = []
    for n in range(5):
        (call, agent), = offers(queue(b, f"c{n}", "zh", 10.0 * n))  # fmt: skip
        got.append(agent)
        serve(b, call, agent, 10.0 * n, 10.0 * n + 1)
    assert got == ["a", "b", "c", "a", "b"]


def test_estimate_is_app_queues_running_average_of_holds() -> None:
    b = FifoPerQueue()
    login(b, "a", "zh")

    def estimate(ds: list[Decision]) -> tuple[int, float | None]:
        (est,) = [d for d in ds if isinstance(d, CallEstimate)]
        return est.position, est.ewt_s

    assert estimate(queue(b, "c1", "zh", 0.0)) == (1, 0.0)
    b.handle(AgentAnswered(call_id="c1", agent_id="a", at=0.0))  # held 0 s, left the queue
    assert estimate(queue(b, "c2", "zh", 1.0)) == (1, 0.0)
    assert estimate(queue(b, "c3", "zh", 2.0)) == (2, 0.0)
    b.handle(CallEnded(call_id="c1", agent_id="a", at=9.0))  # c2 is offered at 9 ...
    b.handle(AgentAnswered(call_id="c2", agent_id="a", at=9.0))  # ... held 8 s
    assert b.holdtime_s("zh") == pytest.approx((3 * 0.0 + 8.0) / 4)
    assert estimate(queue(b, "c4", "zh", 9.5)) == (2, 2.0)
    assert b.holdtime_s("en") == 0.0


def test_ring_no_answer_makes_the_agent_not_ready_and_the_caller_retries_later() -> None:
    b = FifoPerQueue(AppQueueConfig(retry_s=5.0))
    login(b, "a", "zh")
    assert offers(queue(b, "c1", "zh", 0.0)) == [("c1", "a")]
    out = b.handle(OfferFailed(call_id="c1", agent_id="a", reason="ring_no_answer", at=15.0))
    states = [(d.state, d.reason) for d in out if isinstance(d, AgentStateChanged)]
    assert states == [(AgentState.NOT_READY, "ring_no_answer")]
    assert offers(login(b, "b", "zh", at=16.0)) == []  # c1 sleeps until 20
    assert offers(b.handle(Tick(at=19.0))) == []
    assert offers(b.handle(Tick(at=20.0))) == [("c1", "b")]


def test_hang_up_while_ringing_cancels_and_frees_the_agent() -> None:
    b = FifoPerQueue()
    login(b, "a", "zh")
    queue(b, "c1", "zh", 0.0)
    queue(b, "c2", "zh", 1.0)
    out = b.handle(CallerHungUp(call_id="c1", at=3.0))
    assert [type(d) for d in out if not isinstance(d, AgentStateChanged)] == [
        CancelOffer, CallAbandoned, OfferCall,
    ]  # fmt: skip
    assert offers(out) == [("c2", "a")]
    # Hanging up after the answer changes nothing: the call ends through CallEnded.
    assert b.handle(AgentAnswered(call_id="c2", agent_id="a", at=4.0))[-1] == CallAnswered(
        call_id="c2", agent_id="a", waited_s=3.0, at=4.0
    )
    assert b.handle(CallerHungUp(call_id="c2", at=5.0)) == []


def test_wrap_up_ends_on_a_tick_then_the_next_call_is_offered() -> None:
    b = FifoPerQueue(AppQueueConfig.from_policy(AcdPolicy(ring_timeout_s=15.0, wrapup_s=10.0)))
    login(b, "a", "zh")
    queue(b, "c1", "zh", 0.0)
    queue(b, "c2", "zh", 1.0)
    assert offers(serve(b, "c1", "a", 0.0, 30.0)) == []  # in wrap-up
    assert offers(b.handle(Tick(at=39.0))) == []
    assert offers(b.handle(Tick(at=40.0))) == [("c2", "a")]


def test_what_app_queue_cannot_do_is_refused() -> None:
    b = FifoPerQueue()
    login(b, "a", "zh")
    queue(b, "c1", "zh", 0.0)
    with pytest.raises(AcdError, match="callbacks"):
        b.handle(CallbackAccepted(call_id="c1", number="123", at=1.0))
    with pytest.raises(AcdError):
        b.handle(AgentLoggedOut(agent_id="a", at=1.0))  # ringing
    with pytest.raises(AcdError):
        b.handle(AgentNotReady(agent_id="a", reason="break", at=1.0))
    with pytest.raises(AcdError):
        queue(b, "c1", "zh", 2.0)  # already queued
    with pytest.raises(AcdError):
        b.handle(Tick(at=float("nan")))
    with pytest.raises(ValueError):
        AppQueueConfig(strategy="random")
