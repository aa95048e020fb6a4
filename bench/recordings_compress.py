"""Recordings' compression (hotline/recordings/retention.py rule 4): how fast the purge pass
re-encodes
calls' WAVs and how much it saves, through the service the engine runs (sox, a real store).

A centre of 200 seats records about 16 kB/s per leg: ~90 GB of WAV on an 8-hour day. The bench
makes 8 kHz mono 16-bit calls from espeak-ng Mandarin speech (sentences with pauses, 60 s
each), stores them as 31-day-old recordings in a SQLite store, and runs ``purge`` with
compression on, once per format. It prints seconds of audio compressed per wall second and the
size against the WAV. Figures only; the machine is shared, so read them as a floor.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hotline.app.migrate import upgrade
from hotline.recordings.files import AudioRoots
from hotline.recordings.service import RecordingService
from hotline.recordings.store import RecordingStore

CALLS = 20
CALL_S = 60
SENTENCES = (
    "您好，这里是12345市民服务热线，请问有什么可以帮您？",
    "我家小区停水三天了，物业也不管，能不能帮忙催一下自来水公司。",
    "好的，请您留一下联系电话和详细地址，我们马上给您登记转办。",
)


def speech_call(folder: Path) -> Path:
    """One minute of an agent and a citizen talking (espeak-ng, 8 kHz mono 16-bit)."""
    parts = []
    for i, text in enumerate(SENTENCES):
        raw = folder / f"s{i}.wav"
        subprocess.run(["espeak-ng", "-v", "zh", "-w", str(raw), text], check=True)
        parts.append(str(raw))
    joined = folder / "joined.wav"
    subprocess.run(
        ["sox", "-q", *parts, "-r", "8000", "-c", "1", "-b", "16", str(joined),
         "gain", "-n", "-3", "pad", "0", "1", "repeat", "10", "trim", "0", str(CALL_S)],
        check=True,
    )  # fmt: skip
    return joined


def main() -> None:
    for tool in ("sox", "espeak-ng"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed (scripts/setup-system.sh installs it)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        call = speech_call(folder)
        wav_bytes = call.stat().st_size
        now = datetime(2026, 11, 23, 2, tzinfo=UTC)
        print(f"{CALLS} calls of {CALL_S} s, {wav_bytes / 1e6:.2f} MB of WAV each")
        print(f"  {'format':8}{'audio s / wall s':>18}{'size vs WAV':>14}{'wall s':>9}")
        for fmt in ("flac", "ogg"):
            url = f"sqlite:///{folder / f'{fmt}.db'}"
            upgrade(url)
            roots = AudioRoots(folder / fmt / "recordings", folder / fmt / "voicemail")
            store = RecordingStore(url)
            service = RecordingService(
                store, roots, retention_days={"call": 0}, compress_after_days=30,
                compress_format=fmt, clock=lambda: now,
            )  # fmt: skip
            for n in range(CALLS):
                path = f"calls/2026/10/01/{n}.1-1001.wav"
                target = roots.resolve(path)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(call, target)
                service.started("call", path, f"{n}.1", "1001", now - timedelta(days=31))
            started = time.perf_counter()
            result = service.purge(now)
            wall = time.perf_counter() - started
            store.dispose()
            if len(result.compressed) != CALLS:
                raise SystemExit(f"{fmt}: {len(result.compressed)} of {CALLS} compressed")
            ratio = 1 - result.bytes_saved / (wav_bytes * CALLS)
            print(f"  {fmt:8}{CALLS * CALL_S / wall:>18.0f}{ratio:>13.0%}{wall:>9.2f}")
