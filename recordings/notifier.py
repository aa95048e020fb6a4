"""Voicemail events out on MQTT: ``<prefix>/calls/<call_id>/voicemail_ticket`` when a left
message has become a ticket awaiting review (README, "MQTT events")."""

from __future__ import annotations

import time

from hotline.bus import EventBus
from recordings.voicemail import VoicemailMessage
from tickets.ticket_types import TicketRecord


class VoicemailNotifier:
    def __init__(self, bus: EventBus) -> None:
        self._bus = bus

    def ticket_created(self, msg: VoicemailMessage, ticket: TicketRecord, recording: str) -> None:
        payload = {
            "call_id": msg.call_id,
            "event": "voicemail_ticket",
            "ticket": ticket.number,
            "state": ticket.state.value,
            "caller": msg.caller,
            "ivr_path": msg.ivr_path,
            "recording": recording,
            "transcript": msg.transcript,
            "at": time.time(),
        }
        self._bus.publish(("calls", msg.call_id, "voicemail_ticket"), payload)
