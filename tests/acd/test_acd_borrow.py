"""Issue 17: ``borrow_spare_first``, which agent lent from another skill takes a call (pure).

A call goes first to the agents whose first skill (best level) is the call's skill; when none
of them is ready, to an agent lent from another first skill: with ``borrow_spare_first``, the
one whose first skill keeps the most ready agents (the level breaks ties), else the best level.
Why: with the level deciding, a small team of specialists who have the general skill at level
2 answered the general calls before a large team at level 3, and their own subject waited.
"""

from __future__ import annotations

from hotline.acd.core import CENTRE_DEFAULTS, Acd, AcdPolicy
from hotline.acd.core.records import Agent
from hotline.acd.core.rules import borrow_cost
from hotline.acd.events import (
    AgentLoggedIn,
    AgentReady,
    AgentState,
    CallQueued,
    Decision,
    OfferCall,
)

BORROW = AcdPolicy(borrow_spare_first=True)


def agent(**skills: int) -> Agent:
    pairs = tuple(skills.items())
    return Agent("a", "PJSIP/a", pairs, AgentState.READY, "", 0.0, 0.0, names=tuple(skills))


def login(acd: Acd, agent_id: str, at: float, **skills: int) -> None:
    pairs = tuple(sorted(skills.items()))
    acd.handle(AgentLoggedIn(agent_id=agent_id, seat=f"PJSIP/{agent_id}", skills=pairs, at=at))
    acd.handle(AgentReady(agent_id=agent_id, at=at))


def queue(acd: Acd, call_id: str, at: float, skill: str) -> list[Decision]:
    event = CallQueued(call_id=call_id, skill=skill, priority=0, caller=f"138{call_id}",
                       channel=f"PJSIP/t-{call_id}", at=at)  # fmt: skip
    return acd.handle(event)


def offered(decisions: list[Decision]) -> list[tuple[str, str]]:
    return [(d.call_id, d.agent_id) for d in decisions if isinstance(d, OfferCall)]


def small_and_large_team(policy: AcdPolicy) -> Acd:
    """Every generalist busy; ready: one traffic specialist (general at level 2) and two
    market specialists (general at level 3)."""
    acd = Acd(policy)
    login(acd, "g", 0.0, general=1)
    assert offered(queue(acd, "first", 0.5, "general")) == [("first", "g")]
    login(acd, "t1", 1.0, traffic=1, general=2)
    login(acd, "m1", 2.0, market=1, general=3)
    login(acd, "m2", 3.0, market=1, general=3)
    return acd


# --- the pure guard ----------------------------------------------------------------------------


def test_an_agent_of_the_calls_own_first_skill_costs_nothing() -> None:
    assert borrow_cost(agent(general=1, tax=2), 1, {"general": 0, "tax": 9}) == 0
    # Its best level is what counts, not level 1.
    assert borrow_cost(agent(general=3), 3, {"general": 1}) == 0


def test_a_lent_agent_costs_more_the_fewer_its_first_skill_keeps_ready() -> None:
    ready = {"traffic": 1, "market": 5, "general": 2}
    traffic, market = agent(traffic=1, general=2), agent(market=1, general=3)
    assert 0 < borrow_cost(market, 3, ready) < borrow_cost(traffic, 2, ready)
    # A dual specialist is lent from the first skill with the most to spare.
    dual = agent(traffic=1, market=1, general=3)
    assert borrow_cost(dual, 3, ready) == borrow_cost(market, 3, ready)
    # Even a lent agent with nobody else ready comes after every own agent.
    assert borrow_cost(traffic, 2, {"traffic": 0}) > borrow_cost(agent(general=9), 9, {}) == 0


def test_the_setting_is_checked_and_on_for_a_new_centre() -> None:
    assert CENTRE_DEFAULTS["borrow_spare_first"] is True
    assert AcdPolicy().borrow_spare_first is False  # the core's own default: the old order
    try:
        AcdPolicy(borrow_spare_first=1)  # type: ignore[arg-type]
    except ValueError as e:
        assert "borrow_spare_first" in str(e)
    else:
        raise AssertionError("borrow_spare_first=1 was accepted")


# --- routing -----------------------------------------------------------------------------------


def test_a_general_call_is_lent_from_the_large_team() -> None:
    acd = small_and_large_team(BORROW)
    # m1 and m2 leave market one ready agent after either; traffic would keep none: a market
    # specialist takes it (m1, idle longer), though t1 has the better level.
    assert offered(queue(acd, "gen", 4.0, "general")) == [("gen", "m1")]


def test_without_the_setting_the_level_decides() -> None:
    acd = small_and_large_team(AcdPolicy())
    assert offered(queue(acd, "gen", 4.0, "general")) == [("gen", "t1")]


def test_the_spare_is_counted_as_it_is_at_each_call() -> None:
    acd = small_and_large_team(BORROW)
    out = queue(acd, "gen-1", 4.0, "general") + queue(acd, "gen-2", 4.0, "general")
    # After m1 took the first, market and traffic each keep one: the level decides (t1).
    assert offered(out) == [("gen-1", "m1"), ("gen-2", "t1")]


def test_an_own_agent_at_a_worse_level_still_comes_first() -> None:
    acd = small_and_large_team(BORROW)
    login(acd, "g3", 3.5, general=3)  # general is its best (only) skill
    assert offered(queue(acd, "gen", 4.0, "general")) == [("gen", "g3")]


def test_the_own_skills_calls_are_unaffected() -> None:
    acd = small_and_large_team(BORROW)
    assert offered(queue(acd, "traffic", 4.0, "traffic")) == [("traffic", "t1")]
