"""The estimated wait time: the pure formula (hotline/acd/ewt.py) and the core's use of it, by
hand."""

from __future__ import annotations

import pytest

from hotline.acd import ewt
from hotline.acd.core import Acd, AcdPolicy, CallState
from hotline.acd.events import (
    AgentAnswered,
    AgentLoggedIn,
    AgentNotReady,
    AgentReady,
    CallEnded,
    CallEstimate,
    CallQueued,
    Decision,
)

# --- the pure functions -----------------------------------------------------------------------


def test_running_mean_counts_the_prior_as_one_call_then_moves_like_an_ewma() -> None:
    mean, n = ewt.running_mean(180.0, 0, 100.0, window=200)
    assert (mean, n) == (140.0, 1)  # half way: the prior weighs as much as one call
    mean, n = ewt.running_mean(mean, n, 100.0, window=200)
    assert mean == pytest.approx(140.0 - 40.0 / 3) and n == 2
    # Past the window every call weighs 1/window.
    assert ewt.running_mean(100.0, 500, 200.0, window=10) == (110.0, 501)
    assert ewt.running_mean(100.0, 7, 40.0, window=1) == (40.0, 8)  # window 1: the last call


def test_estimate_wait_uses_the_next_free_agent_for_the_first_slot_only() -> None:
    # 4 agents, mean handle 120 s: a slot is 30 s.
    assert ewt.estimate_wait_s(0, 4, 120.0, next_free_s=200.0) == 30.0  # nobody close: h/N
    assert ewt.estimate_wait_s(0, 4, 120.0, next_free_s=5.0) == 5.0  # one about to be free
    assert ewt.estimate_wait_s(3, 4, 120.0, next_free_s=5.0) == 95.0  # + 3 slots
    assert ewt.estimate_wait_s(2.5, 4, 120.0, next_free_s=0.0) == 75.0  # weighted calls ahead
    assert ewt.estimate_wait_s(0, 0, 120.0, next_free_s=0.0) is None  # nobody to take it
    assert ewt.estimate_wait_s(0, 1, 180.0, next_free_s=-3.0) == 0.0  # never negative


def test_staffing_sums_agents_next_free_and_shared_skills() -> None:
    staff = ewt.staffing(
        [
            ewt.StaffedAgent(("general", "tax"), 50.0),
            ewt.StaffedAgent(("general",), 20.0),
            ewt.StaffedAgent(("tax",), 0.0),
        ]
    )
    assert staff.agents == {"general": 2, "tax": 2}
    assert staff.next_free_s == {"general": 20.0, "tax": 0.0}
    assert staff.shared == {"general": {"tax": 1}, "tax": {"general": 1}}
    # A tax call ahead of a general call takes one of the general agents half the time.
    assert ewt.competitors("general", staff) == [("general", 1.0), ("tax", 0.5)]
    assert ewt.competitors("en", staff) == [("en", 1.0)]


def test_queue_estimates_position_counts_competing_calls_only() -> None:
    staff = ewt.staffing(
        [ewt.StaffedAgent(("general", "tax"), 100.0), ewt.StaffedAgent(("general",), 100.0),
         ewt.StaffedAgent(("tax",), 100.0), ewt.StaffedAgent(("en",), 100.0)]
    )  # fmt: skip
    queue = [(s, staff) for s in ("tax", "en", "general", "general")]
    found = ewt.queue_estimates(queue, lambda skill: 180.0)
    # tax: first; en: shares no agent with anyone; general: the tax call counts half.
    assert found == [(1, 90.0), (1, 100.0), (2, 90.0 + 45.0), (3, 90.0 + 135.0)]
    # The one-call form gives the same.
    assert ewt.estimate_call("general", {"tax": 1, "en": 1}, staff, lambda s: 180.0) == found[2]


def test_app_queue_formula_for_comparison() -> None:
    assert ewt.app_queue_holdtime(40.0, 0.0) == 30.0
    assert ewt.app_queue_holdtime(0.0, 100.0) == 25.0


# --- the core's estimates, worked out by hand ---------------------------------------------------


def login(acd: Acd, agent_id: str, at: float = 0.0, **skills: int) -> None:
    acd.handle(AgentLoggedIn(agent_id=agent_id, seat=f"PJSIP/{agent_id}",
                             skills=tuple(sorted(skills.items())), at=at))  # fmt: skip
    acd.handle(AgentReady(agent_id=agent_id, at=at))


def queue(acd: Acd, call_id: str, at: float, skill: str = "general") -> list[Decision]:
    return acd.handle(
        CallQueued(call_id=call_id, skill=skill, priority=0, caller="", channel="c", at=at)
    )


def estimate(decisions: list[Decision]) -> tuple[int, float | None]:
    found = [d for d in decisions if isinstance(d, CallEstimate)]
    assert len(found) == 1
    return found[0].position, found[0].ewt_s


def view(acd: Acd, at: float) -> dict[str, tuple[int, float | None]]:
    return {v.call_id: (v.position, v.ewt_s) for v in acd.waiting_calls(at)}


def test_two_busy_agents_then_one_in_wrap_up() -> None:
    acd = Acd(AcdPolicy(wrapup_s=10.0, handle_prior_s=180.0))
    login(acd, "a", general=1)
    login(acd, "b", general=1)
    for call_id in ("c1", "c2"):
        queue(acd, call_id, 0.0)
    acd.handle(AgentAnswered(call_id="c1", agent_id="a", at=0.0))
    acd.handle(AgentAnswered(call_id="c2", agent_id="b", at=0.0))
    # Both agents 30 s into calls expected to take 180 s (talk + wrap-up): 150 s left each,
    # longer than a slot of 180 / 2 = 90 s, so the first slot is 90 s.
    assert estimate(queue(acd, "c3", 30.0)) == (1, 90.0)
    assert estimate(queue(acd, "c4", 30.0)) == (2, 180.0)
    # c1 ends after 100 s of talk: 110 s handle time, the mean moves half way to 145 s.
    acd.handle(CallEnded(call_id="c1", agent_id="a", at=100.0))
    assert acd.mean_handle_s("general") == 145.0
    # At 105 s "a" has 5 s of wrap-up left: the first slot is 5 s, the next 145 / 2.
    assert view(acd, 105.0) == {"c3": (1, 5.0), "c4": (2, 77.5)}


def test_a_ready_agent_makes_the_first_caller_wait_nothing() -> None:
    acd = Acd()
    login(acd, "a", general=1)
    decisions = queue(acd, "c1", 5.0)
    assert decisions[0] == CallEstimate(call_id="c1", position=1, ewt_s=0.0, at=5.0)
    # An offered call has no place in the queue.
    assert view(acd, 5.0) == {"c1": (0, 0.0)}


def test_calls_of_a_skill_sharing_some_agents_count_in_part() -> None:
    acd = Acd(AcdPolicy(wrapup_s=0.0, handle_prior_s=180.0))
    login(acd, "x", general=1, tax=1)
    login(acd, "y", general=1)
    login(acd, "z", tax=1)
    queue(acd, "g1", 0.0)  # -> x (lowest id)
    queue(acd, "g2", 0.0)  # -> y
    queue(acd, "t1", 0.0, skill="tax")  # -> z; all three ringing: 180 s each
    assert estimate(queue(acd, "t2", 0.0, skill="tax")) == (1, 90.0)
    # The tax call ahead goes to x (shared) or z: half a call ahead of ours.
    assert estimate(queue(acd, "g3", 0.0)) == (2, 90.0 + 0.5 * 90.0)
    assert view(acd, 0.0) == {"g1": (0, 0.0), "g2": (0, 0.0), "t1": (0, 0.0),
                              "t2": (1, 90.0), "g3": (2, 135.0)}  # fmt: skip


def test_no_working_agent_no_estimate() -> None:
    acd = Acd()
    assert estimate(queue(acd, "c1", 0.0)) == (1, None)
    # An agent on a not-ready break is not counted: nothing says when they come back.
    acd.handle(AgentLoggedIn(agent_id="a", seat="s", skills=(("general", 1),), at=1.0))
    acd.handle(AgentNotReady(agent_id="a", reason="lunch", at=1.0))
    assert estimate(queue(acd, "c2", 2.0)) == (2, None)
    assert [v.state for v in acd.waiting_calls()] == [CallState.WAITING, CallState.WAITING]


def test_a_call_not_yet_widened_waits_for_the_strong_agents_only() -> None:
    policy = AcdPolicy(wrapup_s=0.0, handle_prior_s=120.0, initial_max_level=2)
    acd = Acd(policy)
    login(acd, "strong", general=1)
    login(acd, "weak", general=5)
    queue(acd, "c1", 0.0)  # -> strong, ringing: 120 s
    # "weak" is ready, but c2 may not go to them yet: it waits for "strong".
    assert estimate(queue(acd, "c2", 0.0)) == (1, 120.0)
