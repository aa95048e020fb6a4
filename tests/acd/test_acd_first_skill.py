"""Issue 17: the first-skill routing rule and the callback idle reserve (pure: no I/O).

- An agent takes, among the calls of one priority it may take, one of the skill it has at its
  best level before an older one of a lesser skill (until that one waited
  ``first_skill_max_wait_s``); between skills at one level, a call still within
  ``service_target_s`` before one already past it. No agent stays idle while a call it may
  take waits (a second pass gives it the call it passed over).
- A callback (missed-call or accepted) takes an agent only if ``callback_min_idle_agents`` and
  ``callback_min_idle_share`` of the skill's working agents stay ready after it.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline.acd.core import CENTRE_DEFAULTS, Acd, AcdPolicy, CallState
from hotline.acd.core.records import Call
from hotline.acd.core.rules import keeps_idle_reserve, passes_over
from hotline.acd.events import (
    AgentAnswered,
    AgentLoggedIn,
    AgentReady,
    CallEnded,
    CallerHungUp,
    CallQueued,
    Decision,
    OfferCall,
    PlaceCallback,
    Tick,
)


def login(acd: Acd, agent_id: str, at: float = 0.0, **skills: int) -> list[Decision]:
    pairs = tuple(sorted(skills.items()))
    acd.handle(AgentLoggedIn(agent_id=agent_id, seat=f"PJSIP/{agent_id}", skills=pairs, at=at))
    return acd.handle(AgentReady(agent_id=agent_id, at=at))


def queue(acd: Acd, call_id: str, at: float, skill: str, priority: int = 0) -> list[Decision]:
    event = CallQueued(call_id=call_id, skill=skill, priority=priority, caller=f"138{call_id}",
                       channel=f"PJSIP/t-{call_id}", at=at)  # fmt: skip
    return acd.handle(event)


def offered(decisions: list[Decision]) -> list[tuple[str, str]]:
    return [(d.call_id, d.agent_id) for d in decisions if isinstance(d, OfferCall | PlaceCallback)]


def call(queued_at: float) -> Call:
    return Call("c", "tax", 0, "138", "PJSIP/x", queued_at, 1, CallState.WAITING)


# --- the pure guards ---------------------------------------------------------------------------


def test_passes_over_a_lesser_skill_until_the_limit() -> None:
    policy = AcdPolicy(first_skill_max_wait_s=60.0)
    assert passes_over(call(0.0), policy, 59.0, 5, 1, 50.0)
    assert not passes_over(call(0.0), policy, 60.0, 5, 1, 50.0)  # waited enough: its turn
    assert passes_over(call(0.0), AcdPolicy(first_skill_max_wait_s=None), 1e6, 5, 1, 0.0)
    assert not passes_over(call(0.0), policy, 1.0, 1, 5, 0.0)  # never for a worse level


def test_passes_over_at_one_level_only_past_the_target_for_one_within() -> None:
    policy = AcdPolicy(service_target_s=15.0)
    assert passes_over(call(0.0), policy, 20.0, 2, 2, 10.0)  # 20 s past, the other 10 s
    assert not passes_over(call(0.0), policy, 20.0, 2, 2, 0.0)  # both past the target
    assert not passes_over(call(0.0), policy, 14.0, 2, 2, 10.0)  # still within: FIFO


def test_target_first_leaves_a_lost_call_at_any_level_for_one_that_can_make_it() -> None:
    policy = AcdPolicy(service_target_s=15.0, target_first=True)
    assert passes_over(call(0.0), policy, 20.0, 1, 2, 10.0)  # its first skill's lost call
    assert not passes_over(call(0.0), AcdPolicy(), 20.0, 1, 2, 10.0)  # off: never worse
    assert not passes_over(call(0.0), policy, 14.0, 1, 2, 10.0)  # both within: the level
    assert not passes_over(call(0.0), policy, 20.0, 1, 2, 0.0)  # both lost: the level
    assert passes_over(call(0.0), policy, 14.0, 2, 1, 10.0)  # both within: its first skill
    # Past the first-skill limit, a lost call still gives way to one that can make it.
    limited = AcdPolicy(first_skill_max_wait_s=30.0, target_first=True)
    assert passes_over(call(0.0), limited, 40.0, 2, 1, 30.0)
    assert not passes_over(call(0.0), limited, 40.0, 2, 1, 20.0)


@given(
    level=st.integers(1, 11), other=st.integers(1, 10), waited=st.floats(0, 1e5),
    other_waited=st.floats(0, 1e5), limit=st.sampled_from([None, 0.0, 30.0]),
    target=st.sampled_from([0.0, 15.0]), target_first=st.booleans(),
)  # fmt: skip
def test_passes_over_never_for_a_worse_level_and_never_past_the_limit(
    level: int, other: int, waited: float, other_waited: float, limit: float | None,
    target: float, target_first: bool,
) -> None:  # fmt: skip
    policy = AcdPolicy(first_skill_max_wait_s=limit, service_target_s=target,
                       target_first=target_first)  # fmt: skip
    at = 1e5
    result = passes_over(call(at - waited), policy, at, level, other, at - other_waited)
    lost_for_young = waited >= target > other_waited
    if target_first and lost_for_young:
        assert result  # whatever the levels
        return
    if other > level:
        assert not result
    if other < level and limit is not None and waited >= limit:
        assert not result
    if other == level:
        assert result == lost_for_young


@pytest.mark.parametrize(
    ("agents", "share", "ready", "working", "placed"),
    [(0, 0.0, 1, 10, True), (2, 0.0, 2, 10, False), (2, 0.0, 3, 10, True),
     (0, 0.25, 3, 10, False), (0, 0.25, 4, 10, True), (2, 0.25, 4, 4, True),
     (0, 0.0, 0, 0, True), (3, 0.0, 2, 3, False), (3, 0.0, 3, 3, True)],
)  # fmt: skip
def test_idle_reserve(agents: int, share: float, ready: int, working: int, placed: bool) -> None:
    policy = AcdPolicy(callback_min_idle_agents=agents, callback_min_idle_share=share)
    assert keeps_idle_reserve(call(0.0), policy, ready, working) is placed
    # Without the live-load cap, the centre's live calls change nothing.
    assert keeps_idle_reserve(call(0.0), policy, ready, working, 0) is placed


@pytest.mark.parametrize(
    ("ready", "working", "live", "placed"),
    [(1, 3, 0, True), (2, 3, 1, True), (1, 3, 1, False), (3, 3, 5, True), (2, 3, 5, False),
     (2, 10, 1, True), (4, 10, 4, False), (5, 10, 4, True), (5, 10, 100, False),
     (5, 10, None, False), (6, 10, 100, True)],
)  # fmt: skip
def test_idle_reserve_at_most_the_live_calls(
    ready: int, working: int, live: int | None, placed: bool
) -> None:
    policy = AcdPolicy(callback_min_idle_agents=3, callback_min_idle_share=0.5,
                       callback_reserve_live=True)  # fmt: skip
    assert keeps_idle_reserve(call(0.0), policy, ready, working, live) is placed


@pytest.mark.parametrize(
    "kwargs",
    [{"callback_min_idle_agents": -1}, {"callback_min_idle_agents": 1.5},
     {"callback_min_idle_share": 1.0}, {"callback_min_idle_share": -0.1},
     {"callback_min_idle_share": True}, {"first_skill_max_wait_s": -1.0},
     {"service_target_s": float("nan")}, {"keep_first_skill": "yes"},
     {"target_first": 1}, {"callback_reserve_live": "no"}],
)  # fmt: skip
def test_bad_values_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        AcdPolicy(**kwargs)  # type: ignore[arg-type]


def test_centre_defaults_are_a_valid_policy_with_the_rules_on() -> None:
    policy = AcdPolicy(**CENTRE_DEFAULTS)
    assert policy.missed_callback_after_s is not None and policy.widen_after_s is not None
    assert policy.announce_every_s > 0 and policy.keep_first_skill
    assert policy.callback_min_idle_agents > 0 or policy.callback_min_idle_share > 0


# --- the rule in the ACD -----------------------------------------------------------------------


def test_a_freed_agent_takes_its_first_skill_before_an_older_call_of_a_lesser_one() -> None:
    acd = Acd()
    queue(acd, "tax-early", 1.0, "tax")
    queue(acd, "gen-late", 2.0, "general")
    assert offered(login(acd, "a", 3.0, general=1, tax=5)) == [("gen-late", "a")]
    # ... but a call of higher priority comes first, whatever the level.
    acd = Acd()
    queue(acd, "tax-urgent", 1.0, "tax", priority=1)
    queue(acd, "gen", 2.0, "general")
    assert offered(login(acd, "a", 3.0, general=1, tax=5)) == [("tax-urgent", "a")]


def test_a_call_that_waited_past_the_limit_is_not_passed_over() -> None:
    acd = Acd(AcdPolicy(first_skill_max_wait_s=30.0))
    queue(acd, "tax-early", 0.0, "tax")
    queue(acd, "gen-late", 20.0, "general")
    assert offered(login(acd, "a", 31.0, general=1, tax=5)) == [("tax-early", "a")]


def test_an_agent_is_never_left_idle_by_the_rule() -> None:
    # Both agents come out of wrap-up on one Tick: "a" passes the tax call over for the
    # general one, which "b" (idle longer) takes; "a" then gets the tax call all the same.
    acd = Acd(AcdPolicy(wrapup_s=10.0))
    login(acd, "a", 0.0, general=1, tax=5)
    login(acd, "b", 0.0, general=1)
    assert offered(queue(acd, "g1", 1.0, "general")) == [("g1", "a")]
    assert offered(queue(acd, "g2", 1.0, "general")) == [("g2", "b")]
    for call_id, agent_id, ended in (("g1", "a", 4.0), ("g2", "b", 3.0)):
        acd.handle(AgentAnswered(call_id=call_id, agent_id=agent_id, at=2.0))
        acd.handle(CallEnded(call_id=call_id, agent_id=agent_id, at=ended))
    queue(acd, "tax-early", 5.0, "tax")
    queue(acd, "gen-late", 6.0, "general")
    out = acd.handle(Tick(at=20.0))
    assert sorted(offered(out)) == [("gen-late", "b"), ("tax-early", "a")]


def test_two_free_agents_split_the_calls_by_first_skill() -> None:
    acd = Acd()
    for agent_id, skills in (("gen", {"general": 1, "tax": 5}), ("tax", {"tax": 1, "general": 5})):
        acd.handle(AgentLoggedIn(agent_id=agent_id, seat=f"PJSIP/{agent_id}",
                                 skills=tuple(skills.items()), at=0.0))  # fmt: skip
    queue(acd, "tax-call", 1.0, "tax")
    queue(acd, "gen-call", 2.0, "general")
    out = acd.handle(AgentReady(agent_id="gen", at=3.0))
    out += acd.handle(AgentReady(agent_id="tax", at=3.0))
    # gen could take the older tax call, but keeps to general; tax then takes its own.
    assert sorted(offered(out)) == [("gen-call", "gen"), ("tax-call", "tax")]


def test_a_missed_call_waits_for_the_idle_reserve() -> None:
    acd = Acd(AcdPolicy(wrapup_s=0.0, missed_callback_after_s=0.0, callback_min_idle_agents=1))
    login(acd, "b", 0.0, general=1)
    acd.handle(AgentLoggedIn(agent_id="a", seat="PJSIP/a", skills=(("general", 1),), at=0.0))
    assert offered(queue(acd, "live0", 0.5, "general")) == [("live0", "b")]
    queue(acd, "missed", 1.0, "general")
    acd.handle(CallerHungUp(call_id="missed", at=5.0))  # on the missed-call list
    assert offered(acd.handle(AgentReady(agent_id="a", at=6.0))) == []  # a is the reserve
    acd.handle(AgentAnswered(call_id="live0", agent_id="b", at=6.5))
    assert offered(acd.handle(CallEnded(call_id="live0", agent_id="b", at=7.0))) == [
        ("missed", "a")]  # fmt: skip
    # A live call still takes the last ready agent.
    assert offered(queue(acd, "live", 8.0, "general")) == [("live", "b")]


def test_a_skill_smaller_than_the_reserve_calls_back_when_all_its_agents_are_ready() -> None:
    acd = Acd(AcdPolicy(missed_callback_after_s=0.0, callback_min_idle_agents=3))
    acd.handle(AgentLoggedIn(agent_id="a", seat="PJSIP/a", skills=(("yue", 1),), at=0.0))
    queue(acd, "missed", 1.0, "yue")
    acd.handle(CallerHungUp(call_id="missed", at=5.0))
    assert offered(acd.handle(AgentReady(agent_id="a", at=6.0))) == [("missed", "a")]


# --- target_first in the ACD --------------------------------------------------------------------


def specialist_freed(policy: AcdPolicy, general_at: float) -> list[tuple[str, str]]:
    """A tax specialist (general at level 2) comes free at 20 s; a tax call waits since 0 s
    (past the 15-s target), a general call since ``general_at``."""
    acd = Acd(policy)
    queue(acd, "tax-lost", 0.0, "tax")
    queue(acd, "gen", general_at, "general")
    return offered(login(acd, "a", 20.0, tax=1, general=2))


def test_target_first_takes_a_young_call_of_a_second_skill_before_a_lost_one_of_the_first() -> None:
    assert specialist_freed(AcdPolicy(target_first=True), 10.0) == [("gen", "a")]
    assert specialist_freed(AcdPolicy(), 10.0) == [("tax-lost", "a")]  # off: the first skill
    # Both past the target: the first skill, as without it.
    assert specialist_freed(AcdPolicy(target_first=True), 2.0) == [("tax-lost", "a")]


def test_target_first_never_leaves_an_agent_idle() -> None:
    # "a" leaves the lost tax call for the general one, which "g" (idle longer) takes: "a"
    # then takes the tax call all the same.
    acd = Acd(AcdPolicy(target_first=True, wrapup_s=0.0))
    login(acd, "g", 0.0, general=1)
    assert offered(queue(acd, "g0", 0.5, "general")) == [("g0", "g")]
    acd.handle(AgentAnswered(call_id="g0", agent_id="g", at=1.0))
    login(acd, "a", 1.0, tax=1, general=2)
    assert offered(queue(acd, "t0", 1.5, "tax")) == [("t0", "a")]
    acd.handle(AgentAnswered(call_id="t0", agent_id="a", at=2.0))
    queue(acd, "tax-lost", 3.0, "tax")
    queue(acd, "gen", 25.0, "general")
    out = acd.handle(CallEnded(call_id="g0", agent_id="g", at=30.0))
    assert offered(out) == [("gen", "g")]
    out = acd.handle(CallEnded(call_id="t0", agent_id="a", at=31.0))
    assert offered(out) == [("tax-lost", "a")]


# --- the reserve capped by the live calls --------------------------------------------------------


def missed_calls_then_ready(policy: AcdPolicy, *, live_call: bool) -> list[tuple[str, str]]:
    """Three yue agents, three missed yue calls; "g" (general) on a live call or not; then
    the three come ready at once."""
    acd = Acd(policy)
    login(acd, "g", 0.0, general=1)
    if live_call:
        assert offered(queue(acd, "live", 0.5, "general")) == [("live", "g")]
        acd.handle(AgentAnswered(call_id="live", agent_id="g", at=1.0))
    for n in range(3):
        acd.handle(AgentLoggedIn(agent_id=f"y{n}", seat=f"PJSIP/y{n}", skills=(("yue", 1),),
                                 at=0.0))  # fmt: skip
        queue(acd, f"m{n}", 1.0 + n, "yue")
        acd.handle(CallerHungUp(call_id=f"m{n}", at=5.0 + n))
    out: list[Decision] = []
    for n in range(3):
        out += acd.handle(AgentReady(agent_id=f"y{n}", at=10.0))
    return offered(out)


def test_no_live_call_in_the_centre_every_agent_calls_back() -> None:
    base = {"wrapup_s": 0.0, "missed_callback_after_s": 0.0, "callback_min_idle_agents": 3}
    capped = AcdPolicy(**base, callback_reserve_live=True)  # type: ignore[arg-type]
    assert len(missed_calls_then_ready(capped, live_call=False)) == 3
    assert len(missed_calls_then_ready(capped, live_call=True)) == 2  # one stays ready
    plain = AcdPolicy(**base)  # type: ignore[arg-type]
    assert len(missed_calls_then_ready(plain, live_call=False)) == 1  # all three ready, one
