"""Quality review (质检), the pure part: a checklist, one review's score, the per-agent report.

Rules:

1. The checklist is configuration (``[quality] items``): item name -> weight (> 0). The default
   asks four things of every call: a greeting, asking for contact details, the correct category,
   a polite close.
2. A review gives every item of the checklist a mark between 0 and 1 (1 = fully done; a yes/no
   item is 0 or 1). An item missing, unknown or out of range is refused, naming it: a score
   computed from half a form would be wrong without anyone noticing.
3. The score is the weighted mean of the marks, in percent (0-100), rounded to 0.1.
4. The report gives, per agent, the number of reviewed recordings and their mean score.
5. The sampling plan (抽检): every week (Monday to Sunday, China time) ``sample_per_agent`` of
   each agent's call recordings of that week are to be reviewed. They are drawn at random but
   the same on every look: ordered by a hash of the week and the recording id, so nobody can
   tell in advance which calls will be picked and reloading the page changes nothing (a call
   made later in the week joins the draw). A recording of the agent's week reviewed for any
   reason counts toward the quota; the plan lists how many are done and the picks still to
   review.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

DEFAULT_CHECKLIST = {
    "greeting": 1.0,
    "asked_contact_details": 1.0,
    "correct_category": 1.0,
    "polite_close": 1.0,
}


class ScoreError(ValueError):
    """A review that cannot be scored; the message names the item."""


def check_checklist(items: Mapping[str, float]) -> None:
    if not items:
        raise ScoreError("quality.items: the checklist is empty")
    for name, weight in items.items():
        if not name.strip():
            raise ScoreError("quality.items: an item has no name")
        if not weight > 0:
            raise ScoreError(f"quality.items.{name}: weight must be > 0, not {weight}")


def score(checklist: Mapping[str, float], marks: Mapping[str, float]) -> float:
    check_checklist(checklist)
    unknown = sorted(set(marks) - set(checklist))
    if unknown:
        raise ScoreError(f"{unknown[0]}: not an item of the checklist")
    total = 0.0
    for name, weight in checklist.items():
        if name not in marks:
            raise ScoreError(f"{name}: no mark given")
        mark = marks[name]
        if isinstance(mark, bool):
            mark = float(mark)
        if not isinstance(mark, int | float) or not 0.0 <= mark <= 1.0:
            raise ScoreError(f"{name}: mark must be between 0 and 1, not {mark!r}")
        total += weight * float(mark)
    return round(100.0 * total / sum(checklist.values()), 1)


@dataclass(frozen=True)
class AgentQuality:
    agent_id: str
    reviews: int
    mean_score: float

    def to_json(self) -> dict[str, object]:
        return {"agent_id": self.agent_id, "reviews": self.reviews, "mean_score": self.mean_score}


def report(scores: Iterable[tuple[str, float]]) -> list[AgentQuality]:
    """(agent id, score) pairs -> one line per agent, by agent id."""
    by_agent: dict[str, list[float]] = {}
    for agent, value in scores:
        by_agent.setdefault(agent, []).append(value)
    return [
        AgentQuality(agent, len(values), round(sum(values) / len(values), 1))
        for agent, values in sorted(by_agent.items())
    ]


@dataclass(frozen=True)
class AgentSample:
    agent_id: str
    quota: int
    done: int
    pending: tuple[int, ...]  # recording ids still to review, in draw order

    def to_json(self) -> dict[str, object]:
        return {
            "agent_id": self.agent_id,
            "quota": self.quota,
            "done": self.done,
            "pending": list(self.pending),
        }


def _draw_key(seed: str, recording_id: int) -> bytes:
    return hashlib.sha256(f"{seed}:{recording_id}".encode()).digest()


def sample_plan(
    recordings: Iterable[tuple[int, str]],
    reviewed: Collection[int],
    per_agent: int,
    seed: str,
) -> list[AgentSample]:
    """Rule 5: (recording id, agent id) of the week's call recordings, the ids already
    reviewed, the quota and the week's seed -> one plan per agent, by agent id."""
    if per_agent < 0:
        raise ValueError(f"quality.sample_per_agent must be >= 0, not {per_agent}")
    by_agent: dict[str, list[int]] = {}
    for recording_id, agent_id in recordings:
        by_agent.setdefault(agent_id, []).append(recording_id)
    plans = []
    for agent_id, ids in sorted(by_agent.items()):
        quota = min(per_agent, len(ids))
        done = sum(1 for i in ids if i in reviewed)
        draw = sorted((i for i in ids if i not in reviewed), key=lambda i: _draw_key(seed, i))
        left = max(0, quota - done)  # more reviews than the quota leave nothing to do
        plans.append(AgentSample(agent_id, quota, min(done, quota), tuple(draw[:left])))
    return plans
