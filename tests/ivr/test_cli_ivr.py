"""``hotline ivr recognise`` (the real Korean Vosk model on espeak-ng speech) and ``hotline ivr
classify`` (the Mandarin tables), run as the operator runs them: a subprocess, JSON out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.speech.test_vosk_speech import korean_model_dir, silence, speak


def hotline(
    tmp_path: Path, *args: str, extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, **(extra or {}))
    env.pop("HOTLINE_CONFIG", None)
    env["HOTLINE_PATHS__STATE_DIR"] = str(tmp_path)
    env["HOTLINE_SPEECH__MODELS"] = json.dumps({"ko": str(korean_model_dir())})
    return subprocess.run(
        [sys.executable, "-m", "hotline", "ivr", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def as_json(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert proc.returncode == 0, proc.stderr
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


def test_recognise_prints_transcript_decision_and_times(tmp_path: Path) -> None:
    wav = speak("엄마 나비 와요", tmp_path / "utterance.wav")
    out = as_json(hotline(tmp_path, "recognise", str(wav), "--language", "ko", "--json"))
    assert "엄마" in out["transcript"].replace(" ", ""), out
    assert out["language"] == "ko" and out["audio_s"] > 0.5
    # Korean words match no Mandarin phrase: the default subject, no emergency.
    assert (out["subject"], out["category"], out["emergency"]) == (
        "general",
        "consultation",
        False,
    )
    assert out["emergency_number"] is None
    assert 0 < out["recognise_s"] <= out["elapsed_s"] < 30
    assert out["model_load_s"] > 0


def test_recognise_routes_an_emergency_word_like_the_ivr(tmp_path: Path) -> None:
    wav = speak("엄마 나비 와요", tmp_path / "utterance.wav")
    proc = hotline(tmp_path, "recognise", str(wav), "--language", "ko", "--json")
    # The same configuration mechanism as test_speech_ivr: a Korean word as a fire phrase.
    kinds = json.dumps({"fire": {"number": "119", "phrases": ["엄마"]}})
    args = ("recognise", str(wav), "--language", "ko", "--json")
    out = as_json(hotline(tmp_path, *args, extra={"HOTLINE_EMERGENCY__KINDS": kinds}))
    assert as_json(proc)["emergency"] is False
    assert (out["emergency"], out["emergency_kind"], out["emergency_number"]) == (
        True,
        "fire",
        "119",
    )


def test_recognise_silence_and_bad_input(tmp_path: Path) -> None:
    quiet = silence(tmp_path / "quiet.wav", 2)
    out = as_json(hotline(tmp_path, "recognise", str(quiet), "--language", "ko", "--json"))
    assert out["transcript"] == "" and out["subject"] is None and out["emergency"] is False
    text = tmp_path / "not.wav"
    text.write_text("not audio")
    bad = hotline(tmp_path, "recognise", str(text), "--language", "ko")
    assert bad.returncode == 2 and "not a readable PCM WAV" in bad.stderr
    none = hotline(tmp_path, "recognise", str(quiet), "--language", "fr")
    assert none.returncode == 3 and "speech intake off for fr" in none.stderr


@pytest.mark.parametrize(
    ("text", "subject", "category", "number"),
    [
        ("我家停水三天了，怎么办", "utilities", "help", None),
        ("我要投诉楼下饭店噪音太大", "environment", "complaint", None),
        ("楼下着火了", "general", "consultation", "119"),
        ("这里发生车祸了有人受伤", "general", "consultation", "122"),
    ],
)
def test_classify_prints_the_decision(
    tmp_path: Path, text: str, subject: str, category: str, number: str | None
) -> None:
    out = as_json(hotline(tmp_path, "classify", text, "--json"))
    assert (out["subject"], out["category"], out["emergency_number"]) == (
        subject,
        category,
        number,
    )
    assert out["emergency"] is (number is not None)
    assert isinstance(out["elapsed_s"], float) and out["elapsed_s"] >= 0  # printed, not judged


def test_classify_refuses_empty_text_and_prints_plain_text(tmp_path: Path) -> None:
    empty = hotline(tmp_path, "classify", "  ")
    assert empty.returncode == 2 and "TEXT is empty" in empty.stderr
    plain = hotline(tmp_path, "classify", "楼下着火了")
    assert plain.returncode == 0 and "emergency:  yes, fire -> 119" in plain.stdout
