"""Offline speech intake: a caller's recorded utterance -> text, with Vosk.

A Vosk model takes seconds to load and hundreds of MB of memory, so each language's model is
loaded once per process (lazily, under a lock, or up front with ``warm_up``) and shared by all
calls; recognition itself runs in a worker thread (``asyncio.to_thread``) so the event loop
that serves every other call never waits for it. The WAV's own sample rate is handed to Vosk
(Asterisk's Record() writes 8 kHz ``wav`` or 16 kHz ``wav16``); Kaldi adapts the features.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hotline.speech.vosk_models import (
    ModelError,
    SpeechError,
    check_model_dir,
    installed_models,
    missing_files,
)

if TYPE_CHECKING:
    from hotline.base.settings import Config

log = logging.getLogger(__name__)

__all__ = [
    "AudioError",
    "LanguageStatus",
    "ModelError",
    "Recognizer",
    "SpeechError",
    "SpeechService",
    "SpeechUnavailable",
    "Transcript",
]

CHUNK_FRAMES = 4000  # half a second at 8 kHz: Vosk decodes while we read
MIN_RATE, MAX_RATE = 8000, 48000
# Vosk writes Mandarin as space-separated words; the screen-pop wants 我家停水了.
_CJK_GAP = re.compile(r"(?<=[\u3400-\u9fff]) +(?=[\u3400-\u9fff])")


class AudioError(SpeechError):
    """The recording is not a WAV the recogniser can read."""


class SpeechUnavailable(SpeechError):
    """No model for the caller's language: speech intake is off, DTMF still works."""


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str
    """What was said; empty for silence or sounds that are not words."""
    confidence: float
    """Mean Vosk word confidence, 0..1; 0.0 when nothing was recognised."""
    duration_s: float
    """Seconds of audio recognised."""
    elapsed_s: float = 0.0
    """Wall time the recognition took."""

    @property
    def empty(self) -> bool:
        return not self.text


class Recognizer:
    """One language's Vosk model, loaded once and shared by every call (thread-safe).

    Decoders (KaldiRecognizer) are pooled per sample rate and reset between calls: a fresh one
    spends about a second filling its decoding-graph cache on its first audio, a reused one
    starts warm (measured: 10 s of speech in 1.1 s instead of 2.7 s, silence in 0.1 s)."""

    def __init__(self, model_dir: Path, lang: str = "", max_idle: int = 4) -> None:
        self.model_dir = Path(model_dir)
        self.lang = lang
        self.load_s: float | None = None
        self._model: Any = None
        self._error: ModelError | None = None
        self._lock = threading.Lock()
        self._idle: dict[int, list[Any]] = {}
        self._max_idle = max_idle

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def error(self) -> ModelError | None:
        """Why the model did not load, once a load failed."""
        return self._error

    def load(self) -> None:
        """Load the model (blocking, ~3 s); later calls return at once, or repeat the error."""
        with self._lock:
            if self._model is not None:
                return
            if self._error is not None:  # a broken model stays broken: do not retry per call
                raise self._error
            try:
                self._model = self._load()
            except ModelError as exc:
                self._error = exc
                raise

    def _load(self) -> Any:
        check_model_dir(self.model_dir)
        try:
            import vosk
        except ImportError as exc:  # pragma: no cover - vosk is a dependency
            raise ModelError(f"the vosk package is not installed: {exc}") from None
        vosk.SetLogLevel(-1)  # Kaldi's log lines would flood the engine log
        started = time.monotonic()
        try:
            model = vosk.Model(str(self.model_dir))
        except Exception as exc:  # vosk raises a bare Exception("Failed to create a model")
            raise ModelError(f"the Vosk model at {self.model_dir} does not load: {exc}") from None
        self.load_s = time.monotonic() - started
        log.info("Vosk model %s (%s) loaded in %.1f s", self.model_dir, self.lang, self.load_s)
        return model

    def prime(self, rate: int = 8000) -> None:
        """Load the model and warm one decoder at ``rate`` on a second of silence, so the
        first caller gets a warm one."""
        self.load()
        rec = self._acquire(rate)
        rec.AcceptWaveform(bytes(2 * rate))
        rec.FinalResult()
        self._release(rate, rec)

    async def warm_up(self, rate: int = 8000) -> None:
        await asyncio.to_thread(self.prime, rate)

    async def transcribe(self, path: Path | str, max_seconds: float | None = None) -> Transcript:
        """transcribe_wav in a worker thread."""
        return await asyncio.to_thread(self.transcribe_wav, path, max_seconds)

    def transcribe_wav(self, path: Path | str, max_seconds: float | None = None) -> Transcript:
        """Recognise a mono 16-bit PCM WAV (blocking); ``max_seconds`` cuts long audio."""
        self.load()
        started = time.monotonic()
        texts: list[str] = []
        confs: list[float] = []
        with open_wav(Path(path)) as wav:
            rate = wav.getframerate()
            limit = wav.getnframes() if max_seconds is None else int(max_seconds * rate)
            rec = self._acquire(rate)
            done = 0
            while done < limit:
                data = wav.readframes(min(CHUNK_FRAMES, limit - done))
                if not data:
                    break
                done += len(data) // 2
                if rec.AcceptWaveform(data):  # an endpoint: a finished segment
                    _collect(rec.Result(), texts, confs)
            _collect(rec.FinalResult(), texts, confs)
            self._release(rate, rec)  # not reached on an error: that decoder is dropped
        text = " ".join(texts)
        if self.lang.startswith(("zh", "ja")):
            text = _CJK_GAP.sub("", text)
        return Transcript(
            text=text,
            confidence=round(sum(confs) / len(confs), 3) if confs else 0.0,
            duration_s=round(done / rate, 3),
            elapsed_s=round(time.monotonic() - started, 3),
        )

    def _acquire(self, rate: int) -> Any:
        with self._lock:
            idle = self._idle.get(rate)
            if idle:
                return idle.pop()
        import vosk

        try:
            rec = vosk.KaldiRecognizer(self._model, float(rate))
        except Exception as exc:
            raise SpeechError(f"Vosk refused a recogniser at {rate} Hz: {exc}") from None
        rec.SetWords(True)
        return rec

    def _release(self, rate: int, rec: Any) -> None:
        rec.Reset()
        with self._lock:
            idle = self._idle.setdefault(rate, [])
            if len(idle) < self._max_idle:
                idle.append(rec)


def open_wav(path: Path) -> wave.Wave_read:
    """Open a recording, refusing what Vosk cannot take (the caller closes it)."""
    try:
        wav = wave.open(str(path), "rb")
    except FileNotFoundError:
        raise AudioError(f"{path}: no such recording") from None
    except (wave.Error, EOFError, OSError) as exc:
        raise AudioError(f"{path}: not a readable PCM WAV file ({exc or 'truncated'})") from None
    problems = []
    if wav.getnchannels() != 1:
        problems.append(f"{wav.getnchannels()} channels (need mono)")
    if wav.getsampwidth() != 2:
        problems.append(f"{8 * wav.getsampwidth()}-bit samples (need 16-bit)")
    if not MIN_RATE <= wav.getframerate() <= MAX_RATE:
        problems.append(f"{wav.getframerate()} Hz (need {MIN_RATE}-{MAX_RATE})")
    if problems:
        wav.close()
        raise AudioError(f"{path}: {', '.join(problems)}")
    return wav


def _collect(result_json: str, texts: list[str], confs: list[float]) -> None:
    result = json.loads(result_json)
    text = str(result.get("text", "")).strip()
    if text:
        texts.append(text)
    confs.extend(float(w.get("conf", 0.0)) for w in result.get("result", []))


@dataclass(frozen=True, slots=True)
class LanguageStatus:
    lang: str
    enabled: bool
    model_dir: Path | None
    detail: str
    """One line for start-up logs and ``hotline status``."""
    loaded: bool = False


class SpeechService:
    """Which languages have a model, and one shared Recognizer per language."""

    def __init__(self, cfg: Config) -> None:
        self._cfg = cfg.speech
        self.models_dir = cfg.speech.models_dir or cfg.paths.state_dir / "models"
        self._recognizers: dict[str, Recognizer] = {}
        self._lock = threading.Lock()

    def languages(self) -> list[str]:
        return list(dict.fromkeys([*self._cfg.languages, *self._cfg.models]))

    def model_dir(self, lang: str) -> Path | None:
        """The configured directory, else the one install-model recorded, else None."""
        if lang in self._cfg.models:
            return self._cfg.models[lang]
        entry = installed_models(self.models_dir).get(lang)
        return Path(entry.path) if entry else None

    def language_status(self, lang: str) -> LanguageStatus:
        try:
            path = self.model_dir(lang)
        except ModelError as exc:
            return LanguageStatus(lang, False, None, f"speech intake off for {lang}: {exc}")
        if path is None:
            return LanguageStatus(
                lang,
                False,
                None,
                f"speech intake off for {lang}: no model at {self.models_dir} "
                f"(install one: hotline speech install-model ZIP --lang {lang})",
            )
        missing = missing_files(path) if path.is_dir() else []
        if not path.is_dir() or missing:
            why = f" (missing {', '.join(missing)})" if missing else ""
            return LanguageStatus(
                lang, False, path, f"speech intake off for {lang}: no model at {path}{why}"
            )
        rec = self._recognizers.get(lang)
        if rec is not None and rec.error is not None:
            return LanguageStatus(lang, False, path, f"speech intake off for {lang}: {rec.error}")
        detail = f"speech intake on for {lang}: {path.name} at {path}"
        if rec is not None and rec.load_s is not None:
            detail += f" (loaded in {rec.load_s:.1f} s)"
        return LanguageStatus(lang, True, path, detail, loaded=rec is not None and rec.loaded)

    def status(self) -> list[LanguageStatus]:
        return [self.language_status(lang) for lang in self.languages()]

    def status_lines(self) -> list[str]:
        return [s.detail for s in self.status()]

    def as_dict(self) -> dict[str, Any]:
        """For the engine's status JSON: language -> on/off, model and reason."""
        return {
            s.lang: {
                "enabled": s.enabled,
                "loaded": s.loaded,
                "model_dir": None if s.model_dir is None else str(s.model_dir),
                "detail": s.detail,
            }
            for s in self.status()
        }

    def available(self, lang: str) -> bool:
        return self.language_status(lang).enabled

    def recognizer(self, lang: str) -> Recognizer:
        """The shared recogniser for a language; SpeechUnavailable when it has no model."""
        with self._lock:
            rec = self._recognizers.get(lang)
            if rec is None:
                status = self.language_status(lang)
                if not status.enabled or status.model_dir is None:
                    raise SpeechUnavailable(status.detail)
                rec = self._recognizers[lang] = Recognizer(status.model_dir, lang)
            return rec

    async def warm_up(self) -> list[LanguageStatus]:
        """Load every available model (in worker threads) and log each language's state:
        start-up calls this so the first caller does not wait for a model to load."""
        for st in self.status():
            if st.enabled:
                try:
                    await self.recognizer(st.lang).warm_up(self._cfg.sample_rate)
                except SpeechError as exc:
                    log.warning("speech intake off for %s: %s", st.lang, exc)
        result = self.status()
        for st in result:
            (log.info if st.enabled else log.warning)("%s", st.detail)
        return result

    async def transcribe(
        self, path: Path | str, lang: str, *, utterance: bool = True
    ) -> Transcript:
        """Recognise a recording in ``lang``; an utterance is cut at ``max_utterance_s``,
        voicemail (``utterance=False``) is recognised whole."""
        limit = self._cfg.max_utterance_s if utterance else None
        return await self.recognizer(lang).transcribe(path, limit)
