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
    assert borrow_cost(agent(general=1, tax=2), "general", 1, {"general": 0, "tax": 9}) == 0
    # Its best level is what counts, not level 1.
    assert borrow_cost(agent(general=3), "general", 3, {"general": 1}) == 0


def test_a_lent_agent_costs_more_the_fewer_its_first_skill_keeps_ready() -> None:
    ready = {"traffic": 1, "market": 5, "general": 2}
    traffic, market = agent(traffic=1, general=2), agent(market=1, general=3)
    assert 0 < borrow_cost(market, "general", 3, ready) < borrow_cost(traffic, "general", 2, ready)
    # A dual specialist is lent from the first skill with the most to spare.
    dual = agent(traffic=1, market=1, general=3)
    assert borrow_cost(dual, "general", 3, ready) == borrow_cost(market, "general", 3, ready)
    # Even a lent agent with nobody else ready comes after every own agent.
    assert (
        borrow_cost(traffic, "general", 2, {"traffic": 0})
        > borrow_cost(agent(general=9), "general", 9, {})
        == 0
    )


def test_a_dual_specialist_is_lent_from_its_other_first_skill() -> None:
    ready = {"traffic": 3, "market": 1, "general": 6}
    dual = agent(traffic=1, market=1, general=3)
    # For a traffic call it is lent from market, which it would leave with nobody ready; a
    # generalist with traffic at level 2 is lent from general, which keeps five.
    generalist = agent(general=1, traffic=2)
    assert 0 < borrow_cost(generalist, "traffic", 2, ready) < borrow_cost(dual, "traffic", 1, ready)
    assert borrow_cost(agent(traffic=1, general=2), "traffic", 1, ready) == 0
    # For a market call, from traffic.
    assert borrow_cost(dual, "market", 1, ready) == borrow_cost(
        generalist, "traffic", 2, {"general": 3}
    )


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


def dual_and_generalist(policy: AcdPolicy) -> Acd:
    """Ready: a dual specialist (traffic and market at level 1, idle longest), a generalist
    with traffic at level 2, two other generalists and a market specialist. The traffic
    specialist is busy."""
    acd = Acd(policy)
    login(acd, "t1", 0.0, traffic=1, general=2)
    assert offered(queue(acd, "first", 0.5, "traffic")) == [("first", "t1")]
    login(acd, "d1", 1.0, traffic=1, market=1, general=3)
    login(acd, "g1", 2.0, general=1, traffic=2)
    login(acd, "g2", 2.5, general=1)
    login(acd, "g3", 2.6, general=1)
    login(acd, "m1", 3.0, market=1, general=2)
    return acd


def test_a_traffic_call_is_not_taken_from_markets_last_dual_specialist() -> None:
    acd = dual_and_generalist(BORROW)
    # d1 has traffic at the better level and has been idle longer, but it would leave market
    # one ready agent, g1 general four: the generalist takes it (issue 17, day 101).
    assert offered(queue(acd, "traffic", 4.0, "traffic")) == [("traffic", "g1")]


def test_a_market_call_goes_to_the_market_specialist_before_the_dual() -> None:
    acd = dual_and_generalist(BORROW)
    # Both have market at level 1 and d1 has been idle longer, but d1 is also traffic's.
    assert offered(queue(acd, "market", 4.0, "market")) == [("market", "m1")]


def test_without_the_setting_the_dual_specialist_is_an_own_agent() -> None:
    acd = dual_and_generalist(AcdPolicy())
    assert offered(queue(acd, "traffic", 4.0, "traffic")) == [("traffic", "d1")]
