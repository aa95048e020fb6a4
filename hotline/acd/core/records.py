"""The ACD's state records (one agent, one call), the call states, and the views served as JSON.

The records are mutable and private to the core; the views are frozen copies for the adapter.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, TypeAlias

from hotline.acd.core.policy import MAX_LEVEL, MIN_LEVEL, AcdError
from hotline.acd.events import AgentState


class CallState(enum.StrEnum):
    WAITING = "waiting"  # a live caller in the queue
    OFFERED = "offered"  # ringing an agent
    ANSWERED = "answered"  # talking to an agent
    CALLBACK = "callback"  # the caller accepted a callback and hung up; keeps its place
    MISSED = "missed"  # on the missed-call list (漏接回拨)
    CALLING = "calling"  # a callback being placed: agent first, then the citizen


QUEUED = frozenset({CallState.WAITING, CallState.CALLBACK, CallState.MISSED})
BUSY = frozenset({AgentState.RINGING, AgentState.ON_CALL})
CALLBACKS = frozenset({CallState.CALLBACK, CallState.MISSED, CallState.CALLING})
WITH_AGENT = frozenset({CallState.OFFERED, CallState.CALLING, CallState.ANSWERED})
WORKING = frozenset({AgentState.READY, AgentState.RINGING, AgentState.ON_CALL, AgentState.WRAP_UP})


@dataclass(slots=True)
class Agent:
    agent_id: str
    seat: str
    skills: tuple[tuple[str, int], ...]
    state: AgentState
    reason: str
    since: float  # when the current state began
    idle_since: float  # when the agent last became ready: "longest idle" goes first
    call_id: str | None = None  # while ringing or on_call
    free_at: float = 0.0  # when the agent is expected to be free (EWT): set on every move
    names: tuple[str, ...] = ()  # the skill names, derived from skills
    phone_busy: bool = False  # on a call the ACD did not place (AgentPhoneBusy)
    after_call: str | None = None  # not ready after this call, with this reason

    def level(self, skill: str) -> int:
        return next((level for name, level in self.skills if name == skill), 0)


@dataclass(slots=True)
class Call:
    call_id: str
    skill: str
    priority: int
    caller: str
    channel: str
    queued_at: float
    seq: int  # queue order within a priority; kept when an offer fails, reused on rejoin
    state: CallState
    agent_id: str | None = None  # while offered, calling or answered
    preferred_agent: str | None = None
    number: str = ""  # where a callback is placed
    missed: bool = False  # came from the missed-call list
    attempts: int = 0  # failed callback attempts
    retry_at: float | None = None  # no callback attempt before
    widened: bool = False
    overflowed: bool = False
    sticky_over: bool = False
    callback_offered: bool = False
    announced_at: float | None = None  # the last announcement (its slot on the cadence)
    key: tuple[int, int, int] = (0, 0, 0)  # service order, derived (Acd._key)


@dataclass(slots=True)
class Abandon:
    call_id: str
    seq: int
    at: float


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
    # In the queue (waiting, callback, missed): 1 + competing calls ahead, and the EWT (None:
    # no agent works with the skill). 0 and 0.0 for a call that has an agent (offered, calling).
    position: int = 0
    ewt_s: float | None = 0.0


@dataclass(frozen=True, slots=True)
class AgentView:
    agent_id: str
    seat: str
    skills: tuple[tuple[str, int], ...]
    state: AgentState
    reason: str
    since: float
    call_id: str | None
    after_call: str | None = None  # not ready after this call, with this reason


def agent_view(a: Agent) -> AgentView:
    return AgentView(
        a.agent_id, a.seat, a.skills, a.state, a.reason, a.since, a.call_id, a.after_call
    )


def waited_since(at: float, queued_at: float) -> float:
    # Event times come from different clocks (AMI, the engine); never report a negative wait.
    return max(0.0, at - queued_at)


def check_skills(agent_id: str, skills: Any) -> None:
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


def is_name(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


Rank: TypeAlias = tuple[int, int, int, float, str]
Estimates: TypeAlias = dict[str, tuple[int, float | None]]


def by_key(call: Call) -> tuple[int, int, int]:
    return call.key


def opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def strict_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{value!r} is not a boolean")
    return value
