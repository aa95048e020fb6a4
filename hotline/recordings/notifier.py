"""Recordings' events out on MQTT (README, "MQTT events"): ``<prefix>/calls/<call_id>/recording``
when a call's recording starts (``state: started``) and when its file is complete
(``state: finished``, with its size); ``<prefix>/calls/<call_id>/voicemail_ticket`` when a left
message has become a ticket awaiting review."""

from __future__ import annotations

import time

from hotline.base.bus import EventBus
from hotline.recordings.store import Recording
from hotline.tickets.values import TicketRecord
from hotline.voicemail.rules import VoicemailMessage


class VoicemailNotifier:
    def __init__(self, bus: EventBus) -> None:
        self._bus = bus

    def ticket_created(self, msg: VoicemailMessage, ticket: TicketRecord, recording: str) -> None:
        payload = {
            "call_id": msg.call_id,
            "event": "voicemail_ticket",
            "ticket": ticket.number,
            "state": ticket.state.value,
            # Emergency words in the message (突发): a wall display can alert the night shift.
            "emergency": ticket.handling_type == "emergency",
            "caller": msg.caller,
            "ivr_path": msg.ivr_path,
            "recording": recording,
            "transcript": msg.transcript,
            "at": time.time(),
        }
        self._bus.publish(("calls", msg.call_id, "voicemail_ticket"), payload)


class RecordingNotifier:
    def __init__(self, bus: EventBus) -> None:
        self._bus = bus

    def recording(self, rec: Recording, state: str) -> None:
        payload = {"event": "recording", "state": state, **rec.to_json()}
        payload.pop("deleted_at", None)
        payload.pop("delete_reason", None)
        self._bus.publish(("calls", rec.call_id, "recording"), payload)
