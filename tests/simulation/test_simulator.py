"""The simulator around the real ACD core: Erlang C agreement, invariants, hand-computed traces."""

from __future__ import annotations

import itertools
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.acd.core import Acd, AcdPolicy
from hotline.acd.erlang import average_speed_of_answer, erlang_c, service_level
from hotline.acd.events import (
    AgentState,
    AgentStateChanged,
    CallQueued,
    Decision,
    Event,
    OfferCall,
    PlaceCallback,
)
from hotline.simulation import simulator
from hotline.simulation.simulator import (
    AgentGroup,
    Scenario,
    SimulationError,
    SimulationResult,
    TraceCall,
    simulate,
)

# --- (a) M/M/c: the simulation agrees with Erlang C -------------------------------------------

N_AGENTS, LOAD, HANDLE_S = 10, 8.0, 180.0  # 80 % occupancy, P(wait) ~ 0.41, SL(15 s) ~ 0.65
REPLICATIONS, HOURS = 12, 50
# Spread of one 50-hour replication, from a pilot of 100 replications (seeds 1000..1099, not
# the ones tested): standard deviation of P(wait) 0.034, of SL(15 s) 0.035, of ASA 8.0 s, of
# occupancy 0.013. (The pilot's means were within 1.3 standard errors of Erlang C.)
PILOT_SD = {"P(wait)": 0.034, "SL 15 s": 0.035, "ASA": 8.0, "occupancy": 0.013}


def test_mmc_agrees_with_erlang_c() -> None:
    """12 independent replications, each 50 h after a 1 h warm-up (~8,000 calls each).

    Why the tolerance: waits of successive calls are strongly correlated (a congested hour
    lengthens every wait in it), so a binomial error bar over the calls of one long run would
    be far too narrow. Independent replications are independent samples of the same figure, so
    the mean of 12 has standard error ``SD / sqrt(12)`` with SD from the pilot: 0.0098 for
    P(wait), 0.010 for SL, 2.3 s for ASA. The test allows 4 standard errors (normal
    approximation of a mean of 12: a correct simulator fails with probability ~6e-5 per
    figure, and the seeds are fixed so the test is deterministic anyway): +-0.039 for P(wait),
    +-0.040 for SL, +-9.2 s for ASA. A single replication's spread is taken from the pilot, not
    from these 12, because it has a heavy tail (rare congested hours): seeds 0..11 happen to
    show less than half the true spread. (12, not more: the test stays under ~15 s.)

    What that catches: a forgotten 10 s wrap-up moves P(wait) by +0.10, one agent fewer by
    +0.23 (10 and 23 standard errors).
    """
    rate = LOAD / HANDLE_S
    runs = [
        simulate(
            Scenario(
                agents=(AgentGroup(N_AGENTS),),
                arrival_rate_per_s={"general": rate},
                mean_handle_s=HANDLE_S,
                duration_s=3600.0 * (HOURS + 1),
                warmup_s=3600.0,  # the centre starts empty; Erlang C is the steady state
                tick_interval_s=60.0,  # no wrap-up: ticks change nothing, keep them cheap
                seed=seed,
            )
        )
        for seed in range(REPLICATIONS)
    ]
    assert all(r.abandoned == 0 and r.waiting == 0 for r in runs)
    checks = [
        ("P(wait)", [r.p_wait for r in runs], erlang_c(N_AGENTS, LOAD)),
        ("SL 15 s", [r.service_level for r in runs], service_level(N_AGENTS, rate, HANDLE_S, 15)),
        ("ASA", [r.asa_s for r in runs], average_speed_of_answer(N_AGENTS, rate, HANDLE_S)),
        ("occupancy", [r.occupancy for r in runs], LOAD / N_AGENTS),
    ]
    for name, values, theory in checks:
        mean = statistics.fmean(values)
        se = PILOT_SD[name] / len(values) ** 0.5
        assert abs(mean - theory) <= 4 * se, f"{name}: sim {mean:.4f} vs Erlang {theory:.4f}"
        # A broken simulator can also be a noisy one: its spread must look like the pilot's.
        assert statistics.stdev(values) < 2 * PILOT_SD[name], f"{name}: spread too wide"


# --- (b) invariants ---------------------------------------------------------------------------


def busy_scenario(seed: int = 7, **changes: object) -> Scenario:
    """Everything at once: two skills, a generalist group, abandonment, wrap-up, ring time,
    ring-no-answer, priority trace calls, overload so queues form."""
    sc = Scenario(
        agents=(
            AgentGroup(3, (("water", 1),)),  # level 1 is the best
            AgentGroup(2, (("tax", 1),)),
            AgentGroup(2, (("tax", 3), ("water", 3))),
        ),
        arrival_rate_per_s={"water": 1 / 40, "tax": 1 / 60},
        trace=tuple(TraceCall(600.0 + 300 * i, "water", 5, 200.0, 120.0) for i in range(6)),
        mean_handle_s=200.0,
        mean_patience_s=90.0,
        ring_s=3.0,
        ring_no_answer_p=0.1,
        rna_recovery_s=30.0,
        policy=AcdPolicy(ring_timeout_s=15.0, wrapup_s=10.0),
        duration_s=4 * 3600.0,
        seed=seed,
    )
    return replace(sc, **changes)  # type: ignore[arg-type]


def check_invariants(sc: Scenario, r: SimulationResult) -> None:
    skills = {a.agent_id: {name for name, _ in a.skills} for a in sc.roster}
    n = 0
    for group in sc.agents:
        for _ in range(group.count):
            n += 1
            skills[f"a{n:05d}"] = {name for name, _ in group.skills}
    talks: dict[str, list[tuple[float, float]]] = defaultdict(list)  # agent -> (start, end)
    for c in r.calls:
        # One fate: answered, abandoned, sent to voicemail, a callback accepted, or still
        # waiting at the end; a callback reaches the citizen only after an abandon or accept.
        fates = (c.answered_at, c.abandoned_at, c.voicemail_at, c.accepted_at)
        assert sum(t is not None for t in fates) == int(c.settled) <= 1
        talked = c.answered_at if c.answered_at is not None else c.called_back_at
        if talked is not None:
            assert c.agent_id is not None and c.skill in skills[c.agent_id]
            assert talked >= c.queued_at + sc.ring_s
            # Still talking when the run stopped: only an agent's last call (checked below).
            talks[c.agent_id].append((talked, math.inf if c.ended_at is None else c.ended_at))
        else:
            assert c.ended_at is None
        if c.called_back_at is not None:
            assert c.answered_at is None and c.settled
        if c.abandoned_at is not None:
            assert c.abandoned_at >= c.queued_at
        if not c.settled:
            assert not sc.drain
    assert r.offered == r.answered + r.abandoned + r.voicemail + r.callbacks + r.waiting
    # No agent ever has two calls: each agent's calls follow one another, with the wrap-up
    # (and the ring of the next call) in between.
    for spans in talks.values():
        spans.sort()
        for (_, ended), (started, _) in itertools.pairwise(spans):
            assert started >= ended + sc.policy.wrapup_s + sc.ring_s - 1e-9


def test_invariants_hold_in_a_busy_centre() -> None:
    sc = busy_scenario()
    r = simulate(sc)
    check_invariants(sc, r)
    # The scenario really exercises what it claims to.
    assert r.abandoned > 0 and r.answered > 100
    assert any(c.offers > 1 for c in r.calls)  # ring-no-answer, offered again
    assert 0 < r.service_level < 1 and 0 < r.occupancy <= 1


def test_without_drain_calls_are_left_waiting_at_the_end() -> None:
    sc = busy_scenario(
        drain=False, mean_patience_s=None, arrival_rate_per_s={"water": 1 / 10}, duration_s=3600.0
    )
    r = simulate(sc)
    check_invariants(sc, r)
    assert r.waiting > 0 and r.end_at == sc.duration_s


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    wrapup=st.sampled_from([0.0, 5.0, 30.0]),
    ring=st.sampled_from([0.0, 4.0]),
    rna=st.sampled_from([0.0, 0.3]),
    patience=st.sampled_from([None, 20.0, 300.0]),
    drain=st.booleans(),
)
def test_invariants_hold_for_any_mix(
    seed: int, wrapup: float, ring: float, rna: float, patience: float | None, drain: bool
) -> None:
    sc = busy_scenario(
        seed=seed,
        policy=AcdPolicy(ring_timeout_s=15.0, wrapup_s=wrapup),
        ring_s=ring,
        ring_no_answer_p=rna,
        mean_patience_s=patience,
        drain=drain,
        duration_s=3600.0,
    )
    check_invariants(sc, simulate(sc))


def figures(r: SimulationResult) -> tuple[object, ...]:
    return (r.calls, r.end_at, r.service_level, r.asa_s, r.occupancy, r.events, r.decisions)


def test_same_seed_same_results_other_seed_other_results() -> None:
    sc = busy_scenario(duration_s=3600.0)
    first = simulate(sc)
    assert figures(simulate(sc)) == figures(first)
    assert figures(simulate(replace(sc, seed=8))) != figures(first)


# --- (c) traces with waits worked out by hand -------------------------------------------------


def trace_waits(sc: Scenario) -> list[float]:
    r = simulate(sc)
    return [c.wait_s(r.end_at) for c in r.calls]


ONE_AGENT = (AgentGroup(1),)
THREE_CALLS = tuple(TraceCall(float(t), "general", 0, 10.0) for t in (0, 1, 2))


def test_one_agent_three_calls_queue_behind_each_other() -> None:
    # Answered at 0, 10, 20: waits 0, 9, 18.
    sc = Scenario(agents=ONE_AGENT, trace=THREE_CALLS, duration_s=100.0)
    r = simulate(sc)
    assert [c.wait_s(r.end_at) for c in r.calls] == [0.0, 9.0, 18.0]
    assert [c.ended_at for c in r.calls] == [10.0, 20.0, 30.0]
    assert (r.answered, r.abandoned, r.max_wait_s, r.asa_s) == (3, 0, 18.0, 9.0)
    assert r.service_level == pytest.approx(2 / 3)  # 18 s is over the 15 s target
    assert r.occupancy == pytest.approx(30 / 100)


def test_wrap_up_and_ring_time_add_up() -> None:
    # Wrap-up 3 s (ticks every 1 s land exactly on its end): answered 0, 13, 26.
    wrap = Scenario(agents=ONE_AGENT, trace=THREE_CALLS, duration_s=100.0,
                    policy=AcdPolicy(ring_timeout_s=15.0, wrapup_s=3.0))  # fmt: skip
    assert trace_waits(wrap) == [0.0, 12.0, 24.0]
    # Ring 2 s before each answer: answered 2, 14, 26.
    ring = Scenario(agents=ONE_AGENT, trace=THREE_CALLS, duration_s=100.0, ring_s=2.0)
    assert trace_waits(ring) == [2.0, 13.0, 24.0]


def test_priority_and_patience() -> None:
    calls = (
        TraceCall(0.0, "general", 0, 10.0),
        TraceCall(1.0, "general", 0, 10.0, patience_s=5.0),  # gives up at 6
        TraceCall(2.0, "general", 0, 10.0),
        TraceCall(3.0, "general", 9, 10.0),  # jumps the queue: answered at 10
    )
    r = simulate(Scenario(agents=ONE_AGENT, trace=calls, duration_s=100.0))
    assert [c.abandoned_at for c in r.calls] == [None, 6.0, None, None]
    assert [c.answered_at for c in r.calls] == [0.0, None, 20.0, 10.0]
    assert [c.wait_s(r.end_at) for c in r.calls] == [0.0, 5.0, 18.0, 7.0]
    assert (r.offered, r.answered, r.abandoned) == (4, 3, 1)


def test_skills_route_to_the_right_agent() -> None:
    agents = (AgentGroup(1, (("tax", 1),)), AgentGroup(1, (("water", 1),)))
    calls = (TraceCall(0.0, "water", 0, 10.0), TraceCall(0.0, "water", 0, 10.0),
             TraceCall(1.0, "tax", 0, 10.0))  # fmt: skip
    r = simulate(Scenario(agents=agents, trace=calls, duration_s=100.0))
    assert [(c.agent_id, c.answered_at) for c in r.calls] == [
        ("a00002", 0.0),
        ("a00002", 10.0),  # waits for the water agent; the idle tax agent cannot take it
        ("a00001", 1.0),
    ]


def test_drain_gives_up_on_a_call_nobody_can_take() -> None:
    calls = (*THREE_CALLS, TraceCall(5.0, "sign_language", 0, 10.0))
    r = simulate(Scenario(agents=ONE_AGENT, trace=calls, duration_s=100.0, drain_limit_s=50.0))
    assert (r.answered, r.waiting, r.end_at) == (3, 1, 150.0)
    assert r.calls[-1].wait_s(r.end_at) == 145.0


def test_bad_scenarios_are_refused() -> None:
    with pytest.raises(ValueError):
        Scenario(agents=ONE_AGENT, ring_s=20.0)  # rings longer than the ring timeout
    with pytest.raises(ValueError):
        Scenario(agents=ONE_AGENT, warmup_s=10.0, duration_s=5.0)
    with pytest.raises(ValueError):
        Scenario(agents=ONE_AGENT, arrival_rate_per_s={"general": -1.0})


def test_a_decision_the_world_cannot_carry_out_stops_the_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A decision the simulator does not know, or a second call for a busy agent: it stops
    rather than guess."""

    @dataclass(frozen=True)
    class Teleport:
        call_id: str

    class Strange(Acd):
        def handle(self, event: Event) -> list[Decision]:
            out = super().handle(event)
            if isinstance(event, CallQueued):
                out.append(Teleport(event.call_id))  # type: ignore[arg-type]
            return out

    monkeypatch.setattr(simulator, "Acd", Strange)
    with pytest.raises(SimulationError, match="Teleport"):
        simulate(Scenario(agents=ONE_AGENT, trace=THREE_CALLS, duration_s=100.0))

    class DoubleBooks(Acd):
        def handle(self, event: Event) -> list[Decision]:
            out = super().handle(event)
            if isinstance(event, CallQueued):
                out.append(PlaceCallback(call_id=event.call_id, agent_id="a00001", seat="x",
                                         number="10086", attempt=1, ring_timeout_s=15.0,
                                         at=event.at))  # fmt: skip
            return out

    monkeypatch.setattr(simulator, "Acd", DoubleBooks)
    with pytest.raises(SimulationError, match="PlaceCallback: c0000001 to a00001, who has"):
        simulate(Scenario(agents=ONE_AGENT, trace=THREE_CALLS, duration_s=100.0))


# --- (d) routers, shifts, callbacks, figures ----------------------------------------------------


def test_the_app_queue_model_runs_in_the_same_world() -> None:
    for router in ("fifo-per-queue", "fifo-per-queue-rrmemory"):
        sc = busy_scenario(router=router, duration_s=3600.0)
        r = simulate(sc)
        check_invariants(sc, r)
        assert r.answered > 50 and r.abandoned > 0
    with pytest.raises(ValueError, match="unknown router"):
        simulate(Scenario(agents=ONE_AGENT, router="ringall"))


class Recorder:
    """A router factory that keeps every decision with the time of the event that caused it."""

    def __init__(self, policy_router: str = "ours") -> None:
        self.router = policy_router
        self.log: list[tuple[float, Decision]] = []

    def __call__(self, policy: AcdPolicy) -> simulator.Router:
        inner = simulator.make_router(self.router, policy)
        log = self.log

        class Logged:
            def handle(self, event: Event) -> list[Decision]:
                out = inner.handle(event)
                log.extend((event.at, d) for d in out)
                return out

        return Logged()

    def offers_to(self, agent: str) -> list[float]:
        return [t for t, d in self.log if isinstance(d, OfferCall) and d.agent_id == agent]

    def states(self, agent: str) -> list[tuple[float, AgentState, str]]:
        return [(t, d.state, d.reason) for t, d in self.log
                if isinstance(d, AgentStateChanged) and d.agent_id == agent]  # fmt: skip


SHIFT_CALLS = (
    TraceCall(0.0, "general", 0, 50.0),  # only "early" is there
    TraceCall(95.0, "general", 0, 60.0),  # 5 s before "early"'s shift ends
    TraceCall(101.0, "general", 0, 10.0),  # after it: only "late" may take it
    TraceCall(150.0, "general", 0, 10.0),
)


@pytest.mark.parametrize("router", ["ours", "fifo-per-queue"])
@pytest.mark.parametrize("wrapup", [0.0, 5.0])
def test_shifts_log_in_and_out_and_never_cut_a_call(router: str, wrapup: float) -> None:
    roster = (
        simulator.RosterAgent("early", (("general", 1),), 0.0, 100.0),
        simulator.RosterAgent("late", (("general", 2),), 20.0, 1000.0),
    )
    rec = Recorder(router)
    sc = Scenario(roster=roster, trace=SHIFT_CALLS, router=rec, duration_s=300.0,
                  policy=AcdPolicy(ring_timeout_s=15.0, wrapup_s=wrapup))  # fmt: skip
    r = simulate(sc)
    calls = {c.queued_at: c for c in r.calls}
    # The first call waits for the first login, at 0 ("early"); "late" logs in at 20.
    assert calls[0.0].agent_id == "early" and calls[0.0].ended_at == 50.0
    # 95: "late" is on nothing, "early" is ready again: ours takes the best level (early, 1);
    # app_queue the member idle longest (late never had a call). Either way not cut short.
    second = calls[95.0]
    assert second.answered_at == 95.0 and second.ended_at == 155.0
    # Nothing is answered by "early" after its shift: it logs out when its call ends.
    for c in r.calls:
        if c.agent_id == "early" and c.answered_at is not None:
            assert c.answered_at < 100.0
    (logout,) = [
        (t, reason) for t, st, reason in rec.states("early") if st is AgentState.LOGGED_OUT
    ]
    assert logout[0] == (155.0 if second.agent_id == "early" else 100.0)
    assert calls[0.0].answered_at == 0.0 and all(c.answered_at is not None for c in r.calls)
    late_offers = [t for t in rec.offers_to("early") if t >= 100.0]
    if wrapup > 0:
        assert late_offers == []  # made not ready during its wrap-up: offered nothing
    else:
        # Without wrap-up the router may offer the next call as the last one ends; the
        # simulated agent declines at once and the call loses no time.
        assert all(t == logout[0] for t in late_offers)
    assert "late" in {c.agent_id for c in r.calls}


@pytest.mark.parametrize(("router", "answered"), [("ours", 150.0), ("fifo-per-queue", 151.0)])
def test_a_leaving_agent_declines_the_call_offered_as_its_last_call_ends(
    router: str, answered: float
) -> None:
    """No wrap-up: as "early"'s last call ends (after its shift) the router offers it the
    waiting call; the agent declines at once and "late", free at the same instant, takes it
    (app_queue's caller first sleeps its 1 s retry pause)."""
    roster = (
        simulator.RosterAgent("early", (("general", 1),), 0.0, 100.0),
        simulator.RosterAgent("late", (("general", 2),), 0.0, 1000.0),
    )
    calls = (TraceCall(0.0, "general", 0, 150.0), TraceCall(1.0, "general", 0, 149.0),
             TraceCall(120.0, "general", 0, 10.0))  # fmt: skip
    rec = Recorder(router)
    r = simulate(Scenario(roster=roster, trace=calls, router=rec, duration_s=300.0))
    assert [c.agent_id for c in r.calls] == ["early", "late", "late"]
    assert r.calls[0].ended_at == 150.0 and r.calls[2].answered_at == answered
    assert rec.offers_to("early") == [0.0, 150.0]  # the second one declined
    logout = [t for t, st, _ in rec.states("early") if st is AgentState.LOGGED_OUT]
    assert logout == [150.0]


def test_a_shift_that_starts_later_leaves_calls_waiting_until_then() -> None:
    roster = (simulator.RosterAgent("r1", (("general", 1),), 30.0),)
    r = simulate(Scenario(roster=roster, trace=THREE_CALLS, duration_s=100.0))
    assert [c.answered_at for c in r.calls] == [30.0, 40.0, 50.0]
    with pytest.raises(ValueError):
        Scenario(roster=(simulator.RosterAgent("r1", (("general", 1),), 50.0, 40.0),))
    with pytest.raises(ValueError):
        Scenario(agents=ONE_AGENT, roster=(simulator.RosterAgent("a00001", ()),))


CALLBACK_POLICY = AcdPolicy(ring_timeout_s=15.0, wrapup_s=0.0, offer_callback_after_s=30.0,
                            callback_max_attempts=2, callback_retry_s=60.0)  # fmt: skip
LONG_CALLS = tuple(TraceCall(float(t), "general", 0, 100.0, caller=f"13{t:09d}")
                   for t in (0, 1, 2))  # fmt: skip


def test_callbacks_are_accepted_placed_and_reach_the_citizen() -> None:
    """One agent, three 100 s calls: the two that would wait accept a callback at once (their
    estimate crosses the 30 s threshold at entry) and keep their places."""
    sc = Scenario(agents=ONE_AGENT, trace=LONG_CALLS, policy=CALLBACK_POLICY, ring_s=2.0,
                  callback_accept_p=1.0, callback_answer_s=8.0, duration_s=10.0)  # fmt: skip
    r = simulate(sc)
    first, second, third = r.calls
    assert first.answered_at == 2.0 and first.ended_at == 102.0
    assert (second.accepted_at, third.accepted_at) == (1.0, 2.0)
    # Placed when the agent is free: agent's phone 2 s, the citizen answers 8 s later.
    assert second.called_back_at == 112.0 and second.ended_at == 212.0
    assert third.called_back_at == 222.0 and third.attempts == 1
    f = r.figures
    assert (f.offered, f.answered, f.abandoned, f.called_back) == (3, 1, 0, 2)
    assert f.answer_rate == pytest.approx(1 / 3) and f.served_rate == 1.0
    assert r.callbacks == 2 and r.waiting == 0


def test_a_callback_nobody_answers_is_given_up_after_the_attempts() -> None:
    sc = Scenario(agents=ONE_AGENT, trace=LONG_CALLS[:2], policy=CALLBACK_POLICY,
                  callback_accept_p=1.0, callback_answer_p=0.0, callback_ring_s=30.0,
                  duration_s=10.0)  # fmt: skip
    r = simulate(sc)
    second = r.calls[1]
    # Attempts at 100 (fails at 130) and, after the 60 s retry pause, at 190 (fails at 220).
    assert second.attempts == 2 and second.called_back_at is None and second.left_at == 220.0
    assert r.figures.called_back == 0 and r.figures.served_rate == 0.5
    assert r.end_at < 300.0  # nothing left open: the drain stopped


def test_missed_calls_are_called_back_and_count_as_served() -> None:
    policy = AcdPolicy(ring_timeout_s=15.0, wrapup_s=0.0, missed_callback_after_s=3.0)
    calls = (
        TraceCall(0.0, "general", 0, 100.0, caller="138"),
        TraceCall(1.0, "general", 0, 20.0, patience_s=10.0, caller="139"),  # leaves at 11
        TraceCall(2.0, "general", 0, 20.0, patience_s=2.0, caller="137"),  # too soon to list
    )
    r = simulate(Scenario(agents=ONE_AGENT, trace=calls, policy=policy, duration_s=10.0))
    _, missed, quick = r.calls
    assert missed.abandoned_at == 11.0 and missed.called_back_at == 108.0  # 100 + 8 s ringing
    assert quick.abandoned_at == 4.0 and quick.called_back_at is None
    f = r.figures
    assert (f.answered, f.abandoned, f.called_back) == (1, 2, 1)
    assert f.served_rate == pytest.approx(2 / 3) and f.answer_rate == pytest.approx(1 / 3)


def test_declined_callback_offers_change_nothing() -> None:
    plain = simulate(Scenario(agents=ONE_AGENT, trace=LONG_CALLS, duration_s=10.0))
    offered = simulate(Scenario(agents=ONE_AGENT, trace=LONG_CALLS, duration_s=10.0,
                                policy=CALLBACK_POLICY, callback_accept_p=0.0))  # fmt: skip
    assert [c.answered_at for c in offered.calls] == [c.answered_at for c in plain.calls]


def test_figures_overall_and_per_skill_are_consistent() -> None:
    policy = AcdPolicy(ring_timeout_s=15.0, wrapup_s=10.0, offer_callback_after_s=60.0,
                       missed_callback_after_s=20.0)  # fmt: skip
    sc = busy_scenario(policy=policy, callback_accept_p=0.5, callback_answer_p=0.7,
                       ring_no_answer_p=0.0, duration_s=3600.0)  # fmt: skip
    r = simulate(sc)
    f = r.figures
    assert f.called_back > 0 and f.abandoned > 0
    assert f.offered == r.offered == sum(s.offered for s in r.by_skill.values())
    assert f.answered == sum(s.answered for s in r.by_skill.values())
    assert set(r.by_skill) == {"tax", "water"}
    for g in (f, *r.by_skill.values()):
        assert g.service_level_15s is not None and g.answer_rate is not None
        assert g.served_rate is not None and g.asa_s is not None and g.max_wait_s is not None
        assert 0 <= g.service_level_15s <= g.answer_rate <= g.served_rate <= 1
        assert g.answer_rate == pytest.approx(g.answered / g.offered)
        assert g.asa_s <= g.max_wait_s
    # Everything the JSON carries, and nothing else.
    assert set(simulator.figures_json(r)) == {"overall", "by_skill"}
    assert list(f.as_dict()) == ["offered", "answered", "abandoned", "called_back",
                                 "service_level_15s", "answer_rate", "served_rate", "asa_s",
                                 "max_wait_s"]  # fmt: skip
    assert "all" in simulator.format_figures(r) and "water" in simulator.format_figures(r)


@pytest.mark.parametrize("router", ["ours", "fifo-per-queue"])
def test_runs_are_deterministic_per_seed_with_shifts_and_callbacks(router: str) -> None:
    roster = tuple(
        simulator.RosterAgent(f"r{i}", (("water", 1 + i % 2), ("tax", 2)), 300.0 * i,
                               1800.0 + 300.0 * i)
        for i in range(4)
    )  # fmt: skip
    policy = AcdPolicy(ring_timeout_s=15.0, wrapup_s=5.0, missed_callback_after_s=10.0)
    sc = busy_scenario(roster=roster, router=router, duration_s=2400.0, callback_answer_p=0.6,
                       policy=policy if router == "ours" else AcdPolicy())  # fmt: skip
    first = simulate(sc)
    again = simulate(sc)
    assert figures(again) == figures(first) and again.by_skill == first.by_skill
    assert figures(simulate(replace(sc, seed=sc.seed + 1))) != figures(first)


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    router=st.sampled_from(["ours", "fifo-per-queue", "fifo-per-queue-rrmemory"]),
    wrapup=st.sampled_from([0.0, 5.0]),
    rna=st.sampled_from([0.0, 0.2]),
    accept=st.sampled_from([0.0, 0.6]),
    answer=st.sampled_from([0.3, 1.0]),
    shifts=st.lists(st.tuples(st.integers(0, 1800), st.integers(60, 1800)), max_size=6),
)
def test_invariants_hold_with_shifts_callbacks_and_any_router(
    seed: int, router: str, wrapup: float, rna: float, accept: float, answer: float,
    shifts: list[tuple[int, int]],
) -> None:  # fmt: skip
    roster = tuple(
        simulator.RosterAgent(f"r{i}", (("water", 1 + i % 3), ("tax", 2)), float(start),
                               float(start + length))
        for i, (start, length) in enumerate(shifts)
    )  # fmt: skip
    callbacks = router == "ours"  # app_queue offers no callbacks
    policy = AcdPolicy(
        ring_timeout_s=15.0, wrapup_s=wrapup, callback_retry_s=30.0,
        offer_callback_after_s=40.0 if callbacks else None,
        missed_callback_after_s=15.0 if callbacks else None,
    )  # fmt: skip
    sc = busy_scenario(seed=seed, router=router, policy=policy, roster=roster, ring_s=2.0,
                       ring_no_answer_p=rna, callback_accept_p=accept, callback_answer_p=answer,
                       duration_s=1800.0)  # fmt: skip
    r = simulate(sc)
    check_invariants(sc, r)
    ends = {a.agent_id: a.shift_end_s for a in roster}
    for c in r.calls:
        if c.answered_at is not None and c.agent_id in ends:
            assert c.answered_at - sc.ring_s < ends[c.agent_id]  # offered before the shift end
        if c.called_back_at is not None:
            assert c.accepted_at is not None or c.abandoned_at is not None
            if c.agent_id in ends:
                assert c.called_back_at - sc.ring_s - sc.callback_answer_s < ends[c.agent_id]
        # Drained: every call is over, one way or another.
        if c.accepted_at is not None:
            assert (c.called_back_at is None) != (c.left_at is None)
        assert c.settled
    f = r.figures
    assert f.answer_rate is not None and f.served_rate is not None
    assert f.answer_rate <= f.served_rate <= 1
    if not callbacks:
        assert f.called_back == 0 and r.callbacks == 0
