"""A caller's sentence (Mandarin text, usually a Vosk transcript) -> subject, category, emergency.

Phrase matching, nothing learnt: pure, fast (well under a millisecond for a sentence) and
deterministic, so a centre can read why a call went where it went and fix it in the
configuration (``[subjects]`` and ``[emergency]``).

How a sentence is read:
- Spaces (Vosk puts them between Mandarin words) are dropped; punctuation stays as a clause
  boundary. Full-width forms are folded (NFKC) and Latin letters lower-cased.
- In each table (subjects, categories, emergencies) a phrase inside a longer match of the same
  table does not count (怎么办理 is consultation, not 怎么办 help).
- Subject: the one whose phrases cover the most characters; a tie goes to the subject listed
  first; nothing matched: the default subject (general), confidence 0.1.
- Category: the first category listed that matches; else the default (consultation).
- Emergency: any emergency phrase that is not negated and not inside a ``not_emergency`` phrase.
  When several kinds match, the kind listed first wins (fire before medical: 119 sends the
  ambulance too). An emergency always wins over the subject for routing.

Negation is deliberately simple: a negation word (不是, 没有, 没...) right before the phrase,
or separated from it only by a filler such as 人/有人/是/看到 (没有人受伤, 没看到冒烟), cancels
it. Limits: negation further away (我不觉得现在着火了) is not seen and the call is redirected;
that is the safe side. Questions such as 是不是着火了 count as an emergency. A phrase used in a
non-emergency sense that is not listed in ``not_emergency`` (心脏病的医保报销) is redirected too.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hotline.base.settings import Config, EmergencyConfig, SubjectsConfig

# What may stand between a negation word and the phrase it negates.
_FILLERS = ("", "人", "有人", "有", "是", "发生", "出现", "看到", "闻到", "听到", "发现")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Emergency:
    kind: str
    """Key of the ``[emergency.kinds]`` table: fire, gas_leak, crime, traffic, medical."""
    number: str
    """The number the caller is redirected to (119...)."""
    dial: str
    """Asterisk dial string of the redirect (``PJSIP/119@citizen-trunk``)."""
    phrase: str
    """The phrase that was heard."""


@dataclass(frozen=True, slots=True)
class Classification:
    subject: str
    """ACD skill."""
    category: str
    """consultation, help, complaint, report, suggestion (or a configured one)."""
    emergency: Emergency | None
    matched: tuple[str, ...]
    """Every phrase that counted, in the order they occur in the text."""
    confidence: float
    """How sure the subject is, 0..1: 0.1 when nothing matched, lower when subjects compete."""

    @property
    def route_number(self) -> str | None:
        return None if self.emergency is None else self.emergency.number


@dataclass(frozen=True, slots=True)
class _Hit:
    start: int
    end: int
    phrase: str
    label: str


def normalise(text: str) -> str:
    """The form phrases are matched against: NFKC, lower case, no whitespace."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", text)).lower()


class _Table:
    """Phrases of one table, longest first so a longer phrase claims its span first."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.order = list(table)
        pairs = {(normalise(p), label) for label, phrases in table.items() for p in phrases}
        self._phrases = sorted(pairs, key=lambda pl: (-len(pl[0]), self.order.index(pl[1])))

    def hits(self, text: str) -> list[_Hit]:
        taken = [False] * len(text)
        found: list[_Hit] = []
        for phrase, label in self._phrases:
            start = text.find(phrase)
            while start >= 0:
                end = start + len(phrase)
                if not any(taken[start:end]):
                    found.append(_Hit(start, end, phrase, label))
                    taken[start:end] = [True] * len(phrase)
                start = text.find(phrase, start + 1)
        return sorted(found, key=lambda h: h.start)


class Classifier:
    def __init__(self, subjects: SubjectsConfig, emergency: EmergencyConfig) -> None:
        self._subjects = _Table(subjects.keywords)
        self._categories = _Table(subjects.categories)
        self._default_subject = subjects.default
        self._default_category = subjects.default_category
        self._emergency = emergency
        self._kinds = _Table({k: v.phrases for k, v in emergency.kinds.items()})
        self._negations = sorted((normalise(n) for n in emergency.negations), key=len)
        self._not_negations = [normalise(p) for p in emergency.not_negations]
        self._not_emergency = [normalise(p) for p in emergency.not_emergency]

    @classmethod
    def from_config(cls, cfg: Config) -> Classifier:
        return cls(cfg.subjects, cfg.emergency)

    def classify(self, text: str) -> Classification:
        norm = normalise(text)
        subject_hits = self._subjects.hits(norm)
        category_hits = self._categories.hits(norm)
        emergency_hits = self._emergency_hits(norm)
        subject, confidence = self._subject(subject_hits)
        found = {h.label for h in category_hits}
        category = next((c for c in self._categories.order if c in found), None)
        hits = sorted(subject_hits + category_hits + emergency_hits, key=lambda h: h.start)
        return Classification(
            subject=subject,
            category=category or self._default_category,
            emergency=self._pick_emergency(emergency_hits),
            matched=tuple(h.phrase for h in hits),
            confidence=confidence,
        )

    def _subject(self, hits: list[_Hit]) -> tuple[str, float]:
        if not hits:
            return self._default_subject, 0.1
        score: dict[str, int] = {}
        distinct: dict[str, set[str]] = {}
        for h in hits:
            score[h.label] = score.get(h.label, 0) + len(h.phrase)
            distinct.setdefault(h.label, set()).add(h.phrase)
        best = max(score.values())
        winner = next(s for s in self._subjects.order if score.get(s) == best)
        # Share of the matched text that speaks for the winner, damped when it rests on a
        # single phrase: one word is a weaker signal than two that agree.
        share = best / sum(score.values())
        support = min(1.0, 0.6 + 0.2 * len(distinct[winner]))
        return winner, round(share * support, 2)

    def _emergency_hits(self, text: str) -> list[_Hit]:
        if not self._emergency.enabled:
            return []
        masked = _mask(text, self._not_emergency)
        negatable = _mask(text, self._not_negations)
        return [h for h in self._kinds.hits(masked) if not self._negated(negatable, h.start)]

    def _negated(self, text: str, start: int) -> bool:
        for filler in _FILLERS:
            before = start - len(filler)
            if before < 0 or text[before:start] != filler:
                continue
            if any(text[:before].endswith(neg) for neg in self._negations):
                return True
        return False

    def _pick_emergency(self, hits: list[_Hit]) -> Emergency | None:
        found = {h.label: h.phrase for h in hits}
        for kind in self._kinds.order:
            if kind in found:
                spec = self._emergency.kinds[kind]
                dial = self._emergency.dial.replace("{number}", spec.number)
                return Emergency(kind, spec.number, dial, found[kind])
        return None


def _mask(text: str, phrases: list[str]) -> str:
    """Blank out every occurrence of the phrases (same length, so positions still line up)."""
    for phrase in phrases:
        if phrase:
            text = text.replace(phrase, "\0" * len(phrase))
    return text


def classify(text: str, cfg: Config) -> Classification:
    """One-off classification with the configured tables (the IVR keeps a Classifier)."""
    return Classifier.from_config(cfg).classify(text)
