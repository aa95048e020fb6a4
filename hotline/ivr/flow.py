"""The IVR flows: the national standard's direct flow (default), the menu flow, the keys a
waiting caller may press, and out of hours.

Direct flow (``[ivr] flow = "direct"``; the standard advises against menus before a human):
the call joins the ACD queue as the greeting starts (``HotlineQueued`` from here), so speaking
costs no place. The greeting invites the caller to say their request in one sentence; Vosk
recognises it while the caller is already waiting and the classifier refines the skill
(``HotlineNeed``: the ACD keeps the call's place) or, for an emergency, takes the call out of
the queue (``HotlineLeftQueue``) and sends it to 119/120/110/122. A key pressed during the
greeting is a waiting key (below). Path ``direct`` then ``speech:<subject>/<category>``,
``speech>emergency:<kind>``, ``speech:none`` or ``key:<k>``. An agent who becomes free during
the greeting takes the call at once: the greeting is cut, the caller is served. One free while
the caller says its sentence (``HotlineListening`` to the IVR's exit) is held for the caller
and sees the pop at once; its phone rings when the sentence is heard (hotline/acd/service.py,
``PARKED``): the caller is not cut off mid-sentence and the pop fills in with what was said.

Menu flow (``flow = "menu"``): greeting; an optional language choice (``[ivr.languages]``; a
language in ``language_skills`` goes straight to its agents); the main menu
(``[ivr.menu]``, hotline/ivr/menus.py). Each exit sets the ACD skill and priority and is appended to
the IVR path that lands on the call record (``greeting>lang:en>menu:1``). Wrong keys and
silence re-prompt; after ``max_failures`` the caller goes to an agent with the default skill
(nobody is ever stuck in a menu). With a speech model the caller may say what they need instead
of pressing a key, after the menu prompt.

Waiting keys (``[ivr.waiting_keys]``, both flows): the dialplan's hold context runs the
``waiting-key`` script for a key; it changes the call's need (e.g. English), reads a ticket's
progress, takes a callback that keeps the place, or leaves a message; the caller keeps their
place in every case but the last two.

Elderly callers (适老化, ``[elderly]``): a number registered as elderly hears only the short
greeting and is queued at once at the raised priority (path ``direct>elderly:registered``); any
caller who presses the elderly key during the greeting is raised the same way
(``elderly:key``; in the menu flow only a key that is not a main-menu key: the default 0 is the
menu's "an agent" there). Neither hears a speech invitation or a menu.

Emergencies: when the IVR sends a caller to 110/119/120/122 the handoff is recorded
(``on_emergency``: service, the IVR as who, the kind and sentence heard as why; the dialplan
reports the outcome when the leg ends).

Out of hours (opening hours by day type, hotline/ivr/hours.py) the caller hears so and is sent to
leave a message (``HOTLINE_NEXT=voicemail``), path ``closed>voicemail``. Any speech error falls back
to the keys: speech can only add a way in, never block one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from hotline.asterisk.agi import AgiChannel
from hotline.base.settings import ElderlyConfig, IvrConfig
from hotline.ivr.hours import BusinessHours
from hotline.ivr.menus import MenuExit
from hotline.ivr.ticket_status import TicketLookup, ticket_status_dialog
from hotline.speech import intake
from hotline.speech.classifier import Classifier
from hotline.speech.service import SpeechError, SpeechService

log = logging.getLogger(__name__)


@dataclass
class SpeechIntake:
    """What the IVR needs to listen: the service, the classifier, where recordings land."""

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
    """Where the dialplan sends the caller: "queue" (join the queue), "queued" (already in
    it: straight to the hold music), "voicemail" or "emergency"."""
    emergency_dial: str = ""
    emergency_number: str = ""
    """110/119/120/122: the service the emergency goes to."""
    speech_text: str = ""
    language: str = ""


@dataclass
class Listened:
    """What one recorded sentence gave: a key pressed instead, or an outcome, or nothing."""

    key: str | None = None
    outcome: IvrOutcome | None = None


class IvrFlow:
    """The parts every flow shares: settings, hours, speech, ticket lookup, the variables."""

    def __init__(
        self,
        cfg: IvrConfig,
        default_skill: str,
        hours: BusinessHours | None = None,
        clock: Callable[[], float] = time.time,
        speech: SpeechIntake | None = None,
        tickets: TicketLookup | None = None,
        skills: Collection[str] | None = None,
        elderly: ElderlyConfig | None = None,
        on_emergency: Callable[[str, str, str], Awaitable[None]] | None = None,
    ) -> None:
        self._cfg = cfg
        self._elderly = elderly
        self._on_emergency = on_emergency
        self._default_skill = default_skill
        self._hours = hours
        self._clock = clock
        self._speech = speech
        self._tickets = tickets
        self._skills = skills

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
        if outcome.next == "emergency" and self._on_emergency is not None:
            kind = outcome.path[-1] if outcome.path else "emergency"
            why = f"{kind}: {outcome.speech_text}"[:200]
            try:  # the caller goes to the service whatever the record does
                await self._on_emergency(channel.unique_id, outcome.emergency_number, why)
            except Exception:
                log.exception("handoff of %s to %s not recorded", channel.unique_id,
                              outcome.emergency_number)  # fmt: skip

    def elderly_number(self, caller: str) -> bool:
        return self._elderly is not None and caller in self._elderly.numbers

    def elderly_key(self, key: str | None) -> bool:
        return self._elderly is not None and bool(self._elderly.key) and key == self._elderly.key

    def elderly_outcome(self, path: list[str], next_: str = "queue") -> IvrOutcome:
        """Straight to a human at the raised priority (适老化)."""
        assert self._elderly is not None
        exit_ = MenuExit(skill=self._elderly.skill, priority=self._elderly.priority)
        return IvrOutcome(
            skill=self.skill_of(exit_), priority=exit_.priority, path=path, next=next_
        )

    async def run(self, channel: AgiChannel) -> IvrOutcome:
        raise NotImplementedError

    def is_open(self) -> bool:
        if self._hours is None:
            return True
        return self._hours.is_open(datetime.fromtimestamp(self._clock(), UTC))

    async def closed(self, channel: AgiChannel) -> IvrOutcome:
        await channel.stream_file("hotline/closed", escape="")
        return IvrOutcome(skill=self._default_skill, path=["closed", "voicemail"], next="voicemail")

    def skill_of(self, exit_: MenuExit) -> str:
        """The exit's skill, or the default one when no agent has it (built-in menus)."""
        skill = exit_.skill or self._default_skill
        if self._skills is not None and skill not in self._skills:
            log.warning("IVR exit to %r: no agent has that skill; using the default", skill)
            return self._default_skill
        return skill

    async def ticket_status(self, channel: AgiChannel, path: list[str]) -> None:
        if self._tickets is None:
            path.append("ticket:unavailable")
            await channel.stream_file("hotline/ticket-unavailable", escape="")
            return
        await ticket_status_dialog(
            channel,
            self._tickets,
            path,
            max_failures=self._cfg.max_failures,
            digit_timeout_ms=int(self._cfg.digit_timeout_s * 1000),
        )

    def listening(self) -> bool:
        return self._speech is not None and self._speech.service.available(self._speech.lang)

    async def listen(self, channel: AgiChannel, path: list[str]) -> Listened:
        """Record and recognise one sentence; classify it into a skill or an emergency."""
        sp = self._speech
        assert sp is not None
        folder = await channel.get_variable("HOTLINE_UTTERANCE_DIR") or "/tmp"
        target = f"{folder}/{channel.unique_id or 'call'}-{int(self._clock() * 1000)}"
        key = await channel.record(target, sp.max_s, sp.silence_s)
        if key is not None:
            return Listened(key=key)
        try:  # the one path from audio to a decision, shared with the CLI and the bench
            heard = await intake.hear(
                sp.service, sp.classifier, sp.host_path(target + ".wav"), sp.lang
            )
        except (SpeechError, OSError) as exc:  # speech must never block the keys
            log.warning("speech recognition failed for %s: %s", channel.unique_id, exc)
            return Listened()
        found, transcript = heard.classification, heard.transcript
        if found is None:
            return Listened()
        await channel.user_event(
            "HotlineSpeech",
            CallId=channel.unique_id,
            Text=transcript.text[:200],
            Subject=found.subject,
            Category=found.category,
            Emergency=found.emergency.kind if found.emergency else "",
        )
        if found.emergency is not None:
            return Listened(
                outcome=IvrOutcome(
                    skill=self._default_skill,
                    path=[*path, "speech", f"emergency:{found.emergency.kind}"],
                    next="emergency",
                    emergency_dial=found.emergency.dial,
                    emergency_number=found.emergency.number,
                    speech_text=transcript.text,
                )
            )
        skill = found.subject if found.subject in sp.known_skills else self._default_skill
        return Listened(
            outcome=IvrOutcome(
                skill=skill,
                path=[*path, f"speech:{found.subject}/{found.category}"],
                speech_text=transcript.text,
            )
        )

    async def on_key(
        self, channel: AgiChannel, key: str, path: list[str], skill: str
    ) -> IvrOutcome:
        """A waiting key ([ivr.waiting_keys]), pressed on the hold music or in the greeting."""
        exit_ = self._cfg.waiting_keys.get(key)
        if exit_ is None:
            path.append("invalid")
            await channel.stream_file("hotline/invalid", escape="")
            return IvrOutcome(skill=skill, path=path, next="queued")
        if exit_.action == "ticket-status":
            await self.ticket_status(channel, path)
            return IvrOutcome(skill=skill, path=path, next="queued")
        if exit_.action == "voicemail":
            await channel.user_event(
                "HotlineLeftQueue", CallId=channel.unique_id, Reason="voicemail"
            )
            return IvrOutcome(skill=skill, path=path, next="voicemail")
        if exit_.action == "callback":
            caller = await channel.get_variable("HOTLINE_CALLER") or ""
            await channel.user_event(
                "HotlineCallbackAccepted", CallId=channel.unique_id, Number=caller
            )
            await channel.stream_file("hotline/callback-ok", escape="")
            return IvrOutcome(skill=skill, path=path, next="hangup")
        new_skill = self.skill_of(exit_)
        await channel.user_event(
            "HotlineNeed",
            CallId=channel.unique_id,
            Skill=new_skill,
            CallPriority=str(exit_.priority),
        )
        if new_skill in self._cfg.language_skills.values():
            lang = next(k for k, v in self._cfg.language_skills.items() if v == new_skill)
            await channel.exec("Set", f"CHANNEL(language)={lang}")
        return IvrOutcome(skill=new_skill, priority=exit_.priority, path=path, next="queued")


class MenuFlow(IvrFlow):
    async def run(self, channel: AgiChannel) -> IvrOutcome:
        if not self.is_open():
            return await self.closed(channel)
        path = ["greeting"]
        caller = await channel.get_variable("HOTLINE_CALLER") or ""
        if self.elderly_number(caller):
            await channel.stream_file("hotline/greeting", escape="")
            return self.elderly_outcome([*path, "elderly:registered"])
        key = await channel.stream_file("hotline/greeting")
        if self.elderly_key(key) and key not in self._cfg.menu:  # a menu key keeps its meaning
            return self.elderly_outcome([*path, "elderly:key"])
        if self._cfg.languages:
            chosen, key = await self._choose_language(channel, path, key)
            if chosen is not None:
                return chosen
        timeout_ms = int(self._cfg.digit_timeout_s * 1000)
        failures = 0
        listened = False
        while failures < self._cfg.max_failures:
            if key is None and not listened and self.listening():
                listened = True
                key = await channel.stream_file("hotline/menu")
                if key is None:
                    heard = await self.listen(channel, path)
                    if heard.outcome is not None:
                        return heard.outcome
                    key = heard.key
            if key is None:
                key = await channel.get_data("hotline/menu", timeout_ms, 1)
            exit_ = self._cfg.menu.get(key) if key is not None else None
            if exit_ is not None and key is not None:
                path.append(f"menu:{key}")
                if exit_.action == "ticket-status":
                    await self.ticket_status(channel, path)
                    key = None  # back to the main menu: they may want an agent now
                    continue
                if exit_.action == "voicemail":
                    return IvrOutcome(skill=self._default_skill, path=path, next="voicemail")
                return IvrOutcome(skill=self.skill_of(exit_), priority=exit_.priority, path=path)
            failures += 1
            path.append("timeout" if key is None else f"invalid:{key[:1]}")
            key = await channel.stream_file("hotline/invalid")
        path.append("to-agent")
        return IvrOutcome(skill=self._default_skill, path=path)

    async def _choose_language(
        self, channel: AgiChannel, path: list[str], key: str | None
    ) -> tuple[IvrOutcome | None, str | None]:
        """(an outcome if the language goes straight to its agents, a key for the menu)."""
        timeout_ms = int(self._cfg.digit_timeout_s * 1000)
        for _ in range(self._cfg.max_failures):
            if key is None:
                key = await channel.get_data("hotline/language", timeout_ms, 1)
            lang = self._cfg.languages.get(key) if key is not None else None
            if lang is not None:
                path.append(f"lang:{lang}")
                await channel.exec("Set", f"CHANNEL(language)={lang}")
                skill = self._cfg.language_skills.get(lang)
                if skill is not None:
                    exit_ = MenuExit(skill=skill)
                    return IvrOutcome(skill=self.skill_of(exit_), path=path, language=lang), None
                return None, None
            path.append("lang-timeout" if key is None else f"lang-invalid:{key[:1]}")
            key = await channel.stream_file("hotline/invalid")
        return None, None  # no choice made: the channel's own language, the main menu


class DirectFlow(IvrFlow):
    async def run(self, channel: AgiChannel) -> IvrOutcome:
        if not self.is_open():
            return await self.closed(channel)
        path = ["direct"]
        skill = self._default_skill
        caller = await channel.get_variable("HOTLINE_CALLER") or ""
        if self.elderly_number(caller):
            # Queued at once at the raised priority; the short greeting and nothing else.
            outcome = self.elderly_outcome([*path, "elderly:registered"], next_="queued")
            await self._queued(channel, caller, outcome.skill, outcome.priority, outcome.path)
            await channel.stream_file("hotline/greeting", escape="")
            return outcome
        await self._queued(channel, caller, skill, 0, path)
        key = await channel.stream_file("hotline/greeting-direct")
        if self.elderly_key(key):
            outcome = self.elderly_outcome([*path, "elderly:key"], next_="queued")
            await self._need(channel, outcome.skill, outcome.priority)
            return outcome
        if key is None and self.listening():
            # An offer decided from now on waits for the sentence (the agent's pop fills in
            # with it) instead of moving the caller to ring the agent at once.
            await channel.user_event("HotlineListening", CallId=channel.unique_id)
            heard = await self.listen(channel, path)
            key = heard.key
            found = heard.outcome
            if found is not None and found.next == "emergency":
                await channel.user_event(
                    "HotlineLeftQueue", CallId=channel.unique_id, Reason="emergency"
                )
                return found
            if found is not None:
                path = found.path
                if found.skill != skill:
                    skill = found.skill
                    await self._need(channel, skill, 0)
                outcome = IvrOutcome(skill=skill, path=path, next="queued")
                outcome.speech_text = found.speech_text
                return outcome
            if key is None:
                path.append("speech:none")
        if self.elderly_key(key):  # pressed while the IVR listened, right after the greeting
            outcome = self.elderly_outcome([*path, "elderly:key"], next_="queued")
            await self._need(channel, outcome.skill, outcome.priority)
            return outcome
        if key is not None:
            path.append(f"key:{key}")
            return await self.on_key(channel, key, path, skill)
        return IvrOutcome(skill=skill, path=path, next="queued")

    async def _queued(
        self, channel: AgiChannel, caller: str, skill: str, priority: int, path: list[str]
    ) -> None:
        await channel.user_event(
            "HotlineQueued",
            CallId=channel.unique_id,
            Skill=skill,
            CallPriority=str(priority),
            Channel=channel.headers.get("agi_channel", ""),
            Caller=caller,
            IvrPath=">".join(path),
        )

    async def _need(self, channel: AgiChannel, skill: str, priority: int) -> None:
        await channel.user_event(
            "HotlineNeed", CallId=channel.unique_id, Skill=skill, CallPriority=str(priority)
        )


class WaitingKeyFlow(IvrFlow):
    """A waiting caller pressed a key (the hold context runs ``waiting-key,<key>``)."""

    async def run(self, channel: AgiChannel) -> IvrOutcome:
        key = channel.headers.get("agi_arg_1", "")[:1]
        skill = await channel.get_variable("HOTLINE_SKILL") or self._default_skill
        previous = await channel.get_variable("HOTLINE_IVR_PATH") or ""
        path = [p for p in previous.split(">") if p] + [f"key:{key}"]
        return await self.on_key(channel, key, path, skill)
