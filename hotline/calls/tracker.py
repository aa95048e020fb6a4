"""Builds the one call record of every call from the AMI events the call produces.

Pure: typed AMI events in, a finished :class:`~hotline.calls.records.CallRecord` out when the
caller's
channel hangs up.  The caller channel's Uniqueid is the call id.  In-progress calls are kept as
JSON-able dicts so the engine can keep them in Redis and a restarted engine still writes the
record of a call that began before the restart.

Outcome rules:
- hung up before it was queued            -> abandoned_ivr
- queued, hung up before an agent answered -> abandoned_queue
- an agent answered                        -> answered (or transferred, once transfers exist)
- out of hours, a message was left         -> voicemail
- the IVR heard an emergency and redirected -> transferred

The after-call satisfaction answer (一次一评, ``HotlineSatisfaction``) is kept only on an answered
call that was not transferred. A call from the 110 centre (``inbound_110``: by caller id or the
number it dialled) is marked ``linkage = "from-110"`` with the 双非 flag (neither an emergency nor
a police matter: what 110 hands to 12345) unless the IVR heard an emergency on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from hotline.asterisk.ami.cluster import node_of
from hotline.asterisk.ami.events import (
    AgentLegAnswered,
    AmiEvent,
    CallArrived,
    CallNeedLearned,
    CallQueuedInAsterisk,
    ChannelHungUp,
    EmergencyRedirected,
    IvrExited,
    SatisfactionGiven,
    SpeechHeard,
    VoicemailStarted,
)
from hotline.calls.records import CallOutcome, CallRecord


def _dt(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, tz=UTC)


@dataclass(frozen=True, slots=True)
class CallInProgress:
    call_id: str
    linked_id: str
    caller: str
    dialled: str
    channel: str
    arrived_at: float
    ivr_exit_at: float | None = None
    queued_at: float | None = None
    answered_at: float | None = None
    agent_id: str | None = None
    ivr_path: str = ""
    skill: str = ""
    outcome_hint: str = ""
    speech_text: str = ""
    satisfaction: str = ""
    linkage: str = ""
    double_non: bool = False

    def finish(self, ended_at: float, cause: str) -> CallRecord:
        if self.outcome_hint in (CallOutcome.VOICEMAIL, CallOutcome.TRANSFERRED):
            outcome = CallOutcome(self.outcome_hint)
        elif self.answered_at is not None:
            outcome = CallOutcome(self.outcome_hint or CallOutcome.ANSWERED)
        elif self.queued_at is not None:
            outcome = CallOutcome.ABANDONED_QUEUE
        else:
            outcome = CallOutcome.ABANDONED_IVR
        arrived = _dt(self.arrived_at)
        assert arrived is not None
        return CallRecord(
            unique_id=self.call_id,
            node=node_of(self.call_id),
            linked_id=self.linked_id,
            caller=self.caller,
            dialled=self.dialled,
            arrived_at=arrived,
            ended_at=_dt(max(ended_at, self.arrived_at)) or arrived,
            outcome=outcome,
            ivr_exit_at=_dt(self.ivr_exit_at),
            queued_at=_dt(self.queued_at),
            answered_at=_dt(self.answered_at),
            agent_id=self.agent_id,
            ivr_path=self.ivr_path,
            skill=self.skill,
            hangup_cause=cause,
            speech_text=self.speech_text,
            satisfaction=self.satisfaction,
            linkage=self.linkage,
            double_non=self.double_non,
        )


@dataclass
class CallTracker:
    calls: dict[str, CallInProgress] = field(default_factory=dict)
    inbound_110: Callable[[str, str], bool] | None = None
    """(caller, dialled) -> was the call transferred in by 110 (configuration: [linkage])."""
    double_non_default: bool = True

    def feed(self, event: AmiEvent) -> tuple[CallInProgress | None, CallRecord | None]:
        """Apply one event; return (call changed or None, finished record or None)."""
        if isinstance(event, CallArrived):
            call = CallInProgress(
                call_id=event.call_id,
                linked_id=event.linked_id or event.call_id,
                caller=event.caller,
                dialled=event.dialled,
                channel=event.channel,
                arrived_at=event.at,
            )
            if self.inbound_110 is not None and self.inbound_110(event.caller, event.dialled):
                call = replace(call, linkage="from-110", double_non=self.double_non_default)
            self.calls[call.call_id] = call
            return call, None
        if isinstance(event, ChannelHungUp):
            done = self.calls.pop(event.unique_id, None)
            if done is None:
                return None, None
            cause = f"{event.cause} {event.cause_text}".strip()
            return None, done.finish(event.at, cause)
        current = self.calls.get(getattr(event, "call_id", ""))
        if current is None:
            return None, None
        if isinstance(event, IvrExited):
            updated = replace(
                current, ivr_exit_at=event.at, ivr_path=event.ivr_path, skill=event.skill
            )
        elif isinstance(event, CallQueuedInAsterisk):
            # A caller can be queued more than once (returned from an agent); the first counts.
            updated = replace(
                current,
                queued_at=current.queued_at if current.queued_at is not None else event.at,
                skill=event.skill or current.skill,
                ivr_path=current.ivr_path or event.ivr_path,
            )
        elif isinstance(event, SpeechHeard):
            updated = replace(current, speech_text=event.text)
        elif isinstance(event, CallNeedLearned):
            updated = replace(current, skill=event.skill)
        elif isinstance(event, VoicemailStarted):
            updated = replace(current, outcome_hint=CallOutcome.VOICEMAIL.value)
        elif isinstance(event, EmergencyRedirected):
            updated = replace(current, outcome_hint=CallOutcome.TRANSFERRED.value, double_non=False)
        elif isinstance(event, SatisfactionGiven):
            if current.answered_at is None or current.outcome_hint:
                return None, None  # only an answered call that stayed with the agent is rated
            updated = replace(current, satisfaction=event.answer)
        elif isinstance(event, AgentLegAnswered):
            if current.answered_at is not None:
                return None, None
            updated = replace(current, answered_at=event.at, agent_id=event.agent_id)
        else:
            return None, None
        self.calls[updated.call_id] = updated
        return updated, None

    def lose(
        self, call_id: str, at: float, cause: str, *, node_failed: bool = False
    ) -> CallRecord | None:
        """The call's channel vanished without a Hangup event (Asterisk restarted), or its
        cluster node failed (outcome node_failed, whatever state the call was in)."""
        call = self.calls.pop(call_id, None)
        if call is None:
            return None
        record = call.finish(at, cause)
        return replace(record, outcome=CallOutcome.NODE_FAILED) if node_failed else record

    # -- persistence helpers --------------------------------------------
    @staticmethod
    def to_json(call: CallInProgress) -> dict[str, Any]:
        return {f: getattr(call, f) for f in CallInProgress.__dataclass_fields__}

    @staticmethod
    def from_json(data: dict[str, Any]) -> CallInProgress:
        return CallInProgress(**data)
