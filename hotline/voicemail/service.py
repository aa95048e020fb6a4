"""Voicemail intake: every message left out of hours becomes exactly one ticket awaiting review.

The call's end (its record says voicemail) queues the message; one background task writes its
sidecar (``hotline.voicemail.store``), transcribes the WAV with the process's shared speech
model (in a worker thread, via ``hotline.speech.intake.hear``: the IVR's own path), creates the
ticket
and marks the sidecar done, then publishes the MQTT event. The same task sweeps the directory
at start-up and every ``retry_s``: pending sidecars (the database was away, the engine stopped
half-way) are retried, and WAVs nobody told us about (the engine was down at hang-up) are
taken in once they are complete. Rules: ``hotline.voicemail.rules``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

from hotline.calls.records import CallOutcome, CallRecord
from hotline.recordings.access import Requester as Requester  # re-exported: the desktop's import
from hotline.recordings.notifier import VoicemailNotifier
from hotline.recordings.service import AccessDenied as AccessDenied
from hotline.recordings.service import RecordingGone as RecordingGone
from hotline.recordings.service import RecordingService as RecordingService
from hotline.speech.classifier import Classification, Classifier
from hotline.speech.intake import hear
from hotline.speech.service import AudioError, SpeechError, SpeechService, SpeechUnavailable
from hotline.tickets.service import TicketService
from hotline.tickets.values import Channel, TicketDraft, TicketRecord
from hotline.voicemail.rules import (
    FALLBACK_SUBJECT,
    Status,
    VoicemailMessage,
    draft_for,
    is_complete,
)
from hotline.voicemail.store import Found, SidecarStore

log = logging.getLogger(__name__)

ACTOR = "voicemail"  # created_by of voicemail tickets: no agent took the call
CallLookup = Callable[[str], Awaitable[CallRecord | None]]
TicketHook = Callable[[VoicemailMessage, TicketRecord], Awaitable[None]]


class VoicemailIntake:
    def __init__(
        self,
        directory: Callable[[], Path],
        speech: SpeechService,
        classifier: Classifier,
        tickets: TicketService,
        notifier: VoicemailNotifier,
        *,
        lang: str,
        max_message_s: float,
        subject_codes: dict[str, str],
        retry_s: float = 30.0,
        lookup_call: CallLookup | None = None,
        clock: Callable[[], float] = time.time,
        on_ticket: TicketHook | None = None,
    ) -> None:
        self._on_ticket = on_ticket  # e.g. the recordings store's row for the message
        self._directory = directory  # may block (the managed Asterisk's root): resolved in run()
        self._speech = speech
        self._classifier = classifier
        self._tickets = tickets
        self._notifier = notifier
        self._lang = lang
        self._max_message_s = max_message_s
        self._retry_s = retry_s
        self._lookup_call = lookup_call
        self._clock = clock
        tree = tickets.settings.subjects.names
        fallback = FALLBACK_SUBJECT if FALLBACK_SUBJECT in tree else next(iter(tree))
        # A centre's own subject tree may lack a default code: never fail a message on it.
        self._subjects = {k: v if v in tree else fallback for k, v in subject_codes.items()}
        for skill, code in subject_codes.items():
            if code not in tree:
                log.warning("recordings.subject_codes.%s: %r is not a ticket subject", skill, code)
        self._fallback_subject = fallback
        self._ended: asyncio.Queue[CallRecord] = asyncio.Queue()
        self._wake = asyncio.Event()
        self.store: SidecarStore | None = None
        self.created = 0
        self.failures = 0

    # -- events in ----------------------------------------------------------------------------

    def call_ended(self, record: CallRecord) -> None:
        """From the call-record sink: never blocks AMI handling (the work is queued)."""
        if record.outcome is CallOutcome.VOICEMAIL:
            self._ended.put_nowait(record)
            self._wake.set()

    # -- the worker -----------------------------------------------------------------------------

    async def run(self) -> None:
        while self.store is None:
            try:
                directory = await asyncio.to_thread(self._directory)
            except Exception as exc:  # e.g. the managed Asterisk's root is not built yet
                log.error(
                    "voicemail directory unknown (%s); retrying in %.0f s", exc, self._retry_s
                )
                await asyncio.sleep(self._retry_s)
                continue
            self.store = SidecarStore(directory)
            log.info("voicemail intake watching %s", directory)
        while True:
            try:
                await self.step()
            except Exception:  # a bug must not stop intake for every later message
                log.exception("voicemail intake step failed; retrying in %.0f s", self._retry_s)
            try:
                await asyncio.wait_for(self._wake.wait(), self._retry_s)
            except TimeoutError:
                pass
            self._wake.clear()

    async def step(self) -> None:
        """Take in the calls that ended, then sweep the directory once."""
        store = self.store
        assert store is not None
        tried: set[str] = set()  # once per step: a failure waits for the next retry
        while not self._ended.empty():  # fresh messages first, never behind a backlog
            taken = await self._take_in(store, self._ended.get_nowait())
            if taken is not None:
                tried.add(taken[0].name)
                await self._process(store, *taken)
        for found in await asyncio.to_thread(store.scan, self._clock()):
            if found.wav.name in tried:
                continue
            msg = found.message
            if msg is not None and msg.status is Status.DONE:
                continue
            if msg is None:
                msg = await self._adopt(store, found)
                if msg is None:
                    continue
            elif not is_complete(msg, found.idle_s, self._max_message_s):
                continue  # a note written before recording (the fail-safe AGI): not done yet
            await self._process(store, found.wav, msg)

    async def _take_in(
        self, store: SidecarStore, record: CallRecord
    ) -> tuple[Path, VoicemailMessage] | None:
        wav = await asyncio.to_thread(store.find_wav, record.unique_id)
        if wav is None:  # hung up before Record() opened the file: there is no message
            log.info("call %s ended in voicemail without a message file", record.unique_id)
            return None
        msg = await asyncio.to_thread(store.load, wav.name)
        if msg is not None and msg.status is Status.DONE:
            return None
        msg = replace(
            msg or VoicemailMessage(call_id=record.unique_id, file=wav.name),
            caller=record.caller,
            ivr_path=record.ivr_path,
            left_at=record.arrived_at.isoformat(),
            ended=True,
        )
        await asyncio.to_thread(store.save, msg)  # durable before any work: rule 1
        return wav, msg

    async def _adopt(self, store: SidecarStore, found: Found) -> VoicemailMessage | None:
        """A WAV without a sidecar: still being recorded, or left while we were away."""
        msg = VoicemailMessage(call_id=found.call_id, file=found.wav.name)
        if not is_complete(msg, found.idle_s, self._max_message_s):
            return None  # its call record will bring it (or the next sweeps will)
        record = None
        if self._lookup_call is not None:
            try:
                record = await self._lookup_call(found.call_id)
            except Exception as exc:  # the store is away: adopt without, the WAV is the message
                log.warning("no call record for voicemail %s yet: %s", found.wav.name, exc)
        if record is not None:
            msg = replace(
                msg,
                caller=record.caller,
                ivr_path=record.ivr_path,
                left_at=record.arrived_at.isoformat(),
            )
        log.warning("voicemail %s had no sidecar (engine away at hang-up): taken in", msg.file)
        await asyncio.to_thread(store.save, msg)
        return msg

    async def _process(self, store: SidecarStore, wav: Path, msg: VoicemailMessage) -> None:
        text, found, audio_s, problem = await self._transcribe(wav)
        recording = f"voicemail/{msg.file}"
        try:
            draft = draft_for(
                msg,
                text,
                found,
                audio_s,
                recording,
                self._subjects,
                self._fallback_subject,
                problem,
            )
            ticket = await asyncio.to_thread(self._create_once, msg, draft)
        except Exception as exc:  # the database is away (or refuses): keep it pending, retry
            self.failures += 1
            failed = msg.failed(f"{type(exc).__name__}: {exc}")
            await asyncio.to_thread(store.save, failed)
            log.warning(
                "voicemail %s not yet a ticket (attempt %d, retry in %.0f s): %s",
                msg.file,
                failed.attempts,
                self._retry_s,
                exc,
            )
            return
        done = msg.done(ticket.number, text)
        await asyncio.to_thread(store.save, done)
        self.created += 1
        log.info("voicemail %s -> ticket %s (%s)", msg.file, ticket.number, ticket.state.value)
        self._notifier.ticket_created(done, ticket, recording)
        if self._on_ticket is not None:
            try:
                await self._on_ticket(done, ticket)
            except Exception as exc:  # the ticket stands; only the recording's row is missing
                log.warning("voicemail %s: recording metadata not stored: %s", msg.file, exc)

    async def _transcribe(self, wav: Path) -> tuple[str, Classification | None, float, str]:
        """(transcript, classification, audio seconds, problem); a message that cannot be
        recognised still becomes a ticket, with the reason for the reviewer."""
        try:
            heard = await hear(self._speech, self._classifier, wav, self._lang, utterance=False)
        except (SpeechError, OSError) as exc:
            log.warning("voicemail %s not recognised: %s", wav.name, exc)
            return "", None, 0.0, reviewer_reason(exc)
        t = heard.transcript
        return t.text, heard.classification, t.duration_s, ""

    def _create_once(self, msg: VoicemailMessage, draft: TicketDraft) -> TicketRecord:
        """Rule 3: the ticket already linked to this call, else a new one (worker thread)."""
        for ticket in self._tickets.find_by_call(msg.call_id):
            if ticket.channel == Channel.VOICEMAIL:
                return ticket
        return self._tickets.create_voicemail(draft, actor=ACTOR)


def reviewer_reason(exc: BaseException) -> str:
    """Why a message was not recognised, in the reviewer's words (the desk is Chinese); the
    technical detail (paths, the engine's message) goes to the log, not into the ticket."""
    if isinstance(exc, SpeechUnavailable):
        return "语音识别模型未安装或未加载（详见服务日志）"
    if isinstance(exc, AudioError | OSError):
        return "录音文件无法读取（详见服务日志）"
    return "语音识别引擎出错（详见服务日志）"
