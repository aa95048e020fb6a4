"""What goes into the ACD core (events) and what comes out of it (decisions).

Small immutable records, like h11's events: the core never reads a clock, so every event that
can change time-dependent state carries its own ``at`` (epoch seconds, float). Decisions are
what the caller must carry out (ring a phone, cancel a ring, place a callback, play an
announcement, send a caller to voicemail) or record (state changes, estimates).

Fields added after the first version have defaults, so existing producers keep working; a
consumer that does not know a decision type may ignore it.
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
    skills: tuple[tuple[str, int], ...]  # (skill, level 1..10; 1 is the best)
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
class AgentPhoneBusy:
    """The agent's phone rings or talks on a call the ACD did not place (a call transferred to
    the seat, a call the agent dialled): no ACD call is offered until it is free again."""

    agent_id: str
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentPhoneFree:
    """The agent's phone is idle again (after a call the ACD did not place)."""

    agent_id: str
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CallQueued:
    call_id: str
    skill: str
    priority: int  # higher is served first
    caller: str
    channel: str  # the caller's Asterisk channel, bridged to the agent leg
    at: float
    # Sticky routing: the agent who handled the caller's open ticket. Offered only to that
    # agent (if logged in) for up to policy.sticky_wait_s, and first to them after that.
    preferred_agent: str | None = None


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
    """Time passes: ends wrap-up periods that are over, applies the wait thresholds, plays
    the announcements that are due, forgets old abandons."""

    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CallbackAccepted:
    """The waiting caller chose to be called back (e.g. after ``OfferCallback``) and hangs up;
    the call keeps its place in the queue and is placed to ``number`` when its turn comes."""

    call_id: str
    number: str
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CallbackConnected:
    """The citizen answered the callback placed by ``PlaceCallback``: the agent is on the call."""

    call_id: str
    agent_id: str
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CallbackFailed:
    """The citizen's leg of a callback failed (no answer, busy, rejected): one attempt used.

    A failure of the agent's own leg (the agent did not answer) is ``OfferFailed`` instead: it
    makes the agent not ready and uses no attempt."""

    call_id: str
    agent_id: str
    reason: str
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CallNeedChanged:
    """The IVR learned more while the caller waited (the sentence they said, a key for
    English): the call needs ``skill`` at ``priority`` from now on. It keeps its place in time
    (queue sequence and wait); an offer already ringing stands."""

    call_id: str
    skill: str
    priority: int
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CallWithdrawn:
    """The caller left the queue on purpose, not by hanging up: an emergency sent on to
    110/119/120/122, or a caller who chose to leave a message. Not an abandon: no missed-call
    callback and no old place to rejoin."""

    call_id: str
    reason: str
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CallbacksPaused:
    """Stop placing callbacks (e.g. outside working hours); calls that are already being
    placed go on."""

    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CallbacksResumed:
    at: float


Event: TypeAlias = (
    AgentLoggedIn | AgentLoggedOut | AgentReady | AgentNotReady | CallQueued | CallerHungUp
    | OfferFailed | AgentAnswered | CallEnded | Tick | CallbackAccepted | CallbackConnected
    | CallbackFailed | CallbacksPaused | CallbacksResumed | CallNeedChanged | CallWithdrawn
    | AgentPhoneBusy | AgentPhoneFree
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


@dataclass(frozen=True, slots=True, kw_only=True)
class CallEstimate:
    """The estimate given when the call joined the queue, to measure against its actual wait.

    ``position`` counts the calls ahead that compete for the same agents (1: next);
    ``ewt_s`` is None when no agent with the skill is working."""

    call_id: str
    position: int
    ewt_s: float | None
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class AnnouncePosition:
    """Tell the waiting caller their position and estimated wait."""

    call_id: str
    position: int
    ewt_s: float | None
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class OfferCallback:
    """Ask the waiting caller whether they want to be called back instead (once per call)."""

    call_id: str
    ewt_s: float | None
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class SendToVoicemail:
    """Send the waiting caller to voicemail; the call has left the ACD."""

    call_id: str
    waited_s: float
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaceCallback:
    """Ring the agent's seat and, when the agent answers, dial the citizen at ``number``.

    The agent is reserved (ringing) until ``CallbackConnected``, ``CallbackFailed`` or
    ``OfferFailed`` (the agent did not answer)."""

    call_id: str
    agent_id: str
    seat: str
    number: str
    attempt: int  # 1 for the first attempt
    ring_timeout_s: float
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CallbackGaveUp:
    """The callback failed ``attempts`` times; the call has left the ACD."""

    call_id: str
    attempts: int
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class MissedCallListed:
    """A caller who hung up after waiting long enough is on the missed-call list (漏接回拨):
    the ACD will call ``number`` back. A ``CallAbandoned`` for the call comes just before."""

    call_id: str
    number: str
    waited_s: float
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CallbackCancelled:
    """A pending callback (accepted or missed-call, not one being placed) is dropped: the
    caller called again (``reason`` ``called_again``) and is served on the new call. The new
    call keeps the place of an accepted callback; of a missed call, only within the rejoin
    window (``policy.rejoin_within_s``)."""

    call_id: str
    reason: str
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CallLeft:
    """The call left the ACD on the caller's purpose (``CallWithdrawn``): not answered, not
    abandoned."""

    call_id: str
    reason: str
    waited_s: float
    at: float


Decision: TypeAlias = (
    OfferCall | CancelOffer | AgentStateChanged | CallAbandoned | CallAnswered | CallEstimate
    | AnnouncePosition | OfferCallback | SendToVoicemail | PlaceCallback | CallbackGaveUp
    | MissedCallListed | CallbackCancelled | CallLeft
)  # fmt: skip
