"""``hotline ivr recognise FILE.wav`` and ``hotline ivr classify "TEXT"``: the IVR's speech
decision from the command line, through ``hotline.speech.intake`` (the code the live IVR runs),
with the
model loaded and a decoder warmed as at engine start, so the time shown is a caller's.

Exit codes: 0 done, 2 bad input (unreadable audio, empty text), 3 no model for the language.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from hotline.base.settings import Config, load_config
from hotline.speech.classifier import Classifier
from hotline.speech.intake import decide, decision_json, hear
from hotline.speech.service import SpeechError, SpeechService, SpeechUnavailable


def _print(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return
    if "transcript" in result:
        print(f"transcript: {result['transcript'] or '(nothing recognised)'}")
    if result["subject"] is None:
        print("no words: the caller keeps the default route")
    else:
        print(f"subject:    {result['subject']} (confidence {result['subject_confidence']})")
        print(f"category:   {result['category']}")
        number = result["emergency_number"]
        kind = result["emergency_kind"]
        print(f"emergency:  {f'yes, {kind} -> {number}' if number else 'no'}")
    if "model_load_s" in result:
        print(f"model load: {result['model_load_s']:.2f} s (once per process)")
    print(f"time taken: {result['elapsed_s'] * 1000:.1f} ms")


async def _recognise(cfg: Config, wav: Path, lang: str, whole: bool) -> dict[str, Any]:
    service = SpeechService(cfg)
    started = time.perf_counter()
    await service.recognizer(lang).warm_up(cfg.speech.sample_rate)  # as the engine starts
    load_s = time.perf_counter() - started
    heard = await hear(service, Classifier.from_config(cfg), wav, lang, utterance=not whole)
    return {"file": str(wav), "language": lang, **heard.to_json(), "model_load_s": load_s}


def cmd_ivr(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    if args.action == "classify":
        text = args.text.strip()
        if not text:
            print("hotline ivr classify: TEXT is empty (give the caller's words)", file=sys.stderr)
            return 2
        found, classify_s = decide(Classifier.from_config(cfg), text)
        _print({"text": text, **decision_json(found), "elapsed_s": classify_s}, args.json)
        return 0
    lang = args.language or (cfg.speech.languages[0] if cfg.speech.languages else "zh")
    try:
        result = asyncio.run(_recognise(cfg, args.file, lang, args.voicemail))
    except SpeechUnavailable as exc:
        print(f"hotline ivr recognise: {exc}", file=sys.stderr)
        return 3
    except SpeechError as exc:  # unreadable audio, a model that does not load
        print(f"hotline ivr recognise: {exc}", file=sys.stderr)
        return 2
    _print(result, args.json)
    return 0


def add_ivr_parser(sub: Any) -> None:
    ivr = sub.add_parser("ivr", help="the IVR's speech decision from the command line")
    ivr_sub = ivr.add_subparsers(dest="action", required=True)
    rec = ivr_sub.add_parser(
        "recognise", help="transcribe a WAV and classify it, as the live IVR does"
    )
    rec.add_argument("file", type=Path, help="mono 16-bit PCM WAV, 8-48 kHz")
    rec.add_argument("--language", default=None, help="model language (default: the IVR's)")
    rec.add_argument(
        "--voicemail", action="store_true", help="recognise it whole, as voicemail intake does"
    )
    rec.add_argument("--json", action="store_true")
    cls = ivr_sub.add_parser("classify", help="classify a transcript, as the live IVR does")
    cls.add_argument("text", help="what the caller said")
    cls.add_argument("--json", action="store_true")
    ivr.set_defaults(func=cmd_ivr)
