"""What goes into the ACD core (events) and what comes out of it (decisions).

Small immutable records, like h11's events: the core never reads a clock, so every event that
can change time-dependent state carries its own ``at`` (epoch seconds, float). Decisions are
what the caller must carry out (ring a phone, cancel a ring) or announce (state changes).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TypeAlias


class AgentState(enum.StrEnum):
    LOGGED_OUT = "logged_out"
    READY = "ready"
    NOT_READY = "not_ready"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"


# --- events in --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentLoggedIn:
    agent_id: str
    seat: str  # dial string of the agent's phone
    skills: tuple[tuple[str, int], ...]  # (skill, level 1..10; higher is better)
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentLoggedOut:
    agent_id: str
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentReady:
    agent_id: str
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentNotReady:
    agent_id: str
    reason: str
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CallQueued:
    call_id: str
    skill: str
    priority: int  # higher is served first
    caller: str
    channel: str  # the caller's Asterisk channel, bridged to the agent leg
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CallerHungUp:
    call_id: str
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class OfferFailed:
    """The agent's phone was not answered in time, or the originate failed."""

    call_id: str
    agent_id: str
    reason: str
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentAnswered:
    call_id: str
    agent_id: str
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CallEnded:
    call_id: str
    agent_id: str
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Tick:
    """Time passes; ends wrap-up periods that are over."""

    at: float


Event: TypeAlias = (
    AgentLoggedIn | AgentLoggedOut | AgentReady | AgentNotReady | CallQueued | CallerHungUp
    | OfferFailed | AgentAnswered | CallEnded | Tick
)  # fmt: skip


# --- decisions out ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class OfferCall:
    """Ring the agent's seat and, when answered, bridge it to the caller's channel."""

    call_id: str
    agent_id: str
    seat: str
    channel: str
    caller: str
    ring_timeout_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelOffer:
    """Stop ringing the agent: the caller hung up first."""

    call_id: str
    agent_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentStateChanged:
    agent_id: str
    state: AgentState
    reason: str
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CallAbandoned:
    call_id: str
    waited_s: float
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CallAnswered:
    call_id: str
    agent_id: str
    waited_s: float
    at: float


Decision: TypeAlias = OfferCall | CancelOffer | AgentStateChanged | CallAbandoned | CallAnswered
