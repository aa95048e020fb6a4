"""What the agent sees when a call is offered, before answering (pure).

Rules: the pop carries the caller's number, the IVR path, the recognised speech (if the caller
spoke), whether the caller is a repeat caller with those open tickets, and a ticket draft
prefilled from the IVR: the category and subject the speech classifier found (``speech:S/C`` in
the path) when they are valid, else the menu's skill mapped to a category, else consultation;
the speech text as the description. The agent checks and corrects it before filing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hotline.tickets.values import TICKET_CATEGORIES, TicketRecord

DEFAULT_CATEGORY = "consultation"
DEFAULT_SUBJECT = "99"
SKILL_CATEGORY = {"consult": "consultation", "request": "help", "complaint": "complaint"}


@dataclass(frozen=True)
class Prefill:
    category: str
    subject_code: str
    description: str
    caller_number: str


def prefill(
    ivr_path: str, skill: str, speech_text: str, caller: str, subjects: Mapping[str, str]
) -> Prefill:
    category = SKILL_CATEGORY.get(skill, DEFAULT_CATEGORY)
    subject = DEFAULT_SUBJECT if DEFAULT_SUBJECT in subjects else ""
    for step in ivr_path.split(">"):
        if step.startswith("speech:") and "/" in step:
            said_subject, _, said_category = step[len("speech:") :].partition("/")
            if said_category in TICKET_CATEGORIES:
                category = said_category
            if said_subject in subjects:
                subject = said_subject
    return Prefill(category, subject, speech_text.strip(), caller)


def form_json(form: Prefill) -> dict[str, Any]:
    return dict(vars(form))


def ticket_summary(t: TicketRecord) -> dict[str, Any]:
    """An earlier ticket as the pop lists it (the agent sees platform data, never redacted)."""
    return {
        "number": t.number,
        "category": t.category,
        "subject_code": t.subject_code,
        "state": str(t.state),
        "description": t.description[:200],
        "created_at": t.created_at.isoformat(),
    }


@dataclass(frozen=True)
class ScreenPop:
    call_id: str
    agent_id: str
    caller: str
    ivr_path: str
    skill: str
    speech_text: str
    repeat: bool
    earlier: tuple[dict[str, Any], ...]
    form: Prefill
    offered_at: float
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "pop",
            "call_id": self.call_id,
            "agent_id": self.agent_id,
            "caller": self.caller,
            "ivr_path": self.ivr_path,
            "skill": self.skill,
            "speech_text": self.speech_text,
            "repeat": self.repeat,
            "earlier": list(self.earlier),
            "form": form_json(self.form),
            "offered_at": self.offered_at,
            **self.extra,
        }
