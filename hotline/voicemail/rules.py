"""Voicemail intake, the pure part: a left message's durable record and the ticket it becomes.

Rules:

1. Every message is a WAV in the voicemail directory named ``<YYYYMMDD>-<call id>.wav`` (the
   dialplan's ``hotline-voicemail``). Beside it a JSON sidecar ``<same name>.json`` records
   what is known and how far intake got: ``pending`` (to turn into a ticket) or ``done`` (with
   the ticket number). The sidecar is written before any work starts, so an engine that stops
   half-way finds the message again at start-up.
2. A message is complete when its call has ended (the call record says voicemail, or whoever
   wrote the sidecar says ``ended``), or, for a WAV nobody told us about (the engine was down
   at hang-up) or one with ``ended: false``, when the file has not changed for longer than the
   longest message plus a margin. Another writer (the plain-AGI fail-safe) may leave a sidecar
   with just ``call_id``, ``file``, ``caller``, ``ivr_path`` and ``ended``: it is taken in.
3. One message, one ticket: the ticket links the call id, and intake looks the call id up in
   the ticket store before creating, so a retry after "created but not yet marked done" finds
   the ticket instead of making a second one.
4. The ticket is created in ``voicemail_review`` (channel voicemail) with the transcript as the
   description, or a clear "no speech recognised" text; the audio file and the call are linked,
   and the IVR path and what the classifier made of the words are noted for the reviewer
   (in Chinese, the desk's language).
"""

from __future__ import annotations

import enum
import re
from dataclasses import asdict, dataclass, replace
from typing import Any

from hotline.base.i18n import ivr_path_words, translate
from hotline.speech.classifier import Classification
from hotline.tickets.values import LIMITS, TICKET_CATEGORIES, Channel, HandlingType, TicketDraft

NO_SPEECH = "（留言中未识别出语音，请听录音）"
NOTE_MARK = "\n\n--\n"
_WAV_NAME = re.compile(r"^(?P<day>\d{8})-(?P<call>[A-Za-z0-9._\-]{1,64})\.wav$")

# Classifier subjects (ACD skills) -> the ticket store's subject tree (hotline.tickets.values).
DEFAULT_SUBJECT_CODES = {
    "utilities": "02",
    "housing": "01.02",
    "social": "05",
    "market": "03",
    "environment": "04",
    "transport": "06",
    "general": "99",
}
FALLBACK_SUBJECT = "99"


class Status(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"


@dataclass(frozen=True)
class VoicemailMessage:
    """One left message as its sidecar holds it (``file`` is the WAV's name, not a path)."""

    call_id: str
    file: str
    status: Status = Status.PENDING
    caller: str = ""
    ivr_path: str = ""
    left_at: str = ""  # ISO time the call arrived, when known
    ended: bool = False  # the call record said voicemail: the WAV is complete
    ticket: str = ""
    attempts: int = 0
    last_error: str = ""
    transcript: str = ""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> VoicemailMessage:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        if not isinstance(known.get("call_id"), str) or not isinstance(known.get("file"), str):
            raise ValueError("a voicemail sidecar needs call_id and file")
        known["status"] = Status(known.get("status", Status.PENDING))
        return cls(**known)

    def failed(self, error: str) -> VoicemailMessage:
        return replace(self, attempts=self.attempts + 1, last_error=error[:500])

    def done(self, ticket: str, transcript: str) -> VoicemailMessage:
        return replace(self, status=Status.DONE, ticket=ticket, transcript=transcript)


def call_id_of(wav_name: str) -> str | None:
    """The call id in a voicemail file name, or None if it is not one of ours."""
    match = _WAV_NAME.match(wav_name)
    return match.group("call") if match else None


def is_complete(msg: VoicemailMessage, idle_s: float, max_message_s: float) -> bool:
    """Rule 2: the call ended, or the WAV has been left alone longer than any message runs."""
    return msg.ended or idle_s > max_message_s + 60


def description(
    transcript: str,
    msg: VoicemailMessage,
    found: Classification | None,
    audio_s: float,
    problem: str = "",
) -> str:
    """The transcript (or NO_SPEECH), then a note for the reviewer, within the column limit."""
    heard = transcript.strip() or NO_SPEECH
    # The reviewer's note, in the centre's language (the desk is Chinese throughout); the file
    # and the call are linked to the ticket, so only the call's number is repeated here.
    note = [f"留言 {audio_s:.0f} 秒，来电编号 {msg.call_id}（录音与来电已关联本工单）"]
    note.append(f"语音导航路径：{ivr_path_words('zh', msg.ivr_path) if msg.ivr_path else '未知'}")
    if problem:
        note.append(f"语音识别失败：{problem}"[:300])
    if found is not None:
        subject = translate("zh", f"skill_{found.subject}")
        category = translate("zh", f"cat_{found.category}")
        line = f"识别的事项：{subject} / {category}"
        if found.emergency is not None:
            line += f"；紧急情况，应转 {found.emergency.number}"
        note.append(line)
    tail = NOTE_MARK + "\n".join(note)
    room = LIMITS["description"] - len(tail)
    return (heard if len(heard) <= room else heard[: room - 1] + "…") + tail


def draft_for(
    msg: VoicemailMessage,
    transcript: str,
    found: Classification | None,
    audio_s: float,
    recording: str,
    subject_codes: dict[str, str],
    fallback_subject: str = FALLBACK_SUBJECT,
    problem: str = "",
) -> TicketDraft:
    """Rule 4: the ticket a message becomes (checked like any intake)."""
    subject = subject_codes.get(found.subject, fallback_subject) if found else fallback_subject
    category = found.category if found is not None else "consultation"
    if category not in TICKET_CATEGORIES:
        category = "consultation"  # a centre's own classifier category the store does not know
    return TicketDraft(
        category=category,
        description=description(transcript, msg, found, audio_s, problem),
        subject_code=subject,
        channel=Channel.VOICEMAIL.value,
        caller_number=_phone(msg.caller),
        calls=(msg.call_id,),
        recordings=(recording,),
        # Words of an emergency in the message: 突发 handling, first in the night review.
        handling_type=(
            HandlingType.EMERGENCY.value
            if found is not None and found.emergency is not None
            else HandlingType.NORMAL.value
        ),
    )


def _phone(caller: str) -> str:
    # Asterisk gives "anonymous" or "" for a withheld number: no number, not an error.
    digits = caller.strip()
    return digits if digits and all(c in "0123456789+-() " for c in digits) else ""
