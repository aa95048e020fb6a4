"""Who may hear which recording: the pure rule, checked before any byte is served.

Recordings are confidential (docs/DOMAIN.md): only roles that need them may hear them.

| role       | calls / three-way legs        | voicemail |
|------------|-------------------------------|-----------|
| agent      | their own calls only (disputes, self-review) | no |
| supervisor | every call (quality review 质检, listen-back) | yes |
| reviewer   | every call (QA staff score calls)            | yes (night-shift review) |
| unit       | none (handling units get the work order, not the audio) | no |
| admin      | all                                          | yes |

Any other role hears nothing. Deleted recordings are nobody's (the caller gets 404, not 403,
so the answer does not reveal more than "not here").
"""

from __future__ import annotations

from dataclasses import dataclass

ALL_CALLS = frozenset({"supervisor", "reviewer", "admin"})
VOICEMAIL = frozenset({"supervisor", "reviewer", "admin"})
SCORERS = frozenset({"supervisor", "reviewer", "admin"})


@dataclass(frozen=True)
class Requester:
    """Who asks: the desktop's logged-in user (its login name and role; agents' user names are
    their agent ids)."""

    user: str
    role: str
    agent_id: str | None = None

    @property
    def as_agent(self) -> str:
        return self.agent_id or self.user


def may_hear(who: Requester, kind: str, agent_id: str | None) -> bool:
    if kind == "voicemail":
        return who.role in VOICEMAIL
    if kind in ("call", "threeway"):
        if who.role in ALL_CALLS:
            return True
        return who.role == "agent" and agent_id is not None and agent_id == who.as_agent
    return False


def may_score(who: Requester) -> bool:
    """Quality review is the supervisors' and QA reviewers' job."""
    return who.role in SCORERS
