"""The IVR: a greeting and a one-digit main menu; out of hours, voicemail.

Each exit sets the ACD skill and priority and appends to the IVR path that lands on the call
record (``greeting>menu:1``).  Wrong keys and silence re-prompt; after ``max_failures`` the
caller goes to an agent with the default skill (nobody is ever stuck in a menu). When agents
are not answering (opening hours, by day type) the caller hears so and is sent to leave a
message (``HOTLINE_NEXT=voicemail``; the dialplan records it), path ``closed>voicemail``.

Speech (when a model is installed for the caller's language): after the menu prompt the caller
may say what they need instead of pressing a key. Asterisk records the utterance, Vosk
recognises it, the classifier maps it to a subject (the ACD skill, when agents have it) and a
category, path ``greeting>speech:<subject>/<category>``; an emergency (fire, injury, crime,
gas, traffic accident) sends the caller at once to 119/120/110/122 (``HOTLINE_NEXT=emergency``),
path ``greeting>speech>emergency:<kind>``. A key pressed while recording is a menu key; silence
or an unintelligible sentence counts as a failed attempt and the menu repeats. Any speech error
falls back to the keys: speech can only add a way in, never block one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from hotline.config import IvrConfig
from ivr.agi import AgiChannel
from ivr.classifier import Classifier
from ivr.hours import BusinessHours
from ivr.speech import SpeechError, SpeechService

log = logging.getLogger(__name__)


@dataclass
class SpeechIntake:
    """What the menu needs to listen: the service, the classifier, where recordings land."""

    service: SpeechService
    classifier: Classifier
    lang: str
    host_path: Callable[[str], Path]
    """Asterisk's path of a recording -> the engine's (they differ under the chroot)."""
    known_skills: Collection[str]
    max_s: float = 10.0
    silence_s: float = 1.5


@dataclass
class IvrOutcome:
    skill: str
    priority: int = 0
    path: list[str] = field(default_factory=list)
    next: str = "queue"
    """Where the dialplan sends the caller: "queue" (an agent), "voicemail" or "emergency"."""
    emergency_dial: str = ""
    speech_text: str = ""


class MenuFlow:
    def __init__(
        self,
        cfg: IvrConfig,
        default_skill: str,
        hours: BusinessHours | None = None,
        clock: Callable[[], float] = time.time,
        speech: SpeechIntake | None = None,
    ) -> None:
        self._cfg = cfg
        self._default_skill = default_skill
        self._hours = hours
        self._clock = clock
        self._speech = speech

    async def __call__(self, channel: AgiChannel) -> None:
        outcome = await self.run(channel)
        await channel.set_variable("HOTLINE_SKILL", outcome.skill)
        await channel.set_variable("HOTLINE_PRIORITY", str(outcome.priority))
        await channel.set_variable("HOTLINE_IVR_PATH", ">".join(outcome.path))
        await channel.set_variable("HOTLINE_NEXT", outcome.next)
        if outcome.emergency_dial:
            await channel.set_variable("HOTLINE_EMERGENCY_DIAL", outcome.emergency_dial)
        if outcome.speech_text:
            await channel.set_variable("HOTLINE_SPEECH_TEXT", outcome.speech_text)

    def is_open(self) -> bool:
        if self._hours is None:
            return True
        return self._hours.is_open(datetime.fromtimestamp(self._clock(), UTC))

    async def run(self, channel: AgiChannel) -> IvrOutcome:
        if not self.is_open():
            await channel.stream_file("hotline/closed", escape="")
            return IvrOutcome(
                skill=self._default_skill, path=["closed", "voicemail"], next="voicemail"
            )
        path = ["greeting"]
        key = await channel.stream_file("hotline/greeting")
        timeout_ms = int(self._cfg.digit_timeout_s * 1000)
        for attempt in range(self._cfg.max_failures):
            if key is None and attempt == 0 and self._listening():
                key = await channel.stream_file("hotline/menu")
                if key is None:
                    key, heard = await self._listen(channel, path)
                    if heard is not None:
                        return heard
            if key is None:
                key = await channel.get_data("hotline/menu", timeout_ms, 1)
            if key is not None and key in self._cfg.menu:
                path.append(f"menu:{key}")
                return IvrOutcome(skill=self._cfg.menu[key], path=path)
            path.append("timeout" if key is None else f"invalid:{key[:1]}")
            key = await channel.stream_file("hotline/invalid")
        path.append("to-agent")
        return IvrOutcome(skill=self._default_skill, path=path)

    def _listening(self) -> bool:
        return self._speech is not None and self._speech.service.available(self._speech.lang)

    async def _listen(
        self, channel: AgiChannel, path: list[str]
    ) -> tuple[str | None, IvrOutcome | None]:
        """Record and recognise one sentence: (a key pressed, or the outcome it decided)."""
        sp = self._speech
        assert sp is not None
        folder = await channel.get_variable("HOTLINE_UTTERANCE_DIR") or "/tmp"
        target = f"{folder}/{channel.unique_id or 'call'}-{int(self._clock() * 1000)}"
        key = await channel.record(target, sp.max_s, sp.silence_s)
        if key is not None:
            return key, None
        try:
            transcript = await sp.service.transcribe(sp.host_path(target + ".wav"), sp.lang)
        except (SpeechError, OSError) as exc:  # speech must never block the keys
            log.warning("speech recognition failed for %s: %s", channel.unique_id, exc)
            return None, None
        if transcript.empty:
            return None, None
        found = sp.classifier.classify(transcript.text)
        await channel.user_event(
            "HotlineSpeech",
            CallId=channel.unique_id,
            Text=transcript.text[:200],
            Subject=found.subject,
            Category=found.category,
            Emergency=found.emergency.kind if found.emergency else "",
        )
        if found.emergency is not None:
            return None, IvrOutcome(
                skill=self._default_skill,
                path=[*path, "speech", f"emergency:{found.emergency.kind}"],
                next="emergency",
                emergency_dial=found.emergency.dial,
                speech_text=transcript.text,
            )
        skill = found.subject if found.subject in sp.known_skills else self._default_skill
        return None, IvrOutcome(
            skill=skill,
            path=[*path, f"speech:{found.subject}/{found.category}"],
            speech_text=transcript.text,
        )
