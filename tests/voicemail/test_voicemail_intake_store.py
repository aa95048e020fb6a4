"""Voicemail intake with the real parts short of Asterisk: the Korean Vosk model, a real SQLite
ticket store (migrated), real files. The database away, a crash between "ticket created" and
"sidecar marked done", a message the engine never heard of, audio that is not a WAV: each
message still becomes exactly one ticket. (Asterisk and MQTT end to end:
test_voicemail_tickets.py.)
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hotline.app.migrate import upgrade
from hotline.base.bus import EventBus
from hotline.base.settings import Config
from hotline.calls.records import CallOutcome, CallRecord
from hotline.recordings.notifier import VoicemailNotifier
from hotline.speech.classifier import Classifier
from hotline.speech.service import SpeechService
from hotline.tickets.lifecycle import TicketState
from hotline.tickets.service import TicketService
from hotline.tickets.store import TicketStore
from hotline.voicemail.rules import NO_SPEECH, VoicemailMessage, draft_for
from hotline.voicemail.service import VoicemailIntake
from tests.speech.test_vosk_speech import korean_model_dir, speak

SENTENCE = "엄마 나비 와요. 엄마 뭐 해요"
WORD = "엄마"


@pytest.fixture(scope="module")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> Config:
    state = tmp_path_factory.mktemp("vm-state")
    return Config.model_validate(
        {
            "paths": {"state_dir": str(state)},
            "speech": {"languages": ["ko"], "models": {"ko": str(korean_model_dir())}},
        }
    )


@pytest.fixture(scope="module")
def speech(cfg: Config) -> SpeechService:
    return SpeechService(cfg)  # one model load for the module, as in the engine


@pytest.fixture(scope="module")
def message_audio(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    wav = speak(SENTENCE, tmp_path_factory.mktemp("vm-audio") / "m.wav")
    return wav.read_bytes()


@pytest.fixture
def tickets(tmp_path: Path) -> Iterator[TicketService]:
    url = f"sqlite:///{tmp_path / 'tickets.db'}"
    upgrade(url)
    service = TicketService(TicketStore(url))
    yield service
    service.store.dispose()


def intake(
    folder: Path, speech: SpeechService, tickets: TicketService, cfg: Config
) -> tuple[VoicemailIntake, EventBus]:
    bus = EventBus(cfg.mqtt)  # not connected: published events wait in its queue

    async def lookup(call_id: str) -> CallRecord | None:
        return record(call_id, "13900000009")

    vm = VoicemailIntake(
        lambda: folder,
        speech,
        Classifier.from_config(cfg),
        tickets,
        VoicemailNotifier(bus),
        lang="ko",
        max_message_s=60,
        subject_codes=cfg.recordings.subject_codes,
        lookup_call=lookup,
    )
    return vm, bus


def record(call_id: str, caller: str) -> CallRecord:
    now = datetime.now(UTC)
    return CallRecord(
        unique_id=call_id, linked_id=call_id, caller=caller, dialled="12345", arrived_at=now,
        ended_at=now, outcome=CallOutcome.VOICEMAIL, ivr_path="closed>voicemail",
    )  # fmt: skip


async def step(vm: VoicemailIntake, folder: Path) -> None:
    if vm.store is None:  # what run() does first
        from hotline.voicemail.store import SidecarStore

        vm.store = SidecarStore(folder)
    await vm.step()


def published(bus: EventBus) -> list[tuple[str, dict[str, object]]]:
    """The private feed (whole events); each also has a display copy without personal data."""
    out = []
    while not bus._queue.empty():
        topic, payload = bus._queue.get_nowait()
        if "/private/" in topic:
            out.append((topic, json.loads(payload)))
    return out


def sidecar(folder: Path, name: str) -> dict[str, object]:
    data: dict[str, object] = json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
    return data


async def test_a_message_survives_the_database_being_away(
    tmp_path: Path,
    cfg: Config,
    speech: SpeechService,
    tickets: TicketService,
    message_audio: bytes,
) -> None:
    folder = tmp_path / "vm"
    folder.mkdir()
    name = "20261123-1763880000.1.wav"
    (folder / name).write_bytes(message_audio)
    away = TicketService(TicketStore(f"sqlite:///{tmp_path / 'no-such-dir' / 'x.db'}"))
    vm, bus = intake(folder, speech, away, cfg)
    vm.call_ended(record("1763880000.1", "13900000001"))
    await step(vm, folder)
    pending = sidecar(folder, name)
    assert (pending["status"], pending["attempts"], pending["caller"]) == (
        "pending",
        1,
        "13900000001",
    )
    assert "OperationalError" in str(pending["last_error"]) and published(bus) == []
    # The database is back (a restarted engine, or the next retry): one ticket, marked done.
    vm, bus = intake(folder, speech, tickets, cfg)
    await step(vm, folder)
    done = sidecar(folder, name)
    assert done["status"] == "done"
    ticket = tickets.store.get(str(done["ticket"]))
    assert (ticket.state, ticket.channel) == (TicketState.VOICEMAIL_REVIEW, "voicemail")
    assert ticket.calls == ("1763880000.1",) and ticket.recordings == (f"voicemail/{name}",)
    assert ticket.caller_number == "13900000001" and ticket.created_by == "voicemail"
    assert WORD in ticket.description.replace(" ", ""), ticket.description
    [(topic, event)] = published(bus)
    assert topic.endswith("calls/1763880000.1/voicemail_ticket")
    assert event["ticket"] == ticket.number and event["state"] == "voicemail_review"
    await step(vm, folder)  # nothing left to do
    assert len(tickets.find_by_call("1763880000.1")) == 1 and published(bus) == []


async def test_a_crash_after_creating_does_not_make_a_second_ticket(
    tmp_path: Path,
    cfg: Config,
    speech: SpeechService,
    tickets: TicketService,
    message_audio: bytes,
) -> None:
    folder = tmp_path / "vm"
    folder.mkdir()
    msg = VoicemailMessage(call_id="1763880000.2", file="20261123-1763880000.2.wav", ended=True)
    (folder / msg.file).write_bytes(message_audio)
    (folder / f"{msg.file}.json").write_text(json.dumps(msg.to_json()), encoding="utf-8")
    draft = draft_for(msg, "earlier", None, 1.0, f"voicemail/{msg.file}", {})
    first = tickets.create_voicemail(draft, actor="voicemail")  # then the engine died
    vm, _ = intake(folder, speech, tickets, cfg)
    await step(vm, folder)
    assert sidecar(folder, msg.file)["ticket"] == first.number
    assert [t.number for t in tickets.find_by_call(msg.call_id)] == [first.number]


async def test_unknown_and_unreadable_messages_still_become_tickets(
    tmp_path: Path,
    cfg: Config,
    speech: SpeechService,
    tickets: TicketService,
    message_audio: bytes,
) -> None:
    folder = tmp_path / "vm"
    folder.mkdir()
    orphan, broken = "20261123-1763880000.3.wav", "20261123-1763880000.4.wav"
    (folder / orphan).write_bytes(message_audio)  # the engine was down when this call ended
    (folder / broken).write_bytes(b"this is not audio")
    # The fail-safe AGI's note: written by another program, before its recording ended.
    noted = "20261123-1763880000.6.wav"
    (folder / noted).write_bytes(message_audio)
    note = {"call_id": "1763880000.6", "file": noted, "caller": "13900000006", "ended": False}
    (folder / f"{noted}.json").write_text(json.dumps(note), encoding="utf-8")
    vm, _ = intake(folder, speech, tickets, cfg)
    await step(vm, folder)
    assert not (folder / f"{orphan}.json").exists(), "taken while it may still be recording"
    assert "ticket" not in sidecar(folder, noted) and vm.created == 0  # left as written
    note["ended"] = True  # the script finished recording
    (folder / f"{noted}.json").write_text(json.dumps(note), encoding="utf-8")
    await step(vm, folder)
    assert tickets.store.get(str(sidecar(folder, noted)["ticket"])).caller_number == "13900000006"
    old = time.time() - 600
    for name in (orphan, broken):
        os.utime(folder / name, (old, old))
    await step(vm, folder)
    heard = tickets.store.get(str(sidecar(folder, orphan)["ticket"]))
    assert heard.caller_number == "13900000009"  # from its call record
    assert WORD in heard.description.replace(" ", "")
    unreadable = tickets.store.get(str(sidecar(folder, broken)["ticket"]))
    assert unreadable.description.startswith(NO_SPEECH)
    assert "语音识别失败" in unreadable.description
    assert unreadable.recordings == (f"voicemail/{broken}",)


async def test_recognition_runs_off_the_event_loop(
    tmp_path: Path,
    cfg: Config,
    speech: SpeechService,
    tickets: TicketService,
    message_audio: bytes,
) -> None:
    folder = tmp_path / "vm"
    folder.mkdir()
    (folder / "20261123-1763880000.5.wav").write_bytes(message_audio)
    vm, _ = intake(folder, speech, tickets, cfg)
    vm.call_ended(record("1763880000.5", "13900000005"))
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.ensure_future(ticker())
    started = time.monotonic()
    await step(vm, folder)
    took = time.monotonic() - started
    task.cancel()
    assert vm.created == 1
    # The loop kept turning while Vosk worked: at least a third of the 10 ms ticks happened.
    assert ticks >= took / 0.01 / 3, (ticks, took)
