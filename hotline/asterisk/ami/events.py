"""AMI events as small immutable objects.

Only the events the engine acts on get a class; everything else parses to ``None`` and is
ignored.  A known event with missing or malformed headers raises :class:`MalformedEvent` so the
consumer can log it with its raw headers and go on: one bad event must never stop the bridge.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


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
    who answers during the greeting cuts the IVR short, and the record still says how it came."""


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
class CallLeftQueue(AmiEvent):
    """The waiting caller left the queue on purpose (an emergency, a message)."""

    call_id: str
    reason: str


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
class AgentLegAnswered(AmiEvent):
    call_id: str
    agent_id: str
    channel: str
    unique_id: str


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


def _call_arrived(h: Mapping[str, Any], at: float) -> AmiEvent:
    return CallArrived(
        at=at,
        call_id=_req(h, "CallId"),
        linked_id=_opt(h, "LinkedId") or _opt(h, "Linkedid"),
        caller=_opt(h, "Caller"),
        dialled=_opt(h, "Dialled"),
        channel=_req(h, "Channel"),
    )


def _ivr_exited(h: Mapping[str, Any], at: float) -> AmiEvent:
    return IvrExited(
        at=at,
        call_id=_req(h, "CallId"),
        ivr_path=_opt(h, "IvrPath"),
        skill=_opt(h, "Skill"),
        priority=_int(h, "CallPriority"),
        agi_status=_opt(h, "AgiStatus"),
    )


def _queued(h: Mapping[str, Any], at: float) -> AmiEvent:
    return CallQueuedInAsterisk(
        at=at,
        call_id=_req(h, "CallId"),
        skill=_req(h, "Skill"),
        priority=_int(h, "CallPriority"),
        channel=_req(h, "Channel"),
        caller=_opt(h, "Caller"),
        ivr_path=_opt(h, "IvrPath"),
    )


def _agent_answered(h: Mapping[str, Any], at: float) -> AmiEvent:
    return AgentLegAnswered(
        at=at,
        call_id=_req(h, "CallId"),
        agent_id=_req(h, "Agent"),
        channel=_req(h, "Channel"),
        unique_id=_req(h, "Uniqueid"),
    )


def _recording(h: Mapping[str, Any], at: float) -> AmiEvent:
    return RecordingStarted(
        at=at,
        call_id=_req(h, "CallId"),
        agent_id=_opt(h, "Agent"),
        kind=_opt(h, "Kind", "call") or "call",
        path=_req(h, "Path"),
    )


def _voicemail(h: Mapping[str, Any], at: float) -> AmiEvent:
    return VoicemailStarted(at=at, call_id=_req(h, "CallId"), file=_req(h, "File"))


def _emergency(h: Mapping[str, Any], at: float) -> AmiEvent:
    return EmergencyRedirected(at=at, call_id=_req(h, "CallId"), dial=_opt(h, "Dial"))


def _speech(h: Mapping[str, Any], at: float) -> AmiEvent:
    return SpeechHeard(
        at=at,
        call_id=_req(h, "CallId"),
        text=_opt(h, "Text"),
        subject=_opt(h, "Subject"),
        category=_opt(h, "Category"),
        emergency=_opt(h, "Emergency"),
    )


def _need(h: Mapping[str, Any], at: float) -> AmiEvent:
    return CallNeedLearned(
        at=at, call_id=_req(h, "CallId"), skill=_req(h, "Skill"), priority=_int(h, "CallPriority")
    )


def _left(h: Mapping[str, Any], at: float) -> AmiEvent:
    return CallLeftQueue(at=at, call_id=_req(h, "CallId"), reason=_opt(h, "Reason") or "left")


def _review_callback(h: Mapping[str, Any], at: float) -> AmiEvent:
    return ReviewCallbackResult(
        at=at,
        call_id=_req(h, "CallId"),
        attempt=_int(h, "Attempt"),
        dial_status=_opt(h, "Outcome") or "FAILED",
    )


def _callback_accepted(h: Mapping[str, Any], at: float) -> AmiEvent:
    return CallbackAcceptedInIvr(at=at, call_id=_req(h, "CallId"), number=_opt(h, "Number"))


def _callback_connected(h: Mapping[str, Any], at: float) -> AmiEvent:
    return CallbackLegConnected(
        at=at, call_id=_req(h, "CallId"), agent_id=_req(h, "Agent"), leg_id=_req(h, "Leg")
    )


def _callback_failed(h: Mapping[str, Any], at: float) -> AmiEvent:
    return CallbackLegFailed(
        at=at,
        call_id=_req(h, "CallId"),
        agent_id=_req(h, "Agent"),
        reason=_opt(h, "Reason") or "failed",
    )


def _hangup(h: Mapping[str, Any], at: float) -> AmiEvent:
    return ChannelHungUp(
        at=at,
        unique_id=_req(h, "Uniqueid"),
        linked_id=_opt(h, "Linkedid"),
        channel=_opt(h, "Channel"),
        cause=_int(h, "Cause"),
        cause_text=_opt(h, "Cause-txt"),
    )


def _newchannel(h: Mapping[str, Any], at: float) -> AmiEvent:
    return ChannelCreated(
        at=at,
        unique_id=_req(h, "Uniqueid"),
        linked_id=_opt(h, "Linkedid"),
        channel=_req(h, "Channel"),
    )


_USER_EVENTS: dict[str, Callable[[Mapping[str, Any], float], AmiEvent]] = {
    "hotlinearrived": _call_arrived,
    "hotlineivrexit": _ivr_exited,
    "hotlinequeued": _queued,
    "hotlineagentanswered": _agent_answered,
    "hotlinevoicemail": _voicemail,
    "hotlinerecording": _recording,
    "hotlinecallbackaccepted": _callback_accepted,
    "hotlineemergency": _emergency,
    "hotlinecallbackconnected": _callback_connected,
    "hotlinecallbackfailed": _callback_failed,
    "hotlinespeech": _speech,
    "hotlinereviewcallback": _review_callback,
    "hotlineneed": _need,
    "hotlineleftqueue": _left,
}


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
        parser = _USER_EVENTS.get(_opt(lowered, "UserEvent").lower())
        return parser(lowered, at) if parser else None
    if kind == "hangup":
        return _hangup(lowered, at)
    if kind == "newchannel":
        return _newchannel(lowered, at)
    if kind == "fullybooted":
        return AsteriskBooted(at=at)
    if kind == "shutdown":
        return AsteriskShutdown(at=at)
    return None


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
