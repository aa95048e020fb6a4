"""Which calls an agent handled: an agent may link only those to a ticket (issue 13, item 6).

Linking a call to a ticket puts the call's record and recordings (the caller's number, voice,
transcript) in front of whoever reads the ticket, so an agent filing a ticket for a call id it
never took would read another call's data through it. An agent handled a call when it answered
it (heard from the ACD by this process, or in the live call tracker, or on the stored call
record) or took a recorded step on it (hold, transfer, three-way ...). Supervisors are not held
to this (they listen in and review every call).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

from hotline.acd.events import CallAnswered
from hotline.acd.service import AcdService
from hotline.base.db import CallRecordStore
from hotline.callcontrol.steps import StepStore

log = logging.getLogger(__name__)
KEEP = 100  # answered calls remembered per agent (a shift's worth before the records catch up)


class HandledCalls:
    def __init__(self, acd: AcdService, records: CallRecordStore, steps: StepStore) -> None:
        self._acd = acd
        self._records = records
        self._steps = steps
        self._answered: dict[str, deque[str]] = {}

    def observe(self, decision: Any) -> None:
        """ACD observer: remember who answered which call (the record is written at hang-up)."""
        if isinstance(decision, CallAnswered):
            calls = self._answered.setdefault(decision.agent_id, deque(maxlen=KEEP))
            calls.append(decision.call_id)

    async def by(self, agent_id: str, call_id: str) -> bool:
        """Whether the agent handled the call (memory first, then the database)."""
        if call_id in self._answered.get(agent_id, ()):
            return True
        live = self._acd.tracker.calls.get(call_id)
        if live is not None and live.agent_id == agent_id:
            return True
        record = await asyncio.to_thread(self._records.get, call_id)
        if record is not None and record.agent_id == agent_id:
            return True
        steps = await asyncio.to_thread(self._steps.of_call, call_id)
        return any(step.agent_id == agent_id for step in steps)
