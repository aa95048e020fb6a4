"""A real SIP softphone for tests: baresip (Debian), registered as an agent, auto-answering.

baresip is driven over its ctrl_tcp module (netstring-framed JSON): we read its events
(REGISTER_OK, CALL_INCOMING, CALL_ESTABLISHED, CALL_CLOSED, ...) and send commands (hangup,
dial). It sends a tone file as its microphone and, with the sndfile module, writes what it hears
to WAV files, so a test can prove that audio really flowed both ways.
"""

from __future__ import annotations

import array
import asyncio
import json
import math
import shutil
import socket
import subprocess
import threading
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MODULES = Path("/usr/lib/baresip/modules")


class BaresipError(RuntimeError):
    pass


def tone_wav(path: Path, seconds: int = 60, hz: int = 440) -> Path:
    """An 8 kHz mono tone the phone sends as its microphone."""
    if not path.exists():
        subprocess.run(
            [
                "sox",
                "-n",
                "-r",
                "8000",
                "-c",
                "1",
                "-b",
                "16",
                str(path),
                "synth",
                str(seconds),
                "sine",
                str(hz),
                "vol",
                "0.3",
            ],
            check=True,
            capture_output=True,
        )
    return path


def wav_rms(path: Path) -> float:
    """Root mean square of a 16-bit WAV (0 = silence)."""
    with wave.open(str(path)) as w:
        frames = w.readframes(w.getnframes())
    samples = array.array("h", frames)
    if not samples:
        return 0.0
    return math.sqrt(sum(s * s for s in samples) / len(samples))


@dataclass
class BaresipPhone:
    user: str
    password: str
    registrar: str
    """host:port of the Asterisk PJSIP transport."""
    workdir: Path
    sip_port: int
    ctrl_port: int
    events: list[dict[str, Any]] = field(default_factory=list)
    _proc: subprocess.Popen[bytes] | None = None
    _sock: socket.socket | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, timeout: float = 15) -> None:
        if shutil.which("baresip") is None:
            raise BaresipError("baresip is not installed (apt-get install baresip)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        tone = tone_wav(self.workdir / "mic.wav")
        (self.workdir / "config").write_text(
            "\n".join(
                [
                    "poll_method epoll",
                    f"sip_listen 127.0.0.1:{self.sip_port}",
                    "call_local_timeout 120",
                    "call_max_calls 4",
                    f"audio_source aufile,{tone}",
                    # No sound card here: play into a file nobody reads; sndfile keeps the audio.
                    f"audio_player aufile,{self.workdir / 'speaker.wav'}",
                    f"audio_alert aufile,{self.workdir / 'speaker.wav'}",
                    "ausrc_srate 8000",
                    "auplay_srate 8000",
                    "ausrc_channels 1",
                    "auplay_channels 1",
                    f"module_path {MODULES}",
                    "module g711.so",
                    "module aufile.so",
                    "module sndfile.so",
                    "module_app account.so",
                    "module_app menu.so",
                    "module_app ctrl_tcp.so",
                    f"ctrl_tcp_listen 127.0.0.1:{self.ctrl_port}",
                    f"snd_path {self.workdir}",
                    "",
                ]
            ),
            encoding="utf-8",
        )
        (self.workdir / "accounts").write_text(
            f"<sip:{self.user}@{self.registrar};transport=udp>;auth_pass={self.password};"
            "answermode=auto;regint=600\n",
            encoding="utf-8",
        )
        with open(self.workdir / "baresip.log", "wb") as log:
            self._proc = subprocess.Popen(
                ["baresip", "-f", str(self.workdir)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while self._sock is None and time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise BaresipError(f"baresip exited at start:\n{self.log_tail()}")
            try:
                self._sock = socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=1)
            except OSError:
                time.sleep(0.1)
        if self._sock is None:
            raise BaresipError(f"baresip control port {self.ctrl_port} never opened")
        self._sock.settimeout(None)
        threading.Thread(target=self._read, args=(self._sock,), daemon=True).start()
        # Registration may have happened before we connected: ask Asterisk-side state instead
        # of relying on the REGISTER_OK event alone.
        while time.monotonic() < deadline:
            if self.registered():
                return
            time.sleep(0.1)
        raise BaresipError(f"baresip did not register as {self.user}:\n{self.log_tail()}")

    def registered(self) -> bool:
        if any(e.get("type") == "REGISTER_OK" for e in self.events):
            return True
        return "200 OK" in self.log_tail(200) and "[1 binding]" in self.log_tail(200)

    def _read(self, sock: socket.socket) -> None:
        buf = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            while b":" in buf:
                head, rest = buf.split(b":", 1)
                size = int(head)
                if len(rest) < size + 1:
                    break
                message, buf = rest[:size], rest[size + 1 :]
                with self._lock:
                    self.events.append(json.loads(message))

    def command(self, command: str, params: str = "") -> None:
        if self._sock is None:
            raise BaresipError("baresip is not running")
        body = json.dumps({"command": command, "params": params, "token": command}).encode()
        self._sock.sendall(str(len(body)).encode() + b":" + body + b",")

    def hangup(self) -> None:
        self.command("hangup")

    def dial(self, uri: str) -> None:
        self.command("dial", uri)

    async def wait_event(
        self, event_type: str, timeout: float = 30, after: int = 0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for event in self.events[after:]:
                    if event.get("type") == event_type:
                        return event
            await asyncio.sleep(0.05)
        raise AssertionError(
            f"baresip {self.user}: no {event_type} within {timeout} s; events: "
            f"{[e.get('type') for e in self.events]}\n{self.log_tail()}"
        )

    def heard_files(self) -> list[Path]:
        """WAV files of the audio this phone received (sndfile's '-dec' dumps)."""
        return sorted(self.workdir.glob("dump-*-dec.wav"))

    def stop(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = (self.workdir / "baresip.log").read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])
