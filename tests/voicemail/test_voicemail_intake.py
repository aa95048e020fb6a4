"""Voicemail intake, the pure parts: file names, sidecars, and the ticket a message becomes."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from hotline.base.settings import Config
from hotline.speech.classifier import Classifier
from hotline.tickets.values import LIMITS, FieldError, TicketDraft
from hotline.voicemail.rules import (
    DEFAULT_SUBJECT_CODES,
    NO_SPEECH,
    Status,
    VoicemailMessage,
    call_id_of,
    draft_for,
    is_complete,
)
from hotline.voicemail.store import SidecarStore

MSG = VoicemailMessage(
    call_id="1763880000.42",
    file="20261123-1763880000.42.wav",
    caller="13800138000",
    ivr_path="closed>voicemail",
    ended=True,
)
CLASSIFIER = Classifier.from_config(Config())


def draft(text: str, msg: VoicemailMessage = MSG, problem: str = "") -> TicketDraft:
    found = CLASSIFIER.classify(text) if text else None
    rec = f"voicemail/{msg.file}"
    return draft_for(msg, text, found, 12.0, rec, DEFAULT_SUBJECT_CODES, problem=problem)


def test_call_ids_come_from_our_file_names_only() -> None:
    assert call_id_of("20261123-1763880000.42.wav") == "1763880000.42"
    for name in ("1763880000.42.wav", "20261123-.wav", "20261123-a b.wav", "x.wav.json"):
        assert call_id_of(name) is None


def test_a_transcript_becomes_the_description_with_the_reviewers_note() -> None:
    d = draft("我家停水三天了怎么办")
    assert d.channel == "voicemail" and d.caller_number == "13800138000"
    assert d.calls == ("1763880000.42",)
    assert d.recordings == ("voicemail/20261123-1763880000.42.wav",)
    assert (d.subject_code, d.category) == ("02", "help")
    text = d.description
    assert text.startswith("我家停水三天了怎么办\n\n--\n")
    assert "语音导航路径：非工作时间 → 留言" in text and "来电编号 1763880000.42" in text
    assert "识别的事项：" in text and "/ 求助" in text


def test_silence_says_so_and_keeps_every_link() -> None:
    d = draft("", problem="")
    assert d.description.startswith(NO_SPEECH)
    assert (d.subject_code, d.category) == ("99", "consultation")
    failed = draft("", problem="no model for zh")
    assert "语音识别失败：no model for zh" in failed.description


def test_emergency_words_are_flagged_for_the_reviewer() -> None:
    d = draft("楼下着火了")
    assert "紧急情况，应转 119" in d.description
    assert d.handling_type == "emergency"  # 突发: first in the night review
    assert draft("我家停水三天了怎么办").handling_type == "normal"


def test_withheld_numbers_and_long_messages_still_make_a_valid_draft() -> None:
    d = draft(
        "停水" * 3000, VoicemailMessage(call_id="1.2", file="20261123-1.2.wav", caller="anonymous")
    )
    assert d.caller_number == ""
    assert len(d.description) <= LIMITS["description"]
    assert "语音导航路径：未知" in d.description
    msg = VoicemailMessage(call_id="1.2", file="20261123-1.2.wav", caller="abc")
    assert draft_for(msg, "", None, 0.0, "voicemail/x.wav", {}).caller_number == ""
    with pytest.raises(FieldError, match="recording"):
        draft_for(msg, "", None, 0.0, "../etc/passwd", {})


def test_a_message_is_complete_when_its_call_ended_or_the_file_is_long_idle() -> None:
    fresh = VoicemailMessage(call_id="1.2", file="20261123-1.2.wav")
    assert not is_complete(fresh, idle_s=100, max_message_s=180)
    assert is_complete(fresh, idle_s=241, max_message_s=180)
    assert is_complete(MSG, idle_s=0, max_message_s=180)


def test_sidecars_round_trip_and_record_progress(tmp_path: Path) -> None:
    store = SidecarStore(tmp_path)
    (tmp_path / MSG.file).write_bytes(b"RIFF")
    store.save(MSG.failed("OperationalError: database is away"))
    loaded = store.load(MSG.file)
    assert loaded is not None and loaded.attempts == 1 and loaded.status is Status.PENDING
    store.save(loaded.done("202611230000017", "我家停水"))
    on_disk = json.loads((tmp_path / f"{MSG.file}.json").read_text(encoding="utf-8"))
    assert (on_disk["status"], on_disk["ticket"], on_disk["caller"]) == (
        "done",
        "202611230000017",
        "13800138000",
    )
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left
    assert store.find_wav("1763880000.42") == tmp_path / MSG.file
    assert store.find_wav("1763880000.4") is None


def test_a_broken_sidecar_is_moved_aside_and_its_message_found_again(tmp_path: Path) -> None:
    store = SidecarStore(tmp_path)
    (tmp_path / MSG.file).write_bytes(b"RIFF")
    (tmp_path / f"{MSG.file}.json").write_text("{not json", encoding="utf-8")
    (tmp_path / "notes.wav").write_bytes(b"RIFF")  # not a message of ours
    last_written = time.time() - 5
    os.utime(tmp_path / MSG.file, (last_written, last_written))
    [found] = store.scan(now=0.0)  # the engine's clock is not the one that stamps files
    assert (found.call_id, found.message, round(found.idle_s)) == ("1763880000.42", None, 5)
    assert (tmp_path / f"{MSG.file}.json.bad").exists()
    assert SidecarStore(tmp_path / "missing").scan(now=0) == []


def test_a_message_being_recorded_is_not_idle_whatever_the_engines_clock_says(
    tmp_path: Path,
) -> None:
    # The engine's clock a year ahead (libfaketime in make test-years) or behind (a skewed
    # host): a WAV just written is idle for about 0 s on the clock that stamped it.
    store = SidecarStore(tmp_path)
    (tmp_path / MSG.file).write_bytes(b"RIFF")
    for engine_now in (time.time() + 365 * 86400, time.time() - 365 * 86400):
        [found] = store.scan(now=engine_now)
        assert found.idle_s < 5
    assert [p.name for p in tmp_path.glob("*.wav")] == [MSG.file]  # the marker is no message


def test_the_voicemail_event_says_when_the_message_is_an_emergency() -> None:
    from types import SimpleNamespace

    from hotline.base.bus import EventBus
    from hotline.recordings.notifier import VoicemailNotifier
    from hotline.tickets.lifecycle import TicketState

    bus = EventBus(Config().mqtt)
    notifier = VoicemailNotifier(bus)
    for handling, expected in (("emergency", True), ("normal", False)):
        ticket = SimpleNamespace(
            number="202611230000017", state=TicketState.VOICEMAIL_REVIEW, handling_type=handling
        )
        notifier.ticket_created(MSG, ticket, "voicemail/x.wav")  # type: ignore[arg-type]
        topic, raw = bus._queue.get_nowait()
        payload = json.loads(raw)
        assert topic.endswith(f"/private/calls/{MSG.call_id}/voicemail_ticket")
        shown, raw_shown = bus._queue.get_nowait()  # the display copy: no number, no text
        display = json.loads(raw_shown)
        assert shown == topic.replace("/private/", "/") and display["emergency"] is expected
        assert not {"caller", "transcript", "ticket", "recording"} & set(display)
        assert payload["emergency"] is expected and payload["ticket"] == "202611230000017"


def test_the_reviewer_reads_why_a_message_was_not_recognised_in_chinese() -> None:
    from hotline.speech.service import AudioError, SpeechError, SpeechUnavailable
    from hotline.voicemail.service import reviewer_reason

    reasons = {
        reviewer_reason(SpeechUnavailable("speech intake off for zh: no model at /x")),
        reviewer_reason(AudioError("/x.wav: not a readable PCM WAV file")),
        reviewer_reason(OSError("disk")),
        reviewer_reason(SpeechError("Vosk refused a recogniser")),
    }
    assert len(reasons) == 3  # the model, the file, the engine
    for reason in reasons:
        assert "/x" not in reason and not any("a" <= ch.lower() <= "z" for ch in reason), reason
