"""ACD and call events out on MQTT (topics in docs/DESIGN.md and the README)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from hotline.acd.events import AgentStateChanged, CallAbandoned, CallAnswered, OfferCall
from hotline.base.bus import EventBus
from hotline.calls.records import CallRecord

log = logging.getLogger(__name__)


class AcdNotifier:
    def __init__(self, bus: EventBus) -> None:
        self._bus = bus
        # In-process listeners of what callers said (the desktop updates a pop already shown).
        self.speech_listeners: list[Callable[[str, str, str, str], None]] = []

    def _call(self, call_id: str, what: str, payload: dict[str, Any]) -> None:
        self._bus.publish(("calls", call_id, what), {"call_id": call_id, "event": what, **payload})

    def call_arrived(self, call_id: str, caller: str, dialled: str, at: float) -> None:
        self._call(call_id, "arrived", {"caller": caller, "dialled": dialled, "at": at})

    def call_queued(self, call_id: str, skill: str, priority: int, channel: str, at: float) -> None:
        self._call(
            call_id,
            "queued",
            {"skill": skill, "priority": priority, "channel": channel, "at": at},
        )

    def call_speech(
        self, call_id: str, text: str, subject: str, category: str, emergency: str
    ) -> None:
        """What the caller said to the IVR: for the agent's screen-pop and wall displays."""
        self._call(
            call_id,
            "speech",
            {"text": text, "subject": subject, "category": category, "emergency": emergency},
        )
        for listener in self.speech_listeners:
            try:
                listener(call_id, text, subject, category)
            except Exception:  # a listener's fault must not reach the AMI consumer
                log.exception("speech listener failed for %s", call_id)

    def call_offered(self, offer: OfferCall) -> None:
        self._call(offer.call_id, "offered", {"agent_id": offer.agent_id, "seat": offer.seat})

    def call_answered(self, d: CallAnswered) -> None:
        self._call(
            d.call_id, "answered", {"agent_id": d.agent_id, "waited_s": d.waited_s, "at": d.at}
        )

    def call_abandoned(self, d: CallAbandoned) -> None:
        self._call(d.call_id, "abandoned", {"waited_s": d.waited_s, "at": d.at})

    def call_ended(self, record: CallRecord) -> None:
        self._call(
            record.unique_id,
            "ended",
            {
                "outcome": record.outcome.value,
                "agent_id": record.agent_id,
                "wait_s": record.wait_s,
                "ivr_path": record.ivr_path,
                "at": record.ended_at.timestamp(),
            },
        )

    def decision(self, d: Any) -> None:
        """Any other decision of the ACD, as calls/<id>/<kind> with its fields."""
        kind = re.sub(r"(?<!^)(?=[A-Z])", "_", type(d).__name__).lower()
        payload = {k: getattr(d, k) for k in d.__dataclass_fields__}
        self._call(str(payload.get("call_id", "")), kind, payload)

    def agent_state(self, d: AgentStateChanged) -> None:
        self._bus.publish(
            ("agents", d.agent_id, "state"),
            {"agent_id": d.agent_id, "state": str(d.state), "reason": d.reason, "at": d.at},
        )
