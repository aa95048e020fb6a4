"""A ticket's progress by phone: the caller keys in the number, hears its state and deadline.

The number is checked before anything is read: format and check digit first (a mistyped digit
is caught without touching the store), then existence. Each failure says what was wrong and
asks again; after ``max_failures`` the dialog ends and the caller is back where they came from
(the menu, or waiting in the queue). What was read back is raised as ``HotlineTicketStatus``
(ticket, state, deadline) so it lands beside the call, and the IVR path says how it went:
``ticket:<phase>``, ``ticket:invalid``, ``ticket:unknown``, ``ticket:timeout``.

Only the phase (accepted, in progress, closed) and the reply deadline are spoken: no names,
units or contents, since anyone can key in any number.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from hotline.asterisk.agi import AgiChannel
from hotline.tickets.numbers import InvalidTicketNumber, parse_ticket_number

log = logging.getLogger(__name__)
CENTRE_TZ = ZoneInfo("Asia/Shanghai")

# Ticket state -> what the citizen hears (prompt hotline/ticket-<phase>).
PHASES: dict[str, str] = {
    "voicemail_review": "accepted",
    "created": "accepted",
    "returned": "accepted",
    "dispatched": "in-progress",
    "signed": "in-progress",
    "in_progress": "in-progress",
    "extension_requested": "in-progress",
    "reopened": "in-progress",
    "disputed": "in-progress",  # still being handled: which unit is an internal matter
    "merged": "in-progress",  # handled on the lead ticket
    "inform_pending": "closed",  # the lead ticket closed; the caller is being told
    "closed_direct": "closed",
    "closed_by_unit": "closed",
    "reviewed": "closed",
    "callback_done": "closed",
    "archived": "closed",
}


@dataclass(frozen=True)
class TicketStatus:
    number: str
    state: str
    due: datetime | None  # the reply deadline in force, if the ticket has one

    @property
    def phase(self) -> str:
        return PHASES.get(self.state, "in-progress")


TicketLookup = Callable[[str], Awaitable[TicketStatus | None]]
"""Number (checked) -> its status, or None when no such ticket exists."""


async def ticket_status_dialog(
    channel: AgiChannel,
    lookup: TicketLookup,
    path: list[str],
    *,
    max_failures: int,
    digit_timeout_ms: int,
) -> TicketStatus | None:
    for _ in range(max_failures):
        digits = await channel.get_data("hotline/ticket-enter", digit_timeout_ms, 20)
        if not digits:
            path.append("ticket:timeout")
            await channel.stream_file("hotline/invalid", escape="")
            continue
        try:
            parse_ticket_number(digits)
        except InvalidTicketNumber as exc:
            log.info("call %s keyed a bad ticket number: %s", channel.unique_id, exc)
            path.append("ticket:invalid")
            await channel.stream_file("hotline/ticket-invalid", escape="")
            continue
        try:
            status = await lookup(digits)
        except Exception:  # the store is away: say so, never leave the caller in silence
            log.exception("ticket lookup failed for call %s", channel.unique_id)
            path.append("ticket:error")
            await channel.stream_file("hotline/ticket-unavailable", escape="")
            return None
        if status is None:
            path.append("ticket:unknown")
            await channel.stream_file("hotline/ticket-unknown", escape="")
            continue
        path.append(f"ticket:{status.phase}")
        await read_back(channel, status)
        return status
    return None


async def read_back(channel: AgiChannel, status: TicketStatus) -> None:
    due = status.due.astimezone(CENTRE_TZ) if status.due is not None else None
    await channel.user_event(
        "HotlineTicketStatus",
        CallId=channel.unique_id,
        Ticket=status.number,
        State=status.state,
        Due=due.date().isoformat() if due else "",
    )
    await channel.stream_file(f"hotline/ticket-{status.phase}", escape="")
    if due is not None and status.phase != "closed":
        await channel.stream_file("hotline/ticket-due", escape="")
        await channel.say_number(due.month)
        await channel.stream_file("hotline/month", escape="")
        await channel.say_number(due.day)
        await channel.stream_file("hotline/day", escape="")
