"""The ACD's policy rules, one by one: thresholds, callbacks, sticky routing, rejoin, the
missed-call list. Events in, decisions out, no I/O."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from hotline.acd.core import Acd, AcdError, AcdPolicy, CallState, SkillRules
from hotline.acd.events import (
    AgentAnswered,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentNotReady,
    AgentReady,
    AgentState,
    AgentStateChanged,
    AnnouncePosition,
    CallAbandoned,
    CallAnswered,
    CallbackAccepted,
    CallbackCancelled,
    CallbackConnected,
    CallbackFailed,
    CallbackGaveUp,
    CallbacksPaused,
    CallbacksResumed,
    CallEnded,
    CallerHungUp,
    CallEstimate,
    CallQueued,
    Decision,
    Event,
    MissedCallListed,
    OfferCall,
    OfferCallback,
    OfferFailed,
    PlaceCallback,
    SendToVoicemail,
    Tick,
)

S = AgentState

# --- helpers ----------------------------------------------------------------------------------


def login(acd: Acd, agent_id: str, at: float = 0.0, *, ready: bool = True, **skills: int) -> None:
    pairs = tuple(sorted((skills or {"general": 1}).items()))
    acd.handle(AgentLoggedIn(agent_id=agent_id, seat=f"PJSIP/{agent_id}", skills=pairs, at=at))
    if ready:
        acd.handle(AgentReady(agent_id=agent_id, at=at))


def queue(
    acd: Acd,
    call_id: str,
    at: float,
    *,
    skill: str = "general",
    priority: int = 0,
    caller: str | None = None,
    preferred: str | None = None,
) -> list[Decision]:
    return acd.handle(
        CallQueued(
            call_id=call_id,
            skill=skill,
            priority=priority,
            caller=f"138{call_id}" if caller is None else caller,
            channel=f"PJSIP/trunk-{call_id}",
            at=at,
            preferred_agent=preferred,
        )
    )


def queue_event(call_id: str, at: float, caller: str, preferred: str | None = None) -> CallQueued:
    return CallQueued(call_id=call_id, skill="general", priority=0, caller=caller,
                      channel=f"PJSIP/{call_id}", at=at, preferred_agent=preferred)  # fmt: skip


def offers(decisions: list[Decision]) -> list[tuple[str, str]]:
    return [(d.call_id, d.agent_id) for d in decisions if isinstance(d, OfferCall)]


def placed(decisions: list[Decision]) -> list[tuple[str, str, int]]:
    return [(d.call_id, d.agent_id, d.attempt) for d in decisions if isinstance(d, PlaceCallback)]


def of(kind: type[Any], decisions: list[Decision]) -> list[Any]:
    return [d for d in decisions if isinstance(d, kind)]


def states(acd: Acd) -> list[tuple[str, CallState]]:
    return [(v.call_id, v.state) for v in acd.waiting_calls()]


def agent_state(acd: Acd, agent_id: str) -> tuple[AgentState, str]:
    view = next(a for a in acd.agents() if a.agent_id == agent_id)
    return view.state, view.reason


def refused(acd: Acd, event: Any, match: str) -> None:
    """The event raises AcdError with a message naming the problem, and changes nothing."""
    before = acd.snapshot()
    with pytest.raises(AcdError, match=match):
        acd.handle(event)
    assert acd.snapshot() == before


def answer_and_end(acd: Acd, call_id: str, agent_id: str, at: float) -> None:
    acd.handle(AgentAnswered(call_id=call_id, agent_id=agent_id, at=at))
    acd.handle(CallEnded(call_id=call_id, agent_id=agent_id, at=at))


# --- the policy -------------------------------------------------------------------------------


def test_defaults_switch_every_new_rule_off() -> None:
    policy = AcdPolicy()
    assert policy.rules("general") == SkillRules()
    assert (policy.widen_after_s, policy.overflow_after_s, policy.offer_callback_after_s,
            policy.voicemail_after_s, policy.missed_callback_after_s,
            policy.rejoin_within_s) == (None,) * 6  # fmt: skip
    assert (policy.initial_max_level, policy.announce_every_s, policy.sticky_wait_s) == (10, 0, 0)
    assert not (policy.has_route_timers or policy.has_prompts or policy.has_sticky)
    assert AcdPolicy(8, 1) == AcdPolicy(ring_timeout_s=8.0, wrapup_s=1.0)


def test_per_skill_overrides_and_hashing() -> None:
    policy = AcdPolicy(
        widen_after_s=10.0,
        overflow={"en": ["general"]},
        per_skill={"en": {"widen_after_s": None, "initial_max_level": 3}},
    )
    assert policy.rules("general").widen_after_s == 10.0
    assert policy.rules("en") == SkillRules(initial_max_level=3, widen_after_s=None)
    assert policy.overflow == {"en": ("general",)}  # lists become tuples
    same = AcdPolicy(widen_after_s=10.0, overflow={"en": ("general",)},
                     per_skill={"en": {"initial_max_level": 3, "widen_after_s": None}})  # fmt: skip
    assert policy == same and hash(policy) == hash(same) and {policy: 1}[same] == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"widen_after_s": -1.0},
        {"initial_max_level": 0},
        {"initial_max_level": 11},
        {"announce_every_s": float("nan")},
        {"callback_max_attempts": 0},
        {"handle_prior_s": 0.0},
        {"handle_window": 0},
        {"rejoin_memory": 0},
        {"overflow": {"en": [""]}},
        {"per_skill": {"en": {"ring_timeout_s": 3.0}}},
        {"per_skill": {"en": {"voicemail_after_s": "soon"}}},
    ],
)
def test_bad_policy_values_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        AcdPolicy(**kwargs)


def test_policy_from_config_takes_every_field_the_section_has() -> None:
    cfg = SimpleNamespace(ring_timeout_s=8, wrapup_s=1, widen_after_s=12.0, other="ignored")
    assert AcdPolicy.from_config(cfg) == AcdPolicy(8, 1, widen_after_s=12.0)


# --- multi-skill: one deterministic rule --------------------------------------------------------


def test_an_agent_in_two_skills_takes_priority_then_the_longest_queued() -> None:
    # The rule before issue 17 (keep_first_skill off): the level of the agent does not matter.
    acd = Acd(AcdPolicy(keep_first_skill=False))
    queue(acd, "tax-early", 1.0, skill="tax")
    queue(acd, "gen-late", 2.0, skill="general")
    login(acd, "a", 3.0, general=1, tax=5)
    assert acd.waiting_calls()[0].state is CallState.OFFERED
    assert [v.call_id for v in acd.waiting_calls()] == ["tax-early", "gen-late"]
    acd = Acd()
    queue(acd, "tax-early", 1.0, skill="tax")
    queue(acd, "gen-urgent", 2.0, skill="general", priority=1)
    login(acd, "a", 3.0, general=1, tax=1)
    assert [(v.call_id, v.state) for v in acd.waiting_calls()] == [
        ("gen-urgent", CallState.OFFERED),
        ("tax-early", CallState.WAITING),
    ]


# --- widening and overflow ----------------------------------------------------------------------


def test_widen_after_the_elapsed_threshold() -> None:
    acd = Acd(AcdPolicy(initial_max_level=2, widen_after_s=10.0, thresholds_use_ewt=False))
    login(acd, "weak", general=5)
    assert offers(queue(acd, "c1", 0.0)) == []  # only levels 1..2 at first
    assert acd.handle(Tick(at=9.9)) == []
    assert offers(acd.handle(Tick(at=10.0))) == [("c1", "weak")]
    # A strong agent gets a new call at once.
    login(acd, "strong", 11.0, general=2)
    assert offers(queue(acd, "c2", 12.0)) == [("c2", "strong")]


def test_an_agent_freed_between_ticks_takes_a_call_that_waited_long_enough() -> None:
    acd = Acd(AcdPolicy(initial_max_level=1, widen_after_s=10.0, thresholds_use_ewt=False))
    login(acd, "weak", ready=False, general=3)
    queue(acd, "c1", 0.0)
    assert offers(acd.handle(AgentReady(agent_id="weak", at=5.0))) == []
    acd.handle(AgentNotReady(agent_id="weak", reason="x", at=6.0))
    assert offers(acd.handle(AgentReady(agent_id="weak", at=10.5))) == [("c1", "weak")]


def test_widen_at_queue_entry_when_the_estimate_crosses_the_threshold() -> None:
    acd = Acd(AcdPolicy(initial_max_level=1, widen_after_s=15.0, handle_prior_s=120.0))
    login(acd, "strong", general=1)
    login(acd, "weak", general=4)
    queue(acd, "c1", 0.0)  # -> strong: 120 s to go
    decisions = queue(acd, "c2", 1.0)
    # Waiting for "strong" would take ~119 s > 15 s: widened at once, and the estimate
    # given is for the widened call (the weak agent is free).
    assert decisions[0] == CallEstimate(call_id="c2", position=1, ewt_s=0.0, at=1.0)
    assert offers(decisions) == [("c2", "weak")]


def test_no_widening_while_the_estimate_is_short() -> None:
    acd = Acd(AcdPolicy(wrapup_s=0.0, initial_max_level=1, widen_after_s=60.0,
                        handle_prior_s=40.0))  # fmt: skip
    login(acd, "strong", general=1)
    login(acd, "weak", general=4)
    queue(acd, "c1", 0.0)  # -> strong, expected free at 40 s
    assert offers(queue(acd, "c2", 1.0)) == []  # 1 + 39 s < 60 s: waits for strong
    assert offers(acd.handle(Tick(at=20.0))) == []  # 19 s waited + 20 s to go
    assert offers(acd.handle(Tick(at=60.0))) == []  # strong should be free by now
    assert offers(acd.handle(Tick(at=61.0))) == [("c2", "weak")]  # the elapsed wait crosses


def test_overflow_to_other_groups_after_their_threshold() -> None:
    policy = AcdPolicy(overflow={"en": ("shared", "general")}, overflow_after_s=20.0,
                       thresholds_use_ewt=False)  # fmt: skip
    acd = Acd(policy)
    login(acd, "g", general=1)
    login(acd, "s", shared=9)
    assert offers(queue(acd, "c1", 0.0, skill="en")) == []
    assert offers(acd.handle(Tick(at=19.0))) == []
    # Overflow skills in the order listed: "shared" first, whatever its level.
    assert offers(acd.handle(Tick(at=20.0))) == [("c1", "s")]
    assert offers(acd.handle(Tick(at=21.0))) == []
    queue(acd, "c2", 22.0, skill="en")
    assert offers(acd.handle(Tick(at=42.0))) == [("c2", "g")]


def test_own_skill_agents_come_before_overflow_agents() -> None:
    acd = Acd(AcdPolicy(overflow={"en": ("general",)}, overflow_after_s=0.0))
    login(acd, "g", 0.0, general=1)
    login(acd, "e", 1.0, en=9)  # idle shorter and a weak level, but the call's own skill
    assert offers(queue(acd, "c1", 2.0, skill="en")) == [("c1", "e")]
    assert offers(queue(acd, "c2", 3.0, skill="en")) == [("c2", "g")]


# --- callback offer, voicemail, announcements ---------------------------------------------------


def test_offer_callback_once_after_the_elapsed_threshold() -> None:
    acd = Acd(AcdPolicy(offer_callback_after_s=30.0, thresholds_use_ewt=False))
    queue(acd, "c1", 0.0)
    assert acd.handle(Tick(at=29.0)) == []
    assert acd.handle(Tick(at=30.0)) == [OfferCallback(call_id="c1", ewt_s=None, at=30.0)]
    assert acd.handle(Tick(at=31.0)) == []


def test_offer_callback_at_queue_entry_when_the_estimate_is_long() -> None:
    acd = Acd(AcdPolicy(offer_callback_after_s=60.0, wrapup_s=0.0, handle_prior_s=300.0))
    login(acd, "a")
    queue(acd, "c1", 0.0)
    decisions = queue(acd, "c2", 0.0)
    assert decisions == [
        CallEstimate(call_id="c2", position=1, ewt_s=300.0, at=0.0),
        OfferCallback(call_id="c2", ewt_s=300.0, at=0.0),
    ]


def test_no_callback_offer_while_callbacks_are_paused() -> None:
    acd = Acd(AcdPolicy(offer_callback_after_s=10.0, thresholds_use_ewt=False))
    acd.handle(CallbacksPaused(at=0.0))
    queue(acd, "c1", 0.0)
    assert acd.handle(Tick(at=20.0)) == []
    acd.handle(CallbacksResumed(at=21.0))
    assert of(OfferCallback, acd.handle(Tick(at=22.0))) == [
        OfferCallback(call_id="c1", ewt_s=None, at=22.0)
    ]


def test_voicemail_after_its_threshold_removes_the_call() -> None:
    acd = Acd(AcdPolicy(voicemail_after_s=60.0, thresholds_use_ewt=False))
    queue(acd, "c1", 0.0)
    queue(acd, "c2", 30.0)
    assert acd.handle(Tick(at=59.0)) == []
    assert acd.handle(Tick(at=61.0)) == [SendToVoicemail(call_id="c1", waited_s=61.0, at=61.0)]
    assert states(acd) == [("c2", CallState.WAITING)]
    refused(acd, CallerHungUp(call_id="c1", at=62.0), "not in the ACD")
    assert acd.handle(Tick(at=62.0)) == []


def test_voicemail_wins_over_a_callback_offer_on_the_same_tick() -> None:
    policy = AcdPolicy(voicemail_after_s=60.0, offer_callback_after_s=30.0,
                       thresholds_use_ewt=False)  # fmt: skip
    acd = Acd(policy)
    queue(acd, "c1", 0.0)
    assert acd.handle(Tick(at=70.0)) == [SendToVoicemail(call_id="c1", waited_s=70.0, at=70.0)]


def test_announcements_at_entry_and_then_every_period_of_the_wait() -> None:
    acd = Acd(AcdPolicy(announce_every_s=30.0))
    login(acd, "busy", ready=False)
    decisions = queue(acd, "c1", 0.0)
    assert of(AnnouncePosition, decisions) == [
        AnnouncePosition(call_id="c1", position=1, ewt_s=None, at=0.0)
    ]
    queue(acd, "c2", 10.0)
    heard: list[tuple[float, str, int]] = []
    for t in (29.0, 30.0, 39.0, 40.0, 45.0, 61.0, 200.0, 209.0, 210.0):
        for d in of(AnnouncePosition, acd.handle(Tick(at=t))):
            heard.append((t, d.call_id, d.position))
    # On the cadence of each call's own queue entry; a late tick announces once and the next
    # announcement keeps the cadence (180 s -> 210 s, not 200 s -> 230 s).
    assert heard == [
        (30.0, "c1", 1), (40.0, "c2", 2), (61.0, "c1", 1), (200.0, "c1", 1), (200.0, "c2", 2),
        (210.0, "c1", 1),
    ]  # fmt: skip


def test_no_announcement_for_a_call_offered_at_once() -> None:
    acd = Acd(AcdPolicy(announce_every_s=30.0))
    login(acd, "a")
    assert of(AnnouncePosition, queue(acd, "c1", 0.0)) == []
    assert acd.handle(Tick(at=30.0)) == []  # offered (ringing): nothing to announce


# --- accepted callbacks -------------------------------------------------------------------------


def test_an_accepted_callback_keeps_its_place_and_rings_the_agent_first() -> None:
    acd = Acd(AcdPolicy(wrapup_s=0.0))
    for n, call_id in enumerate(("c1", "c2", "c3")):
        queue(acd, call_id, float(n))
    assert acd.handle(CallbackAccepted(call_id="c2", number="13900000002", at=5.0)) == []
    assert states(acd) == [("c1", CallState.WAITING), ("c2", CallState.CALLBACK),
                           ("c3", CallState.WAITING)]  # fmt: skip
    acd.handle(CallerHungUp(call_id="c2", at=5.5))  # the caller hangs up: ignored
    login(acd, "a", 10.0)
    login(acd, "b", 11.0)
    assert states(acd)[:2] == [("c1", CallState.OFFERED), ("c2", CallState.CALLING)]
    acd = Acd(AcdPolicy(wrapup_s=0.0))
    for n, call_id in enumerate(("c1", "c2", "c3")):
        queue(acd, call_id, float(n))
    acd.handle(CallbackAccepted(call_id="c2", number="13900000002", at=5.0))
    login(acd, "a", 10.0, ready=False)
    acd.handle(AgentReady(agent_id="a", at=10.0))
    acd.handle(AgentAnswered(call_id="c1", agent_id="a", at=10.0))
    decisions = acd.handle(CallEnded(call_id="c1", agent_id="a", at=20.0))
    assert decisions == [
        AgentStateChanged(agent_id="a", state=S.READY, reason="call_ended", at=20.0),
        PlaceCallback(
            call_id="c2",
            agent_id="a",
            seat="PJSIP/a",
            number="13900000002",
            attempt=1,
            ring_timeout_s=15.0,
            at=20.0,
        ),
        AgentStateChanged(agent_id="a", state=S.RINGING, reason="callback", at=20.0),
    ]
    assert acd.handle(CallbackConnected(call_id="c2", agent_id="a", at=30.0)) == [
        AgentStateChanged(agent_id="a", state=S.ON_CALL, reason="callback_connected", at=30.0)
    ]
    assert states(acd) == [("c3", CallState.WAITING)]
    acd.handle(CallEnded(call_id="c2", agent_id="a", at=90.0))
    assert offers(acd.handle(Tick(at=91.0))) == [] and states(acd) == [("c3", CallState.OFFERED)]


def test_callback_attempts_are_retried_then_given_up() -> None:
    acd = Acd(AcdPolicy(wrapup_s=0.0, callback_max_attempts=2, callback_retry_s=30.0))
    queue(acd, "c1", 0.0)
    acd.handle(CallbackAccepted(call_id="c1", number="139", at=1.0))
    login(acd, "a", 2.0)
    decisions = acd.handle(CallbackFailed(call_id="c1", agent_id="a", reason="busy", at=10.0))
    assert decisions == [
        AgentStateChanged(agent_id="a", state=S.READY, reason="callback_failed", at=10.0)
    ]
    assert states(acd) == [("c1", CallState.CALLBACK)]
    assert placed(acd.handle(Tick(at=39.0))) == []  # not before the retry time
    assert placed(acd.handle(Tick(at=40.0))) == [("c1", "a", 2)]
    decisions = acd.handle(CallbackFailed(call_id="c1", agent_id="a", reason="no answer", at=50.0))
    assert decisions == [
        AgentStateChanged(agent_id="a", state=S.READY, reason="callback_failed", at=50.0),
        CallbackGaveUp(call_id="c1", attempts=2, at=50.0),
    ]
    assert acd.waiting_calls() == []


def test_the_agent_not_answering_a_callback_uses_no_attempt() -> None:
    acd = Acd(AcdPolicy(callback_max_attempts=1))
    queue(acd, "c1", 0.0)
    acd.handle(CallbackAccepted(call_id="c1", number="139", at=1.0))
    login(acd, "a", 2.0)
    login(acd, "b", 3.0, ready=False)
    decisions = acd.handle(OfferFailed(call_id="c1", agent_id="a", reason="rna", at=17.0))
    assert decisions == [
        AgentStateChanged(agent_id="a", state=S.NOT_READY, reason="ring_no_answer", at=17.0)
    ]
    assert placed(acd.handle(AgentReady(agent_id="b", at=18.0))) == [("c1", "b", 1)]


def test_a_caller_who_calls_again_replaces_their_callback_and_keeps_its_place() -> None:
    acd = Acd()
    queue(acd, "c1", 0.0, caller="139")
    queue(acd, "c2", 1.0)
    acd.handle(CallbackAccepted(call_id="c1", number="139", at=2.0))
    decisions = queue(acd, "c3", 3.0, caller="139")
    assert decisions[0] == CallbackCancelled(call_id="c1", reason="called_again", at=3.0)
    assert states(acd) == [("c3", CallState.WAITING), ("c2", CallState.WAITING)]


# --- sticky routing -----------------------------------------------------------------------------


def test_sticky_call_waits_for_the_preferred_agent_then_goes_to_everyone() -> None:
    acd = Acd(AcdPolicy(sticky_wait_s=20.0))
    login(acd, "p", ready=False)
    login(acd, "o")
    assert offers(queue(acd, "c1", 0.0, preferred="p")) == []
    assert offers(acd.handle(Tick(at=19.0))) == []
    assert offers(acd.handle(Tick(at=20.0))) == [("c1", "o")]


def test_sticky_call_goes_to_the_preferred_agent_who_becomes_free_in_time() -> None:
    acd = Acd(AcdPolicy(sticky_wait_s=20.0))
    login(acd, "p", ready=False, general=9)  # a weak level does not matter
    login(acd, "o")
    queue(acd, "c1", 0.0, preferred="p")
    assert offers(acd.handle(AgentReady(agent_id="p", at=10.0))) == [("c1", "p")]


def test_no_wait_for_a_preferred_agent_not_logged_in() -> None:
    acd = Acd(AcdPolicy(sticky_wait_s=20.0))
    login(acd, "o")
    assert offers(queue(acd, "c1", 0.0, preferred="p")) == [("c1", "o")]


def test_the_wait_ends_when_the_preferred_agent_logs_out_or_misses_the_ring() -> None:
    acd = Acd(AcdPolicy(sticky_wait_s=60.0))
    login(acd, "p", ready=False)
    login(acd, "o", ready=False)
    queue(acd, "c1", 0.0, preferred="p")
    acd.handle(AgentReady(agent_id="o", at=1.0))
    assert offers(acd.handle(AgentLoggedOut(agent_id="p", at=2.0))) == [("c1", "o")]
    acd = Acd(AcdPolicy(sticky_wait_s=60.0))
    login(acd, "p")
    login(acd, "o", ready=False)
    assert offers(queue(acd, "c1", 0.0, preferred="p")) == [("c1", "p")]
    acd.handle(OfferFailed(call_id="c1", agent_id="p", reason="rna", at=15.0))
    assert offers(acd.handle(AgentReady(agent_id="o", at=16.0))) == [("c1", "o")]


def test_without_a_wait_the_preferred_agent_still_comes_first() -> None:
    acd = Acd()  # sticky_wait_s 0
    login(acd, "o", 0.0, general=1)
    login(acd, "p", 5.0, general=3)  # weaker and idle for less time
    assert offers(queue(acd, "c1", 10.0, preferred="p")) == [("c1", "p")]
    assert offers(queue(acd, "c2", 11.0, preferred="p")) == [("c2", "o")]  # p is busy


# --- rejoin -------------------------------------------------------------------------------------


def test_a_caller_who_redials_within_the_window_gets_the_old_place() -> None:
    acd = Acd(AcdPolicy(rejoin_within_s=60.0))
    queue(acd, "c1", 0.0, caller="A")
    queue(acd, "c2", 1.0)
    queue(acd, "c3", 2.0)
    acd.handle(CallerHungUp(call_id="c1", at=10.0))
    queue(acd, "c4", 30.0, caller="A")
    assert [v.call_id for v in acd.waiting_calls()] == ["c4", "c2", "c3"]
    login(acd, "a", 40.0)
    decisions = acd.handle(AgentAnswered(call_id="c4", agent_id="a", at=40.0))
    assert of(CallAnswered, decisions)[0].waited_s == 10.0  # from its own queue time
    assert acd.snapshot()["abandons"] == []  # the place was used


def test_a_caller_who_redials_after_the_window_queues_at_the_end() -> None:
    acd = Acd(AcdPolicy(rejoin_within_s=60.0))
    queue(acd, "c1", 0.0, caller="A")
    queue(acd, "c2", 1.0)
    acd.handle(CallerHungUp(call_id="c1", at=10.0))
    queue(acd, "c4", 71.0, caller="A")
    assert [v.call_id for v in acd.waiting_calls()] == ["c2", "c4"]


def test_abandons_are_forgotten_on_tick_and_the_memory_is_bounded() -> None:
    acd = Acd(AcdPolicy(rejoin_within_s=60.0, rejoin_memory=2))
    for n, caller in enumerate("ABC"):
        queue(acd, f"c{n}", float(n), caller=caller)
        acd.handle(CallerHungUp(call_id=f"c{n}", at=10.0 + n))
    assert [a["caller"] for a in acd.snapshot()["abandons"]] == ["B", "C"]
    acd.handle(Tick(at=71.5))  # B hung up at 11: 60.5 s ago
    assert [a["caller"] for a in acd.snapshot()["abandons"]] == ["C"]
    acd.handle(Tick(at=73.0))
    assert acd.snapshot()["abandons"] == []


def test_no_rejoin_for_unknown_numbers_or_when_off() -> None:
    acd = Acd(AcdPolicy(rejoin_within_s=60.0))
    queue(acd, "c1", 0.0, caller="")
    acd.handle(CallerHungUp(call_id="c1", at=1.0))
    assert acd.snapshot()["abandons"] == []
    acd = Acd()
    queue(acd, "c1", 0.0, caller="A")
    queue(acd, "c2", 0.0)
    acd.handle(CallerHungUp(call_id="c1", at=1.0))
    queue(acd, "c3", 2.0, caller="A")
    assert [v.call_id for v in acd.waiting_calls()] == ["c2", "c3"]


# --- missed-call list (漏接回拨) ------------------------------------------------------------------


def test_a_caller_who_waited_long_enough_goes_on_the_missed_call_list() -> None:
    acd = Acd(AcdPolicy(missed_callback_after_s=10.0))
    queue(acd, "short", 0.0)
    queue(acd, "long", 0.0)
    assert acd.handle(CallerHungUp(call_id="short", at=5.0)) == [
        CallAbandoned(call_id="short", waited_s=5.0, at=5.0)
    ]
    assert acd.handle(CallerHungUp(call_id="long", at=12.0)) == [
        CallAbandoned(call_id="long", waited_s=12.0, at=12.0),
        MissedCallListed(call_id="long", number="138long", waited_s=12.0, at=12.0),
    ]
    assert states(acd) == [("long", CallState.MISSED)]


def test_missed_calls_are_placed_only_when_no_live_call_waits_for_the_agent() -> None:
    acd = Acd(AcdPolicy(missed_callback_after_s=0.0, wrapup_s=0.0))
    queue(acd, "m", 0.0)
    acd.handle(CallerHungUp(call_id="m", at=1.0))
    queue(acd, "live", 2.0)
    queue(acd, "tax", 3.0, skill="tax")
    login(acd, "a", 4.0, general=1)
    assert states(acd) == [("live", CallState.OFFERED), ("tax", CallState.WAITING),
                           ("m", CallState.MISSED)]  # fmt: skip
    acd.handle(AgentAnswered(call_id="live", agent_id="a", at=5.0))
    # The tax caller waits, but not for "a": "a" calls the missed caller back.
    decisions = acd.handle(CallEnded(call_id="live", agent_id="a", at=6.0))
    assert placed(decisions) == [("m", "a", 1)]


def test_missed_calls_can_be_given_a_priority_among_live_calls() -> None:
    acd = Acd(AcdPolicy(missed_callback_after_s=0.0, missed_callback_priority=5))
    queue(acd, "m", 0.0)
    acd.handle(CallerHungUp(call_id="m", at=1.0))
    queue(acd, "live", 2.0)
    login(acd, "a", 3.0)
    assert states(acd) == [("m", CallState.CALLING), ("live", CallState.WAITING)]


def test_missed_calls_wait_while_callbacks_are_paused_and_give_up_after_the_attempts() -> None:
    policy = AcdPolicy(missed_callback_after_s=0.0, callback_max_attempts=1, wrapup_s=0.0)
    acd = Acd(policy)
    acd.handle(CallbacksPaused(at=0.0))
    queue(acd, "m", 0.0)
    acd.handle(CallerHungUp(call_id="m", at=1.0))
    login(acd, "a", 2.0)
    assert states(acd) == [("m", CallState.MISSED)]
    assert placed(acd.handle(CallbacksResumed(at=3.0))) == [("m", "a", 1)]
    decisions = acd.handle(CallbackFailed(call_id="m", agent_id="a", reason="busy", at=4.0))
    assert of(CallbackGaveUp, decisions) == [CallbackGaveUp(call_id="m", attempts=1, at=4.0)]
    assert acd.waiting_calls() == []


def test_a_missed_caller_who_calls_again_is_served_on_the_new_call() -> None:
    acd = Acd(AcdPolicy(missed_callback_after_s=0.0, rejoin_within_s=60.0))
    queue(acd, "m", 0.0, caller="A")
    queue(acd, "other", 1.0)
    acd.handle(CallerHungUp(call_id="m", at=2.0))
    decisions = queue(acd, "again", 3.0, caller="A")
    assert decisions[0] == CallbackCancelled(call_id="m", reason="called_again", at=3.0)
    # Within the rejoin window: the old place, ahead of "other".
    assert states(acd) == [("again", CallState.WAITING), ("other", CallState.WAITING)]


# --- refused events change nothing --------------------------------------------------------------


def _mid_flow() -> Acd:
    acd = Acd(AcdPolicy(missed_callback_after_s=0.0))
    login(acd, "a")
    login(acd, "b", ready=False)
    queue(acd, "offered", 0.0)  # rings "a"
    queue(acd, "waiting", 1.0)
    queue(acd, "cb", 2.0)
    acd.handle(CallbackAccepted(call_id="cb", number="139", at=3.0))
    return acd


@pytest.mark.parametrize(
    ("event", "match"),
    [
        (CallbackAccepted(call_id="nope", number="1", at=4.0), "not in the ACD"),
        (CallbackAccepted(call_id="offered", number="1", at=4.0), "offered: CallbackAccepted"),
        (CallbackAccepted(call_id="cb", number="1", at=4.0), "callback: CallbackAccepted"),
        (CallbackAccepted(call_id="waiting", number="", at=4.0), "callback number"),
        (CallbackConnected(call_id="cb", agent_id="a", at=4.0), "not ringing agent"),
        (CallbackConnected(call_id="offered", agent_id="a", at=4.0), "not ringing agent"),
        (CallbackConnected(call_id="nope", agent_id="a", at=4.0), "not in the ACD"),
        (CallbackFailed(call_id="cb", agent_id="b", reason="x", at=4.0), "not ringing agent"),
        (CallbackFailed(call_id="offered", agent_id="a", reason="x", at=4.0), "not ringing"),
        (CallbacksResumed(at=4.0), "not paused"),
        (queue_event("new", 4.0, caller="", preferred=""), "preferred agent"),
        (CallbackAccepted(call_id="waiting", number="1", at=float("nan")), "finite"),
    ],
)
def test_new_events_that_do_not_fit_are_refused(event: Event, match: str) -> None:
    refused(_mid_flow(), event, match)


def test_pausing_twice_is_refused() -> None:
    acd = _mid_flow()
    acd.handle(CallbacksPaused(at=4.0))
    refused(acd, CallbacksPaused(at=5.0), "already paused")


def test_callback_events_for_a_callback_being_placed_to_another_agent_are_refused() -> None:
    acd = _mid_flow()
    acd.handle(AgentReady(agent_id="b", at=4.0))  # places "cb"? no: "waiting" comes first
    assert states(acd)[1] == ("waiting", CallState.OFFERED)
    acd.handle(AgentAnswered(call_id="offered", agent_id="a", at=5.0))
    acd.handle(CallEnded(call_id="offered", agent_id="a", at=6.0))
    acd.handle(Tick(at=20.0))  # wrap-up over: "a" places "cb"
    assert ("cb", CallState.CALLING) in states(acd)
    refused(acd, CallbackConnected(call_id="cb", agent_id="b", at=21.0), "not ringing agent")
    refused(acd, CallbackFailed(call_id="cb", agent_id="b", reason="x", at=21.0), "not ringing")
    refused(acd, AgentAnswered(call_id="cb", agent_id="a", at=21.0), "not ringing agent")
    refused(acd, CallEnded(call_id="cb", agent_id="a", at=21.0), "calling: CallEnded")
    refused(acd, AgentLoggedOut(agent_id="a", at=21.0), "is ringing")
    assert acd.handle(CallerHungUp(call_id="cb", at=21.0)) == []  # ignored while calling


# --- snapshot and restore with the new states ---------------------------------------------------


POLICY = AcdPolicy(
    wrapup_s=5.0,
    missed_callback_after_s=3.0,
    rejoin_within_s=120.0,
    sticky_wait_s=100.0,
    announce_every_s=20.0,
    offer_callback_after_s=40.0,
    initial_max_level=2,
    widen_after_s=25.0,
    callback_retry_s=10.0,
    thresholds_use_ewt=False,
)


def _centre() -> tuple[Acd, list[Event]]:
    """Waiting, sticky, callback, calling, missed, paused, learned handle times, abandons."""
    acd = Acd(POLICY)
    login(acd, "a", 0.0, general=1)
    login(acd, "b", 0.0, ready=False, general=5)
    login(acd, "p", 0.0, ready=False, general=1)
    queue(acd, "c1", 1.0)  # -> a
    acd.handle(AgentAnswered(call_id="c1", agent_id="a", at=2.0))
    queue(acd, "c2", 3.0, caller="B")
    queue(acd, "c3", 4.0, preferred="p")
    queue(acd, "c4", 5.0)
    acd.handle(CallbackAccepted(call_id="c4", number="139", at=6.0))
    acd.handle(CallerHungUp(call_id="c2", at=10.0))  # missed list + rejoin memory
    acd.handle(CallEnded(call_id="c1", agent_id="a", at=40.0))
    acd.handle(Tick(at=45.0))  # "a" ready: c3 waits for "p", c4 is called back
    acd.handle(CallbacksPaused(at=46.0))
    later: list[Event] = [
        queue_event("c5", 47.0, caller="B"),  # replaces the missed call, takes its place
        Tick(at=50.0),
        AgentReady(agent_id="b", at=51.0),  # a weak level: nothing yet
        CallbacksResumed(at=52.0),
        CallbackFailed(call_id="c4", agent_id="a", reason="busy", at=53.0),  # "a" takes c5
        Tick(at=60.0),
        Tick(at=65.0),  # c4 retried, widened: to "b"; an announcement for c3
        AgentReady(agent_id="p", at=66.0),  # c3 was waiting for "p"
        CallbackConnected(call_id="c4", agent_id="b", at=67.0),
        Tick(at=90.0),
        Tick(at=200.0),
    ]
    return acd, later


def _replay(acd: Acd, events: list[Event]) -> list[Any]:
    results: list[Any] = []
    for event in events:
        try:
            results.append(acd.handle(event))
        except AcdError as exc:
            results.append(str(exc))
        results.append((acd.snapshot(), acd.waiting_calls(), acd.agents()))
    return results


def test_snapshot_with_the_new_states_restores_exactly_and_decides_the_same() -> None:
    acd, later = _centre()
    snap = acd.snapshot()
    assert snap["version"] == 2 and snap["callbacks_paused"] is True
    assert {c["call_id"]: c["state"] for c in snap["calls"]} == {
        "c2": "missed", "c3": "waiting", "c4": "calling",
    }  # fmt: skip
    assert [a["caller"] for a in snap["abandons"]] == ["B"] and "general" in snap["handle"]
    restored = Acd.restore(json.loads(json.dumps(snap)), POLICY)
    assert restored.snapshot() == snap
    assert restored.waiting_calls() == acd.waiting_calls()
    expected = _replay(acd, later)
    assert _replay(restored, later) == expected
    flat = [d for r in expected if isinstance(r, list) for d in r]
    kinds = {type(d).__name__ for d in flat}
    assert {"PlaceCallback", "CallbackCancelled", "AnnouncePosition", "OfferCall"} <= kinds


def test_a_version_1_snapshot_still_restores() -> None:
    v1 = {
        "version": 1,
        "next_seq": 2,
        "agents": [
            {"agent_id": "a", "seat": "PJSIP/a", "skills": [["general", 1]], "state": "ringing",
             "reason": "offered", "since": 5.0, "idle_since": 1.0, "call_id": "c0"},
        ],
        "calls": [
            {"call_id": "c0", "skill": "general", "priority": 0, "caller": "1", "channel": "x",
             "queued_at": 5.0, "seq": 0, "state": "offered", "agent_id": "a"},
            {"call_id": "c1", "skill": "general", "priority": 0, "caller": "2", "channel": "y",
             "queued_at": 6.0, "seq": 1, "state": "waiting", "agent_id": None},
        ],
    }  # fmt: skip
    acd = Acd.restore(v1, AcdPolicy())
    snap = acd.snapshot()
    assert snap["version"] == 2 and snap["next_seq"] == 2
    assert [(v.call_id, v.state, v.position) for v in acd.waiting_calls()] == [
        ("c0", CallState.OFFERED, 0), ("c1", CallState.WAITING, 1),
    ]  # fmt: skip
    assert Acd.restore(snap, AcdPolicy()).snapshot() == snap
    acd.handle(AgentAnswered(call_id="c0", agent_id="a", at=7.0))
    assert acd.waiting_calls()[0].ewt_s == 180.0  # one agent, just answered: a whole handle


@pytest.mark.parametrize(
    "change",
    [
        lambda s: s["calls"][0].update(state="missed"),  # a missed call without the flag
        lambda s: s["calls"][0].update(number=""),  # a callback without a number
        lambda s: s.update(callbacks_paused="yes"),
        lambda s: s.pop("abandons"),
        lambda s: s["calls"][0].update(retry_at="soon"),
        lambda s: s["calls"][0].update(missed=1),  # not a boolean
    ],
)
def test_restore_refuses_corrupt_new_state(change: Any) -> None:
    acd = Acd()
    queue(acd, "c1", 0.0)
    acd.handle(CallbackAccepted(call_id="c1", number="139", at=1.0))
    snap = json.loads(json.dumps(acd.snapshot()))
    change(snap)
    with pytest.raises(AcdError):
        Acd.restore(snap, AcdPolicy())
