"""The ACD (automatic call distributor) as a sans-I/O state machine, after h11.

``Acd.handle(event) -> list[Decision]``: events (acd/events.py) in, decisions out. No clock, no
sockets, no asyncio: time arrives as the ``at`` of each event.

Rules
-----
Agents (``AGENT_TRANSITIONS`` is the whole table; an agent not logged in is ``logged_out`` and
is not kept):

- ``AgentLoggedIn`` -> ``not_ready`` (reason ``login``). Skills are (name, level 1..10) pairs;
  level 1 is the best (as in the roster files: ``zh:1;social:2``).
- ``AgentReady`` from ``not_ready`` or ``wrap_up`` -> ``ready``.
- ``AgentNotReady`` from ``ready``, ``not_ready`` or ``wrap_up`` -> ``not_ready`` (the reason
  given). Refused while ``ringing`` or ``on_call``: the call has to end first.
- ``AgentLoggedOut`` from ``ready``, ``not_ready`` or ``wrap_up``; refused with a call.
- Offering a call: ``ready`` -> ``ringing``. ``AgentAnswered`` -> ``on_call``.
  ``OfferFailed`` (ring-no-answer, originate failed) -> ``not_ready`` (``ring_no_answer``), so
  an absent agent is not rung again and again. ``CallerHungUp`` while ringing -> ``ready``.
- ``CallEnded`` -> ``wrap_up`` (``ready`` at once when ``policy.wrapup_s`` is 0); a ``Tick``
  at least ``wrapup_s`` after wrap-up began -> ``ready``, idle since the moment it ended.
- Every change of an agent's state (or not-ready reason) emits ``AgentStateChanged``.

Calls (``CALL_TRANSITIONS``): ``waiting`` -> ``offered`` -> ``answered``; gone on
``CallerHungUp`` (waiting or offered: ``CallAbandoned``; offered also ``CancelOffer``) or
``CallEnded``. ``CallerHungUp`` of an answered call is ignored: it ends through ``CallEnded``.
``OfferFailed`` puts the call back to ``waiting`` with its original queue sequence, so it is
ahead of every call of its priority queued after it, and it is offered to another agent.

Matching runs after every change that can free an agent or add a call. Waiting calls are taken
in service order (priority, higher first; then the queue sequence, FIFO) and each goes to the
ready agent with its skill at the best level (lowest number), then the longest idle, then the lowest
agent_id (so the outcome never depends on dict order). A call whose skill has no ready agent
does not hold up later calls of other skills. An agent has at most one call at a time.

An event that does not fit raises ``AcdError`` and changes nothing: every handler checks all
its preconditions before it changes anything, and what follows the checks cannot fail.
``snapshot()`` / ``restore()`` carry the complete state, queue order and sequence counter
included, as plain JSON.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from acd.events import (
    AgentAnswered,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentNotReady,
    AgentReady,
    AgentState,
    AgentStateChanged,
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallerHungUp,
    CallQueued,
    CancelOffer,
    Decision,
    Event,
    OfferCall,
    OfferFailed,
    Tick,
)

SNAPSHOT_VERSION = 1
MIN_LEVEL, MAX_LEVEL = 1, 10


class AcdError(ValueError):
    """An event that does not fit the current state; the ACD is unchanged."""


@dataclass(frozen=True)
class AcdPolicy:
    ring_timeout_s: float = 15.0
    wrapup_s: float = 10.0

    def __post_init__(self) -> None:
        if not self.ring_timeout_s > 0:
            raise ValueError(f"ring_timeout_s must be > 0, not {self.ring_timeout_s}")
        if not self.wrapup_s >= 0:
            raise ValueError(f"wrapup_s must be >= 0, not {self.wrapup_s}")

    @classmethod
    def from_config(cls, acd_cfg: Any) -> AcdPolicy:
        return cls(ring_timeout_s=float(acd_cfg.ring_timeout_s), wrapup_s=float(acd_cfg.wrapup_s))


class CallState(enum.StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"
    ANSWERED = "answered"


# --- transition tables ------------------------------------------------------------------------

# Transitions the core makes on its own, named like events in the tables.
OFFER = "offer"
Trigger: TypeAlias = type[Event] | str

A = AgentState
AGENT_TRANSITIONS: dict[tuple[AgentState, Trigger], AgentState] = {
    (A.LOGGED_OUT, AgentLoggedIn): A.NOT_READY,
    (A.NOT_READY, AgentReady): A.READY,
    (A.WRAP_UP, AgentReady): A.READY,
    (A.READY, AgentNotReady): A.NOT_READY,
    (A.NOT_READY, AgentNotReady): A.NOT_READY,
    (A.WRAP_UP, AgentNotReady): A.NOT_READY,
    (A.READY, AgentLoggedOut): A.LOGGED_OUT,
    (A.NOT_READY, AgentLoggedOut): A.LOGGED_OUT,
    (A.WRAP_UP, AgentLoggedOut): A.LOGGED_OUT,
    (A.READY, OFFER): A.RINGING,
    (A.RINGING, OfferFailed): A.NOT_READY,
    (A.RINGING, CallerHungUp): A.READY,
    (A.RINGING, AgentAnswered): A.ON_CALL,
    (A.ON_CALL, CallEnded): A.WRAP_UP,  # READY at once when policy.wrapup_s == 0
    (A.WRAP_UP, Tick): A.READY,
}
del A

C = CallState
# None: the call is not (or no longer) in the ACD.
CALL_TRANSITIONS: dict[tuple[CallState | None, Trigger], CallState | None] = {
    (None, CallQueued): C.WAITING,
    (C.WAITING, OFFER): C.OFFERED,
    (C.WAITING, CallerHungUp): None,
    (C.OFFERED, OfferFailed): C.WAITING,
    (C.OFFERED, AgentAnswered): C.ANSWERED,
    (C.OFFERED, CallerHungUp): None,
    (C.ANSWERED, CallerHungUp): C.ANSWERED,  # ignored: the call ends through CallEnded
    (C.ANSWERED, CallEnded): None,
}
del C


def _name(trigger: Trigger) -> str:
    return trigger if isinstance(trigger, str) else trigger.__name__


def _allowed_from(table: Mapping[tuple[Any, Trigger], Any], trigger: Trigger) -> str:
    states = [str(state) for state, t in table if t == trigger]
    return " or ".join(states) or "no state"


# --- state records and the views served as JSON -----------------------------------------------


@dataclass(slots=True)
class _Agent:
    agent_id: str
    seat: str
    skills: tuple[tuple[str, int], ...]
    state: AgentState
    reason: str
    since: float  # when the current state began
    idle_since: float  # when the agent last became ready: "longest idle" goes first
    call_id: str | None = None  # while ringing or on_call

    def level(self, skill: str) -> int:
        return next((level for name, level in self.skills if name == skill), 0)


@dataclass(slots=True)
class _Call:
    call_id: str
    skill: str
    priority: int
    caller: str
    channel: str
    queued_at: float
    seq: int  # queue order within a priority; kept when an offer fails
    state: CallState
    agent_id: str | None = None  # while offered or answered

    def order(self) -> tuple[int, int]:
        return (-self.priority, self.seq)


@dataclass(frozen=True, slots=True)
class WaitingCallView:
    call_id: str
    skill: str
    priority: int
    caller: str
    channel: str
    queued_at: float
    state: CallState
    agent_id: str | None


@dataclass(frozen=True, slots=True)
class AgentView:
    agent_id: str
    seat: str
    skills: tuple[tuple[str, int], ...]
    state: AgentState
    reason: str
    since: float
    call_id: str | None


def _waited(at: float, queued_at: float) -> float:
    # Event times come from different clocks (AMI, the engine); never report a negative wait.
    return max(0.0, at - queued_at)


def _check_skills(agent_id: str, skills: Any) -> None:
    seen: set[str] = set()
    for pair in skills:
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise AcdError(f"agent {agent_id!r}: skill {pair!r} is not a (name, level) pair")
        name, level = pair
        if not isinstance(name, str) or not name:
            raise AcdError(f"agent {agent_id!r}: skill name {name!r} is not a non-empty string")
        if isinstance(level, bool) or not isinstance(level, int):
            raise AcdError(f"agent {agent_id!r}: skill {name!r} level {level!r} is not an int")
        if not MIN_LEVEL <= level <= MAX_LEVEL:
            raise AcdError(
                f"agent {agent_id!r}: skill {name!r} level {level} is outside "
                f"{MIN_LEVEL}..{MAX_LEVEL}"
            )
        if name in seen:
            raise AcdError(f"agent {agent_id!r}: skill {name!r} is given twice")
        seen.add(name)


# --- the machine ------------------------------------------------------------------------------


class Acd:
    def __init__(self, policy: AcdPolicy | None = None) -> None:
        self._policy = policy if policy is not None else AcdPolicy()
        self._agents: dict[str, _Agent] = {}
        self._calls: dict[str, _Call] = {}
        self._next_seq = 0

    @property
    def policy(self) -> AcdPolicy:
        return self._policy

    # -- events in -----------------------------------------------------------------------------
    def handle(self, event: Event) -> list[Decision]:
        """Apply one event; the decisions to carry out, in order. AcdError: nothing changed."""
        at = getattr(event, "at", None)
        if isinstance(at, bool) or not isinstance(at, int | float) or not math.isfinite(at):
            raise AcdError(f"{type(event).__name__}: 'at' must be a finite number, not {at!r}")
        match event:
            case AgentLoggedIn():
                return self._logged_in(event)
            case AgentLoggedOut():
                return self._logged_out(event)
            case AgentReady():
                return self._ready(event)
            case AgentNotReady():
                return self._not_ready(event)
            case CallQueued():
                return self._queued(event)
            case CallerHungUp():
                return self._caller_hung_up(event)
            case OfferFailed():
                return self._offer_failed(event)
            case AgentAnswered():
                return self._answered(event)
            case CallEnded():
                return self._ended(event)
            case Tick():
                return self._tick(event)
        raise AcdError(f"not an ACD event: {event!r}")

    def _logged_in(self, e: AgentLoggedIn) -> list[Decision]:
        if not isinstance(e.agent_id, str) or not e.agent_id:
            raise AcdError(f"agent id {e.agent_id!r} is not a non-empty string")
        if e.agent_id in self._agents:
            current = self._agents[e.agent_id].state
            raise AcdError(f"agent {e.agent_id!r} is already logged in ({current})")
        _check_skills(e.agent_id, e.skills)
        state = self._target(AgentState.LOGGED_OUT, AgentLoggedIn, e.agent_id)
        agent = _Agent(e.agent_id, e.seat, tuple(e.skills), AgentState.LOGGED_OUT, "", e.at, e.at)
        self._agents[e.agent_id] = agent
        out: list[Decision] = []
        self._move(agent, state, "login", e.at, out)
        return out

    def _logged_out(self, e: AgentLoggedOut) -> list[Decision]:
        agent = self._agent(e.agent_id)
        state = self._target(agent.state, AgentLoggedOut, e.agent_id)
        out: list[Decision] = []
        self._move(agent, state, "logout", e.at, out)
        del self._agents[e.agent_id]
        return out

    def _ready(self, e: AgentReady) -> list[Decision]:
        agent = self._agent(e.agent_id)
        state = self._target(agent.state, AgentReady, e.agent_id)
        out: list[Decision] = []
        self._move(agent, state, "ready", e.at, out)
        self._match(e.at, out)
        return out

    def _not_ready(self, e: AgentNotReady) -> list[Decision]:
        agent = self._agent(e.agent_id)
        state = self._target(agent.state, AgentNotReady, e.agent_id)
        out: list[Decision] = []
        self._move(agent, state, e.reason, e.at, out)
        return out  # an agent leaving ready frees nothing: no matching

    def _queued(self, e: CallQueued) -> list[Decision]:
        if not isinstance(e.call_id, str) or not e.call_id:
            raise AcdError(f"call id {e.call_id!r} is not a non-empty string")
        if e.call_id in self._calls:
            known = self._calls[e.call_id]
            raise AcdError(f"call {e.call_id!r} is already in the ACD ({known.state})")
        if isinstance(e.priority, bool) or not isinstance(e.priority, int):
            raise AcdError(f"call {e.call_id!r}: priority {e.priority!r} is not an int")
        state = self._call_target(None, CallQueued, e.call_id)
        assert state is not None
        self._calls[e.call_id] = _Call(
            e.call_id, e.skill, e.priority, e.caller, e.channel, e.at, self._next_seq, state
        )
        self._next_seq += 1
        out: list[Decision] = []
        self._match(e.at, out)
        return out

    def _caller_hung_up(self, e: CallerHungUp) -> list[Decision]:
        call = self._call(e.call_id)
        after = self._call_target(call.state, CallerHungUp, e.call_id)
        if after is not None:
            return []  # answered: the agent's hang-up ends it (CallEnded)
        out: list[Decision] = []
        if call.state is CallState.OFFERED:
            assert call.agent_id is not None
            agent = self._agents[call.agent_id]
            state = self._target(agent.state, CallerHungUp, agent.agent_id)
            del self._calls[call.call_id]
            out.append(CancelOffer(call_id=call.call_id, agent_id=agent.agent_id))
            self._move(agent, state, "caller_hung_up", e.at, out)
        else:
            del self._calls[call.call_id]
        out.append(
            CallAbandoned(call_id=call.call_id, waited_s=_waited(e.at, call.queued_at), at=e.at)
        )
        self._match(e.at, out)
        return out

    def _offer_failed(self, e: OfferFailed) -> list[Decision]:
        call, agent = self._offered_pair(e.call_id, e.agent_id, OfferFailed)
        call_state = self._call_target(call.state, OfferFailed, call.call_id)
        agent_state = self._target(agent.state, OfferFailed, agent.agent_id)
        assert call_state is not None
        call.state, call.agent_id = call_state, None  # keeps its seq: first again in its band
        out: list[Decision] = []
        self._move(agent, agent_state, "ring_no_answer", e.at, out)
        self._match(e.at, out)
        return out

    def _answered(self, e: AgentAnswered) -> list[Decision]:
        call, agent = self._offered_pair(e.call_id, e.agent_id, AgentAnswered)
        call_state = self._call_target(call.state, AgentAnswered, call.call_id)
        agent_state = self._target(agent.state, AgentAnswered, agent.agent_id)
        assert call_state is not None
        call.state = call_state
        out: list[Decision] = []
        self._move(agent, agent_state, "answered", e.at, out, call_id=call.call_id)
        out.append(
            CallAnswered(
                call_id=call.call_id,
                agent_id=agent.agent_id,
                waited_s=_waited(e.at, call.queued_at),
                at=e.at,
            )
        )
        return out

    def _ended(self, e: CallEnded) -> list[Decision]:
        call = self._call(e.call_id)
        if call.agent_id != e.agent_id:
            raise AcdError(
                f"call {e.call_id!r} is not with agent {e.agent_id!r} "
                f"(it is {call.state}, agent {call.agent_id!r})"
            )
        self._call_target(call.state, CallEnded, call.call_id)
        agent = self._agent(e.agent_id)
        state = self._target(agent.state, CallEnded, agent.agent_id)
        if self._policy.wrapup_s <= 0:
            state = AgentState.READY
        del self._calls[call.call_id]
        out: list[Decision] = []
        self._move(agent, state, "call_ended", e.at, out)
        self._match(e.at, out)
        return out

    def _tick(self, e: Tick) -> list[Decision]:
        wrapup = self._policy.wrapup_s
        done = sorted(
            (a for a in self._agents.values()
             if a.state is AgentState.WRAP_UP and e.at - a.since >= wrapup),
            key=lambda a: (a.since, a.agent_id),
        )  # fmt: skip
        out: list[Decision] = []
        for agent in done:
            state = self._target(agent.state, Tick, agent.agent_id)
            # Idle from when wrap-up really ended, not from the tick that noticed it, so the
            # agent who finished first is offered first whatever the tick interval.
            self._move(agent, state, "wrap_up_done", min(e.at, agent.since + wrapup), out)
        if done:
            self._match(e.at, out)
        return out

    # -- lookups that raise AcdError -------------------------------------------------------------
    def _agent(self, agent_id: str) -> _Agent:
        agent = self._agents.get(agent_id)
        if agent is None:
            raise AcdError(f"agent {agent_id!r} is not logged in")
        return agent

    def _call(self, call_id: str) -> _Call:
        call = self._calls.get(call_id)
        if call is None:
            raise AcdError(f"call {call_id!r} is not in the ACD")
        return call

    def _offered_pair(self, call_id: str, agent_id: str, trigger: Trigger) -> tuple[_Call, _Agent]:
        call = self._call(call_id)
        if call.state is not CallState.OFFERED or call.agent_id != agent_id:
            raise AcdError(
                f"{_name(trigger)}: call {call_id!r} is not ringing agent {agent_id!r} "
                f"(it is {call.state}, agent {call.agent_id!r})"
            )
        return call, self._agent(agent_id)

    @staticmethod
    def _target(state: AgentState, trigger: Trigger, agent_id: str) -> AgentState:
        target = AGENT_TRANSITIONS.get((state, trigger))
        if target is None:
            raise AcdError(
                f"agent {agent_id!r} is {state}: {_name(trigger)} is allowed only when "
                f"{_allowed_from(AGENT_TRANSITIONS, trigger)}"
            )
        return target

    @staticmethod
    def _call_target(state: CallState | None, trigger: Trigger, call_id: str) -> CallState | None:
        key = (state, trigger)
        if key not in CALL_TRANSITIONS:
            raise AcdError(
                f"call {call_id!r} is {state or 'unknown'}: {_name(trigger)} is allowed only "
                f"when {_allowed_from(CALL_TRANSITIONS, trigger)}"
            )
        return CALL_TRANSITIONS[key]

    # -- changes that cannot fail --------------------------------------------------------------
    def _move(
        self,
        agent: _Agent,
        state: AgentState,
        reason: str,
        at: float,
        out: list[Decision],
        *,
        call_id: str | None = None,
    ) -> None:
        agent.state, agent.reason, agent.since, agent.call_id = state, reason, at, call_id
        if state is AgentState.READY:
            agent.idle_since = at
        out.append(AgentStateChanged(agent_id=agent.agent_id, state=state, reason=reason, at=at))

    def _match(self, at: float, out: list[Decision]) -> None:
        ready = [a for a in self._agents.values() if a.state is AgentState.READY]
        for call in self._in_service_order():
            if not ready:
                return
            if call.state is not CallState.WAITING:
                continue
            able = [a for a in ready if a.level(call.skill) > 0]
            if not able:
                continue
            agent = min(able, key=lambda a: (a.level(call.skill), a.idle_since, a.agent_id))
            ready.remove(agent)
            call.state, call.agent_id = CallState.OFFERED, agent.agent_id
            out.append(
                OfferCall(
                    call_id=call.call_id,
                    agent_id=agent.agent_id,
                    seat=agent.seat,
                    channel=call.channel,
                    caller=call.caller,
                    ring_timeout_s=self._policy.ring_timeout_s,
                )
            )
            state = self._target(agent.state, OFFER, agent.agent_id)
            self._move(agent, state, "offered", at, out, call_id=call.call_id)

    def _in_service_order(self) -> list[_Call]:
        return sorted(self._calls.values(), key=_Call.order)

    # -- views ---------------------------------------------------------------------------------
    def waiting_calls(self) -> list[WaitingCallView]:
        """Calls not yet answered (waiting, or ringing an agent), in service order."""
        return [
            WaitingCallView(
                c.call_id, c.skill, c.priority, c.caller, c.channel, c.queued_at, c.state,
                c.agent_id,
            )
            for c in self._in_service_order()
            if c.state is not CallState.ANSWERED
        ]  # fmt: skip

    def agents(self) -> list[AgentView]:
        """Logged-in agents, by agent_id."""
        return [
            AgentView(a.agent_id, a.seat, a.skills, a.state, a.reason, a.since, a.call_id)
            for a in sorted(self._agents.values(), key=lambda a: a.agent_id)
        ]

    # -- persistence ---------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Everything, as plain JSON types; ``restore`` rebuilds an identical ACD."""
        return {
            "version": SNAPSHOT_VERSION,
            "next_seq": self._next_seq,
            "agents": [
                {
                    "agent_id": a.agent_id,
                    "seat": a.seat,
                    "skills": [[name, level] for name, level in a.skills],
                    "state": a.state.value,
                    "reason": a.reason,
                    "since": a.since,
                    "idle_since": a.idle_since,
                    "call_id": a.call_id,
                }
                for a in self._agents.values()
            ],
            "calls": [
                {
                    "call_id": c.call_id,
                    "skill": c.skill,
                    "priority": c.priority,
                    "caller": c.caller,
                    "channel": c.channel,
                    "queued_at": c.queued_at,
                    "seq": c.seq,
                    "state": c.state.value,
                    "agent_id": c.agent_id,
                }
                for c in self._calls.values()
            ],
        }

    @classmethod
    def restore(cls, snap: Mapping[str, Any], policy: AcdPolicy | None = None) -> Acd:
        """The ACD a ``snapshot()`` was taken of; AcdError if it is not one."""
        if not isinstance(snap, Mapping) or snap.get("version") != SNAPSHOT_VERSION:
            version = snap.get("version") if isinstance(snap, Mapping) else None
            raise AcdError(f"not an ACD snapshot of version {SNAPSHOT_VERSION} ({version!r})")
        acd = cls(policy)
        try:
            acd._next_seq = int(snap["next_seq"])
            for a in snap["agents"]:
                skills = tuple((str(name), int(level)) for name, level in a["skills"])
                acd._agents[str(a["agent_id"])] = _Agent(
                    str(a["agent_id"]), str(a["seat"]), skills, AgentState(a["state"]),
                    str(a["reason"]), float(a["since"]), float(a["idle_since"]),
                    _opt_str(a["call_id"]),
                )  # fmt: skip
            for c in snap["calls"]:
                acd._calls[str(c["call_id"])] = _Call(
                    str(c["call_id"]), str(c["skill"]), int(c["priority"]), str(c["caller"]),
                    str(c["channel"]), float(c["queued_at"]), int(c["seq"]),
                    CallState(c["state"]), _opt_str(c["agent_id"]),
                )  # fmt: skip
        except (KeyError, TypeError, ValueError) as exc:
            raise AcdError(f"corrupt ACD snapshot: {exc!r}") from None
        acd._check_consistent()
        return acd

    def _check_consistent(self) -> None:
        """A ringing/on-call agent and its offered/answered call point at each other."""
        for agent in self._agents.values():
            if agent.state in (AgentState.RINGING, AgentState.ON_CALL):
                call = self._calls.get(agent.call_id or "")
                ringing = agent.state is AgentState.RINGING
                want = CallState.OFFERED if ringing else CallState.ANSWERED
                if call is None or call.state is not want or call.agent_id != agent.agent_id:
                    raise AcdError(f"corrupt ACD snapshot: agent {agent.agent_id!r} {agent.state} "
                                   f"without its call {agent.call_id!r}")  # fmt: skip
            elif agent.call_id is not None or agent.state is AgentState.LOGGED_OUT:
                raise AcdError(f"corrupt ACD snapshot: agent {agent.agent_id!r} is {agent.state} "
                               f"with call {agent.call_id!r}")  # fmt: skip
        seqs: set[int] = set()
        for call in self._calls.values():
            owner = self._agents.get(call.agent_id or "")
            has_agent = call.state is not CallState.WAITING
            if has_agent and (owner is None or owner.call_id != call.call_id):
                raise AcdError(f"corrupt ACD snapshot: call {call.call_id!r} {call.state} "
                               f"without its agent {call.agent_id!r}")  # fmt: skip
            if not has_agent and call.agent_id is not None:
                raise AcdError(f"corrupt ACD snapshot: waiting call {call.call_id!r} has an agent")
            if not 0 <= call.seq < self._next_seq or call.seq in seqs:
                raise AcdError(f"corrupt ACD snapshot: call {call.call_id!r} seq {call.seq}")
            seqs.add(call.seq)


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)
