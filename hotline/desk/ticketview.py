"""What the ticket page shows beyond the record (pure): the subject's path in words, the reply
deadline in the centre's time with the time left and its card colour (Shandong's: yellow one
working day before, red once overdue), and the event log in words.

Times are shown in Asia/Shanghai, 24-hour, whatever the server's or the browser's zone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from hotline.base.daytypes import CENTRE_TZ
from hotline.tickets.lifecycle import TransitionEvent
from hotline.tickets.values import TicketRecord

CARD = {"ok": "green", "due_soon": "yellow", "overdue": "red"}


def when(at: datetime | None) -> str:
    """The centre's time, 24-hour; a naive time (SQLite drops the zone) is UTC, as stored."""
    if at is None:
        return "—"
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return aware.astimezone(CENTRE_TZ).strftime("%Y-%m-%d %H:%M")


def subject_words(code: str, names: Mapping[str, str]) -> str:
    """02.01 -> "公用事业 › 供水" (each level's name; a code not in the tree as itself)."""
    parts = code.split(".")
    levels = [".".join(parts[: i + 1]) for i in range(len(parts))]
    return " › ".join(names.get(level, level) for level in levels) if code else "—"


@dataclass(frozen=True)
class Deadline:
    due: str  # the deadline in the centre's time
    card: str  # green, yellow, red
    days: int  # whole days left (or overdue, when late)
    hours: int
    late: bool
    provisional: bool  # counted across a calendar year not yet published: 暂定


def deadline(
    rec: TicketRecord, now: datetime, status: Callable[[datetime, datetime], str]
) -> Deadline | None:
    """The reply deadline in force (None before dispatch or once closed)."""
    due = rec.reply_due_at
    if due is None or rec.closed_at is not None:
        return None
    left = due - now
    late = left.total_seconds() < 0
    seconds = abs(int(left.total_seconds()))
    return Deadline(
        due=when(due),
        card=CARD[status(due, now)],
        days=seconds // 86400,
        hours=seconds % 86400 // 3600,
        late=late,
        provisional=rec.deadline_provisional,
    )


@dataclass(frozen=True)
class EventLine:
    at: str
    actor: str
    action: str
    from_state: str
    to_state: str
    note: str
    detail: str = ""  # the unit re-dispatched to or proposed, the lead merged into
    flag: bool = False  # a 双非 judgement: set (True) or cleared


# The field an action names its other party in (shown as a code beside the action's words).
DETAIL = {"Redispatch": "unit", "Dispute": "proposed_unit", "MergeInto": "lead"}


def event_lines(events: Sequence[TransitionEvent]) -> list[EventLine]:
    lines = []
    for e in events:
        # A dispute and its confirmation carry their reason as a field, not as the note.
        note = e.note or str(e.data.get("reason", ""))
        detail = str(e.data.get(DETAIL.get(e.action, ""), ""))
        flag = bool(e.data.get("double_non", False))
        lines.append(
            EventLine(
                when(e.at),
                e.actor,
                e.action,
                str(e.from_state),
                str(e.to_state),
                note,
                detail,
                flag,
            )
        )
    return lines
