"""Recognise a recording, then classify what was said: the IVR's one path from audio to a
routing decision, shared by the live IVR, voicemail intake, ``hotline ivr recognise`` and the
speech benchmark, so what the command line and the bench report is what callers get.

``hear`` transcribes with the process's shared ``SpeechService`` (the model loaded once,
recognition in a worker thread) and classifies with ``Classifier.classify`` (pure, in the event
loop: well under a millisecond). ``decide`` is the text-only half (``hotline ivr classify``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hotline.speech.classifier import Classification, Classifier
from hotline.speech.service import SpeechService, Transcript


@dataclass(frozen=True, slots=True)
class Heard:
    """What a recording said and where it sends the caller."""

    transcript: Transcript
    classification: Classification | None
    """None when nothing was recognised (silence, noise): the caller's default applies."""
    recognise_s: float
    classify_s: float

    @property
    def decision_s(self) -> float:
        """From the end of the recording to the routing decision."""
        return self.recognise_s + self.classify_s

    def to_json(self) -> dict[str, Any]:
        return {
            "transcript": self.transcript.text,
            "confidence": self.transcript.confidence,
            "audio_s": self.transcript.duration_s,
            **decision_json(self.classification),
            "recognise_s": round(self.recognise_s, 3),
            "classify_s": round(self.classify_s, 6),
            "elapsed_s": round(self.decision_s, 3),
        }


def decision_json(found: Classification | None) -> dict[str, Any]:
    """Subject, category, emergency yes/no and its number, as the command line prints them."""
    if found is None:
        return {
            "subject": None, "category": None, "emergency": False, "emergency_kind": None,
            "emergency_number": None, "matched": [], "subject_confidence": 0.0,
        }  # fmt: skip
    return {
        "subject": found.subject,
        "category": found.category,
        "emergency": found.emergency is not None,
        "emergency_kind": found.emergency.kind if found.emergency else None,
        "emergency_number": found.route_number,
        "matched": list(found.matched),
        "subject_confidence": found.confidence,
    }


def decide(classifier: Classifier, text: str) -> tuple[Classification | None, float]:
    """Classify a transcript; (None, t) for an empty one, as the IVR treats silence."""
    started = time.perf_counter()
    found = classifier.classify(text) if text.strip() else None
    return found, time.perf_counter() - started


async def hear(
    speech: SpeechService,
    classifier: Classifier,
    path: Path | str,
    lang: str,
    *,
    utterance: bool = True,
) -> Heard:
    """Transcribe ``path`` in ``lang`` and classify it. An utterance is cut at the configured
    maximum; a voicemail (``utterance=False``) is recognised whole. Raises SpeechError (no
    model, unreadable audio) for the caller to fall back on keys or a "no speech" text."""
    started = time.perf_counter()
    transcript = await speech.transcribe(path, lang, utterance=utterance)
    recognise_s = time.perf_counter() - started
    found, classify_s = decide(classifier, transcript.text)
    return Heard(transcript, found, recognise_s, classify_s)
