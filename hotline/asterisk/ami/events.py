"""AMI events as small immutable objects.

Only the events the engine acts on get a class; everything else parses to ``None`` and is
ignored.  A known event with missing or malformed headers raises :class:`MalformedEvent` so the
consumer can log it with its raw headers and go on: one bad event must never stop the bridge.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal


class MalformedEvent(ValueError):
    """A known AMI event whose headers do not make sense."""


@dataclass(frozen=True, slots=True)
class AmiEvent:
    at: float
    """Asterisk's own timestamp (manager.conf timestampevents), else the time it was received."""


@dataclass(frozen=True, slots=True)
class CallArrived(AmiEvent):
    call_id: str
    linked_id: str
    caller: str
    dialled: str
    channel: str


@dataclass(frozen=True, slots=True)
class IvrExited(AmiEvent):
    call_id: str
    ivr_path: str
    skill: str
    priority: int
    agi_status: str


@dataclass(frozen=True, slots=True)
class CallQueuedInAsterisk(AmiEvent):
    call_id: str
    skill: str
    priority: int
    channel: str
    caller: str
    ivr_path: str = ""
    """The IVR path so far, when the IVR queues the call itself (the direct flow): an agent
    free during the greeting cuts the IVR short, and the record still says how it came."""


@dataclass(frozen=True, slots=True)
class VoicemailStarted(AmiEvent):
    """Out of hours: the caller is leaving a message into `file` (Asterisk's path)."""

    call_id: str
    file: str


@dataclass(frozen=True, slots=True)
class EmergencyRedirected(AmiEvent):
    """The IVR heard an emergency and sent the caller to 110/119/120/122."""

    call_id: str
    dial: str


@dataclass(frozen=True, slots=True)
class SpeechHeard(AmiEvent):
    """The IVR recognised what the caller said (speech intake) and classified it."""

    call_id: str
    text: str
    subject: str
    category: str
    emergency: str


@dataclass(frozen=True, slots=True)
class CallNeedLearned(AmiEvent):
    """The IVR learned the waiting caller's need (speech, a key): route by it from now on."""

    call_id: str
    skill: str
    priority: int


@dataclass(frozen=True, slots=True)
class IvrListening(AmiEvent):
    """The direct flow's IVR listens to the queued caller's sentence until its HotlineIvrExit:
    an offer meanwhile waits for it rather than cut it off."""

    call_id: str


@dataclass(frozen=True, slots=True)
class CallLeftQueue(AmiEvent):
    """The waiting caller left the queue on purpose (an emergency, a message)."""

    call_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class SatisfactionGiven(AmiEvent):
    """一次一评: the caller answered the after-call question (hotline/followup/flows.py)."""

    call_id: str
    answer: str
    """satisfied, basic, unsatisfied, or none (no key, or a key that means nothing)."""


@dataclass(frozen=True, slots=True)
class HandoffEnded(AmiEvent):
    """The leg to an emergency service or a transfer target ended: how Dial() went."""

    call_id: str
    dial_status: str


@dataclass(frozen=True, slots=True)
class ReviewCallbackResult(AmiEvent):
    """A reviewer's callback to a citizen who left a voicemail: how the citizen's leg went."""

    call_id: str
    attempt: int
    dial_status: str


@dataclass(frozen=True, slots=True)
class CallbackAcceptedInIvr(AmiEvent):
    """The waiting caller pressed 1 for a callback that keeps their place."""

    call_id: str
    number: str


@dataclass(frozen=True, slots=True)
class CallbackLegConnected(AmiEvent):
    """A callback reached the citizen: agent and citizen are talking."""

    call_id: str
    agent_id: str
    leg_id: str


@dataclass(frozen=True, slots=True)
class CallbackLegFailed(AmiEvent):
    """The agent answered but the citizen's phone did not (busy, no answer, ...)."""

    call_id: str
    agent_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class AgentLegRinging(AmiEvent):
    """The caller's Dial made the agent's channel (its pre-dial handler): the agent's phone
    rings; ``leg_id`` is the engine's id of the offer, ``unique_id`` the channel's."""

    call_id: str
    agent_id: str
    leg_id: str
    channel: str
    unique_id: str


@dataclass(frozen=True, slots=True)
class AgentLegAnswered(AmiEvent):
    call_id: str
    agent_id: str
    channel: str
    unique_id: str
    leg_id: str = ""
    """The engine's id of the offer ("" from a dialplan older than the caller's Dial)."""


@dataclass(frozen=True, slots=True)
class OfferNotAnswered(AmiEvent):
    """The caller's Dial to the agent ended unanswered (``dial_status``: NOANSWER, BUSY,
    CHANUNAVAIL, CONGESTION, ...); the caller is back on hold."""

    call_id: str
    agent_id: str
    leg_id: str
    dial_status: str


@dataclass(frozen=True, slots=True)
class RecordingStarted(AmiEvent):
    """MixMonitor started on an answered call's agent leg (recordings/ stores the metadata)."""

    call_id: str
    agent_id: str
    kind: str
    path: str  # relative to the recordings store: calls/YYYY/MM/DD/<call>-<agent>.wav


@dataclass(frozen=True, slots=True)
class ChannelHungUp(AmiEvent):
    unique_id: str
    linked_id: str
    channel: str
    cause: int
    cause_text: str


@dataclass(frozen=True, slots=True)
class ChannelCreated(AmiEvent):
    """A new channel (Newchannel): on an agent's seat it may be a call the ACD did not place."""

    unique_id: str
    linked_id: str
    channel: str


@dataclass(frozen=True, slots=True)
class AsteriskBooted(AmiEvent):
    pass


@dataclass(frozen=True, slots=True)
class AsteriskShutdown(AmiEvent):
    pass


def _last(value: Any) -> Any:
    # A UserEvent raised on a channel carries the channel's snapshot headers first and our body
    # headers after them; panoramisk turns a repeated header into a list. Ours is the last one.
    if isinstance(value, list) and value:
        return value[-1]
    return value


def _req(headers: Mapping[str, Any], key: str) -> str:
    value = _last(headers.get(key))
    if not isinstance(value, str) or not value.strip():
        raise MalformedEvent(f"missing header {key}")
    return value.strip()


def _opt(headers: Mapping[str, Any], key: str, default: str = "") -> str:
    value = _last(headers.get(key, default))
    return value.strip() if isinstance(value, str) else default


def _int(headers: Mapping[str, Any], key: str, default: int = 0) -> int:
    raw = _opt(headers, key)
    if raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise MalformedEvent(f"header {key}={raw!r} is not an integer") from None


@dataclass(frozen=True, slots=True)
class _Field:
    """One field of a typed event and the AMI header it comes from."""

    name: str
    header: str
    kind: Literal["required", "text", "int"] = "text"
    default: str = ""
    """For ``text``: the value when the header is missing or empty."""

    def read(self, h: Mapping[str, Any]) -> str | int:
        if self.kind == "required":
            return _req(h, self.header)
        if self.kind == "int":
            return _int(h, self.header)
        return _opt(h, self.header) or self.default


def _required(name: str, header: str) -> _Field:
    return _Field(name, header, "required")


def _text(name: str, header: str, default: str = "") -> _Field:
    return _Field(name, header, "text", default)


def _number(name: str, header: str) -> _Field:
    return _Field(name, header, "int")


_CALL_ID = _required("call_id", "CallId")

# Each event the engine reads, as data: its class and where each field comes from (header
# names as the dialplan writes them; AMI matches them case-insensitively). A required header
# that is missing or blank makes the event malformed; an integer that is not one, too.
_USER_EVENTS: dict[str, tuple[type[AmiEvent], tuple[_Field, ...]]] = {
    "hotlinearrived": (CallArrived, (
        _CALL_ID, _text("linked_id", "LinkedId"), _text("caller", "Caller"),
        _text("dialled", "Dialled"), _required("channel", "Channel"),
    )),
    "hotlineivrexit": (IvrExited, (
        _CALL_ID, _text("ivr_path", "IvrPath"), _text("skill", "Skill"),
        _number("priority", "CallPriority"), _text("agi_status", "AgiStatus"),
    )),
    "hotlinequeued": (CallQueuedInAsterisk, (
        _CALL_ID, _required("skill", "Skill"), _number("priority", "CallPriority"),
        _required("channel", "Channel"), _text("caller", "Caller"), _text("ivr_path", "IvrPath"),
    )),
    "hotlineagentanswered": (AgentLegAnswered, (
        _CALL_ID, _required("agent_id", "Agent"), _required("channel", "Channel"),
        _required("unique_id", "Uniqueid"), _text("leg_id", "Leg"),
    )),
    "hotlineagentringing": (AgentLegRinging, (
        _CALL_ID, _required("agent_id", "Agent"), _required("leg_id", "Leg"),
        _required("channel", "Channel"), _required("unique_id", "Uniqueid"),
    )),
    "hotlineofferfailed": (OfferNotAnswered, (
        _CALL_ID, _required("agent_id", "Agent"), _text("leg_id", "Leg"),
        _text("dial_status", "DialStatus", "FAILED"),
    )),
    "hotlinevoicemail": (VoicemailStarted, (_CALL_ID, _required("file", "File"))),
    "hotlinerecording": (RecordingStarted, (
        _CALL_ID, _text("agent_id", "Agent"), _text("kind", "Kind", "call"),
        _required("path", "Path"),
    )),
    "hotlinecallbackaccepted": (CallbackAcceptedInIvr, (_CALL_ID, _text("number", "Number"))),
    "hotlineemergency": (EmergencyRedirected, (_CALL_ID, _text("dial", "Dial"))),
    "hotlinecallbackconnected": (CallbackLegConnected, (
        _CALL_ID, _required("agent_id", "Agent"), _required("leg_id", "Leg"),
    )),
    "hotlinecallbackfailed": (CallbackLegFailed, (
        _CALL_ID, _required("agent_id", "Agent"), _text("reason", "Reason", "failed"),
    )),
    "hotlinespeech": (SpeechHeard, (
        _CALL_ID, _text("text", "Text"), _text("subject", "Subject"),
        _text("category", "Category"), _text("emergency", "Emergency"),
    )),
    "hotlinereviewcallback": (ReviewCallbackResult, (
        _CALL_ID, _number("attempt", "Attempt"), _text("dial_status", "Outcome", "FAILED"),
    )),
    "hotlineneed": (CallNeedLearned, (
        _CALL_ID, _required("skill", "Skill"), _number("priority", "CallPriority"),
    )),
    "hotlinelistening": (IvrListening, (_CALL_ID,)),
    "hotlineleftqueue": (CallLeftQueue, (_CALL_ID, _text("reason", "Reason", "left"))),
    "hotlinesatisfaction": (SatisfactionGiven, (_CALL_ID, _text("answer", "Answer"))),
    "hotlinehandoffended": (HandoffEnded, (_CALL_ID, _text("dial_status", "DialStatus"))),
}  # fmt: skip

# Asterisk's own events the engine reads (not UserEvents).
_AMI_EVENTS: dict[str, tuple[type[AmiEvent], tuple[_Field, ...]]] = {
    "hangup": (ChannelHungUp, (
        _required("unique_id", "Uniqueid"), _text("linked_id", "Linkedid"),
        _text("channel", "Channel"), _number("cause", "Cause"), _text("cause_text", "Cause-txt"),
    )),
    "newchannel": (ChannelCreated, (
        _required("unique_id", "Uniqueid"), _text("linked_id", "Linkedid"),
        _required("channel", "Channel"),
    )),
    "fullybooted": (AsteriskBooted, ()),
    "shutdown": (AsteriskShutdown, ()),
}  # fmt: skip


def _build(
    spec: tuple[type[AmiEvent], tuple[_Field, ...]], h: Mapping[str, Any], at: float
) -> AmiEvent:
    cls, fields = spec
    return cls(at, **{f.name: f.read(h) for f in fields})


# The events the engine's AMI login is sent (manager.conf's eventfilter, rendered by
# hotline/asterisk/render.py): what parse_event reads below, and OriginateResponse, which
# completes an asynchronous Originate in panoramisk. Everything else in the call class (Newstate,
# DialBegin, Bridge*, MusicOnHold*, ...) is never sent: at 300 concurrent calls Asterisk spent
# near a full core, and the engine half of one, on events nobody read. FullyBooted is written
# to the session at log-in, outside the filters; Shutdown is in the system class we never read.
ENGINE_EVENTS = ("Newchannel", "Hangup", "OriginateResponse")
ENGINE_USER_EVENT_PREFIX = "Hotline"


def parse_event(headers: Mapping[str, Any], received_at: float) -> AmiEvent | None:
    """Turn one AMI event (header name -> value) into a typed event, or ``None`` if we ignore it.

    Header names are matched case-insensitively, as AMI itself does.
    """
    h = {str(k).lower(): v for k, v in headers.items()}
    lowered = _Lower(h)
    name = lowered.get("Event")
    if not isinstance(name, str):
        raise MalformedEvent("no Event header")
    at = _timestamp(lowered, received_at)
    kind = name.strip().lower()
    if kind == "userevent":
        spec = _USER_EVENTS.get(_opt(lowered, "UserEvent").lower())
    else:
        spec = _AMI_EVENTS.get(kind)
    return _build(spec, lowered, at) if spec is not None else None


class _Lower(dict[str, Any]):
    """Case-insensitive read access over already-lowered keys."""

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


def _timestamp(h: Mapping[str, Any], received_at: float) -> float:
    raw = h.get("Timestamp")
    if isinstance(raw, str):
        try:
            at = float(raw)
        except ValueError:
            return received_at
        if math.isfinite(at):  # "nan" or "inf" would break every comparison of times
            return at
    return received_at
