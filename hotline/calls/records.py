"""The call record: exactly one per call, written when the caller's channel hangs up."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any


class CallOutcome(enum.StrEnum):
    ANSWERED = "answered"
    ABANDONED_QUEUE = "abandoned_queue"
    ABANDONED_IVR = "abandoned_ivr"
    VOICEMAIL = "voicemail"
    TRANSFERRED = "transferred"
    NODE_FAILED = "node_failed"
    """The cluster node holding the call failed (hotline/asterisk/ami/cluster.py)."""


@dataclass(frozen=True, slots=True)
class CallRecord:
    unique_id: str
    """Asterisk Uniqueid of the caller's channel: the call's identity everywhere."""
    linked_id: str
    caller: str
    dialled: str
    arrived_at: datetime
    ended_at: datetime
    outcome: CallOutcome
    ivr_exit_at: datetime | None = None
    queued_at: datetime | None = None
    answered_at: datetime | None = None
    agent_id: str | None = None
    ivr_path: str = ""
    skill: str = ""
    hangup_cause: str = ""
    speech_text: str = ""
    """What the caller said to the IVR, as recognised."""
    satisfaction: str = ""
    """一次一评 after the agent hung up: satisfied, basic, unsatisfied, none (asked, no answer),
    or empty (not asked)."""
    linkage: str = ""
    """"from-110": transferred in by the 110 centre (configuration [linkage])."""
    double_non: bool = False
    """双非: a call from 110 that is neither an emergency nor a police matter."""
    node: str = ""
    """The cluster node (Asterisk) that held the call; "" with one Asterisk."""

    @property
    def wait_s(self) -> float | None:
        """Seconds from queue entry to answer (answered) or to hang-up (abandoned in queue)."""
        if self.queued_at is None:
            return None
        end = self.answered_at or self.ended_at
        return max(0.0, (end - self.queued_at).total_seconds())

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, datetime):
                out[key] = value.isoformat()
        out["outcome"] = self.outcome.value
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CallRecord:
        kwargs = dict(data)
        for key in ("arrived_at", "ended_at", "ivr_exit_at", "queued_at", "answered_at"):
            if kwargs.get(key) is not None:
                kwargs[key] = datetime.fromisoformat(kwargs[key])
        kwargs["outcome"] = CallOutcome(kwargs["outcome"])
        return cls(**kwargs)
