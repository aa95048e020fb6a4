"""The ACD's transition tables decide every target, through guards only (hotline/acd/core/rules.py).

Two checks. Statically: each guarded entry's guards are exclusive and exhaustive on a grid of
sampled records and policies, are pure, and every trigger the tables name has a handler.
Dynamically: over random event sequences (the property test's), every agent and every call
ends each event in the state the table last resolved for it, so a handler that changed a
target after asking the table (as the core once did for eight of them) fails here.
"""

from __future__ import annotations

import dataclasses
import itertools
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.acd.core import (
    AGENT_TRANSITIONS,
    CALL_TRANSITIONS,
    HANDLERS,
    Acd,
    AcdError,
    AcdPolicy,
    rules,
)
from hotline.acd.core.records import Agent, Call, CallState
from hotline.acd.events import (
    AgentAnswered,
    AgentLoggedIn,
    AgentNotReady,
    AgentPhoneBusy,
    AgentPhoneFree,
    AgentReady,
    AgentState,
    CallbackAccepted,
    CallbackFailed,
    CallEnded,
    CallerHungUp,
    CallQueued,
    CallWithdrawn,
    Event,
    OfferFailed,
)
from tests.acd.test_acd_properties import draw_event, next_time, policies

POLICIES = [
    AcdPolicy(wrapup_s=wrapup, callback_max_attempts=attempts, missed_callback_after_s=missed)
    for wrapup, attempts, missed in itertools.product((0.0, 5.0), (1, 2, 3), (None, 0.0, 5.0))
]
TIMES = (0.0, 3.0, 10.0)


def sample_agents(state: AgentState) -> Iterator[Agent]:
    for after_call, reason in itertools.product(
        (None, "break"), ("login", "break", rules.OTHER_CALL, "ring_no_answer")
    ):
        agent = Agent("a", "PJSIP/a", (("general", 1),), state, reason, 0.0, 0.0)
        agent.after_call = after_call
        yield agent


def sample_calls(state: CallState | None) -> Iterator[Call]:
    for missed, attempts, caller in itertools.product((False, True), (0, 1, 2, 3), ("", "A")):
        call = Call("c", "general", 0, caller, "PJSIP/t-1", 0.0, 0, state or CallState.WAITING)
        call.missed, call.attempts, call.number = missed, attempts, "139" if missed else ""
        yield call


def guarded(table: dict[Any, Any]) -> list[tuple[Any, Any]]:
    return [(key, rule) for key, rule in table.items() if isinstance(rule, tuple)]


def check_branches(key: Any, branches: Any, records: Iterator[Any]) -> int:
    """Exactly one guard holds for every sampled input; guards change nothing."""
    checked = 0
    for record, policy, at in itertools.product(records, POLICIES, TIMES):
        before = dataclasses.replace(record)
        holding = [target for guard, target in branches if guard(record, policy, at)]
        assert len(holding) == 1, f"{key}: {len(holding)} guards hold for {record} ({policy})"
        assert dataclasses.astuple(record) == dataclasses.astuple(before), f"{key}: impure"
        checked += 1
    return checked


def test_the_tables_have_guarded_entries_where_a_target_depends_on_the_facts() -> None:
    # The eight targets that used to be overridden in code are guard branches now.
    agent_keys = {key for key, _ in guarded(AGENT_TRANSITIONS)}
    call_keys = {key for key, _ in guarded(CALL_TRANSITIONS)}
    assert agent_keys >= {
        (AgentState.ON_CALL, CallEnded),
        (AgentState.RINGING, CallerHungUp),
        (AgentState.RINGING, CallWithdrawn),
        (AgentState.RINGING, CallbackFailed),
        (AgentState.NOT_READY, AgentPhoneFree),
    }
    assert call_keys >= {
        (CallState.WAITING, CallerHungUp),
        (CallState.OFFERED, CallerHungUp),
        (CallState.CALLING, CallbackFailed),
        (CallState.CALLING, OfferFailed),
    }


@pytest.mark.parametrize(("key", "branches"), guarded(AGENT_TRANSITIONS), ids=str)
def test_agent_guards_are_exclusive_and_exhaustive(key: Any, branches: Any) -> None:
    assert check_branches(key, branches, sample_agents(key[0])) > 0


@pytest.mark.parametrize(("key", "branches"), guarded(CALL_TRANSITIONS), ids=str)
def test_call_guards_are_exclusive_and_exhaustive(key: Any, branches: Any) -> None:
    assert check_branches(key, branches, sample_calls(key[0])) > 0


def test_every_event_trigger_has_a_handler_and_every_target_is_a_state() -> None:
    for table, states in (
        (AGENT_TRANSITIONS, set(AgentState)),
        (CALL_TRANSITIONS, {*CallState, None}),
    ):
        for (state, trigger), rule in table.items():
            assert state in states
            if isinstance(trigger, str):
                assert trigger in (rules.OFFER, rules.PLACE, rules.VOICEMAIL, rules.CALLED_AGAIN)
            else:
                assert trigger in HANDLERS, f"{trigger.__name__} has no handler"
            targets = [t for _, t in rule] if isinstance(rule, tuple) else [rule]
            assert all(t in states for t in targets), (state, trigger, rule)


Resolved = dict[tuple[str, str], Any]  # ("agent" | "call", id) -> the last target resolved
Taken = set[tuple[Any, int]]  # (table key, index of the branch whose guard held)


def _branch(rule: Any, record: Any, policy: AcdPolicy, at: float) -> int | None:
    if not isinstance(rule, tuple):
        return None
    return next(i for i, (guard, _) in enumerate(rule) if guard(record, policy, at))


@contextmanager
def recording(resolved: Resolved, taken: Taken) -> Iterator[None]:
    """Every target the handlers ask the tables for, by record, and the guarded branches
    taken, while the block runs."""

    def agent_target(agent: Agent, trigger: rules.Trigger, policy: AcdPolicy, at: float) -> Any:
        target = rules.agent_target(agent, trigger, policy, at)
        key = (agent.state, trigger)
        branch = _branch(AGENT_TRANSITIONS[key], agent, policy, at)
        if branch is not None:
            taken.add((key, branch))
        resolved["agent", agent.agent_id] = target
        return target

    def call_target(
        call: Call | None, trigger: rules.Trigger, policy: AcdPolicy, at: float, call_id: str = ""
    ) -> Any:
        target = rules.call_target(call, trigger, policy, at, call_id)
        if call is not None:
            key = (call.state, trigger)
            branch = _branch(CALL_TRANSITIONS[key], call, policy, at)
            if branch is not None:
                taken.add((key, branch))
        resolved["call", call.call_id if call is not None else call_id] = target
        return target

    patched: list[tuple[Any, str, Callable[..., Any]]] = []
    # Every module of the core that imported them (the handlers, routing, prompts).
    core = [m for n, m in sys.modules.items() if n.startswith("hotline.acd.core.")]
    modules = [m for m in core if m is not rules]
    for module in modules:
        for name, fake in (("agent_target", agent_target), ("call_target", call_target)):
            if hasattr(module, name):
                patched.append((module, name, getattr(module, name)))
                setattr(module, name, fake)
    try:
        yield
    finally:
        for module, name, real in patched:
            setattr(module, name, real)


def states_of(acd_: Acd) -> dict[tuple[str, str], Any]:
    snap = acd_.snapshot()
    found: dict[tuple[str, str], Any] = {
        ("agent", a["agent_id"]): a["state"] for a in snap["agents"]
    }
    found.update({("call", c["call_id"]): c["state"] for c in snap["calls"]})
    return found


def check_event(acd_: Acd, event: Event, taken: Taken, *, fits: bool = False) -> None:
    """Every record ends the event where the table last said it goes (or did not move)."""
    before, resolved = states_of(acd_), Resolved()
    with recording(resolved, taken):
        try:
            acd_.handle(event)
        except AcdError:
            if fits:
                raise
            return
    after = states_of(acd_)
    gone = {key: (AgentState.LOGGED_OUT if key[0] == "agent" else None) for key in before}
    for key in before.keys() | after.keys():
        now = after.get(key, gone.get(key))
        if before.get(key) != now:
            assert key in resolved, f"{event!r}: {key} moved to {now} without the table"
        if key in resolved:
            assert resolved[key] == now, (
                f"{event!r}: the table said {key} goes to {resolved[key]}, it is {now}"
            )


# Scripts that take every branch of every guarded entry (the coverage test checks that).
def login(agent_id: str, at: float, *, ready: bool = True) -> list[Event]:
    skills = (("general", 1),)
    events: list[Event] = [
        AgentLoggedIn(agent_id=agent_id, seat=f"PJSIP/{agent_id}", skills=skills, at=at)
    ]
    return [*events, AgentReady(agent_id=agent_id, at=at)] if ready else events


def queue(call_id: str, at: float, caller: str = "A") -> CallQueued:
    channel = f"PJSIP/t-{call_id}"
    return CallQueued(
        call_id=call_id, skill="general", priority=0, caller=caller, channel=channel, at=at
    )


WRAP, NO_WRAP = AcdPolicy(wrapup_s=5.0), AcdPolicy(wrapup_s=0.0)
MISSED = AcdPolicy(wrapup_s=5.0, missed_callback_after_s=0.0, callback_max_attempts=2)
RETRY = AcdPolicy(wrapup_s=5.0, callback_max_attempts=2, callback_retry_s=60.0)
ASK = AgentNotReady(agent_id="a", reason="break", at=2.0)
RINGING_A = [*login("a", 0.0), queue("c0", 1.0)]  # c0 rings a
TALKING = [*RINGING_A, AgentAnswered(call_id="c0", agent_id="a", at=2.0)]
CALLING_BACK = [
    queue("c0", 0.0),
    CallbackAccepted(call_id="c0", number="139", at=1.0),
    *login("a", 1.0),
]
MISSED_CALLING = [queue("c0", 0.0), CallerHungUp(call_id="c0", at=1.0), *login("a", 1.0)]
OTHER = [
    *login("a", 0.0),
    AgentPhoneBusy(agent_id="a", at=1.0),
    AgentPhoneFree(agent_id="a", at=2.0),
]
SCRIPTS: list[tuple[AcdPolicy, list[Event]]] = [
    (WRAP, [*RINGING_A, CallerHungUp(call_id="c0", at=3.0)]),
    (WRAP, [*RINGING_A, ASK, CallerHungUp(call_id="c0", at=3.0)]),
    (MISSED, [*RINGING_A, CallerHungUp(call_id="c0", at=3.0)]),
    (MISSED, [queue("c0", 0.0, caller=""), CallerHungUp(call_id="c0", at=1.0)]),
    (WRAP, [*RINGING_A, CallWithdrawn(call_id="c0", reason="emergency", at=3.0)]),
    (WRAP, [*RINGING_A, ASK, CallWithdrawn(call_id="c0", reason="emergency", at=3.0)]),
    (WRAP, [*TALKING, CallEnded(call_id="c0", agent_id="a", at=3.0)]),
    (NO_WRAP, [*TALKING, CallEnded(call_id="c0", agent_id="a", at=3.0)]),
    (WRAP, [*TALKING, ASK, CallEnded(call_id="c0", agent_id="a", at=3.0)]),
    (NO_WRAP, [*TALKING, ASK, CallEnded(call_id="c0", agent_id="a", at=3.0)]),
    (WRAP, OTHER),
    (NO_WRAP, OTHER),
    (
        WRAP,
        [
            *login("a", 0.0, ready=False),
            AgentPhoneBusy(agent_id="a", at=1.0),
            AgentPhoneFree(agent_id="a", at=2.0),
        ],
    ),
    (RETRY, [*CALLING_BACK, CallbackFailed(call_id="c0", agent_id="a", reason="busy", at=3.0)]),
    (
        RETRY,
        [*CALLING_BACK, ASK, CallbackFailed(call_id="c0", agent_id="a", reason="busy", at=3.0)],
    ),
    (
        AcdPolicy(callback_max_attempts=1),
        [*CALLING_BACK, CallbackFailed(call_id="c0", agent_id="a", reason="busy", at=3.0)],
    ),
    (MISSED, [*MISSED_CALLING, CallbackFailed(call_id="c0", agent_id="a", reason="busy", at=3.0)]),
    (RETRY, [*CALLING_BACK, OfferFailed(call_id="c0", agent_id="a", reason="rna", at=3.0)]),
    (MISSED, [*MISSED_CALLING, OfferFailed(call_id="c0", agent_id="a", reason="rna", at=3.0)]),
]


def test_scripts_take_every_guarded_branch_and_end_where_the_table_said() -> None:
    taken: Taken = set()
    for policy, events in SCRIPTS:
        acd_ = Acd(policy)
        for event in events:
            check_event(acd_, event, taken, fits=True)
    every = {
        (key, i)
        for table in (AGENT_TRANSITIONS, CALL_TRANSITIONS)
        for key, rule in guarded(table)
        for i in range(len(rule))
    }
    assert sorted(map(str, every - taken)) == []


@settings(max_examples=200, deadline=None)
@given(policy=policies, steps=st.integers(1, 50), data=st.data())
def test_every_state_is_the_one_the_table_resolved(
    policy: AcdPolicy, steps: int, data: st.DataObject
) -> None:
    acd_, at, taken = Acd(policy), 0.0, Taken()
    for _ in range(steps):
        at = next_time(data, at)
        check_event(acd_, draw_event(data, acd_, at), taken)
