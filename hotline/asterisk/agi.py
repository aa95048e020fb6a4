"""A FastAGI channel: send one AGI command, read its result, notice when the caller is gone."""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass

log = logging.getLogger(__name__)

ESCAPE_DIGITS = "0123456789*#"


class AgiHangup(Exception):
    """The caller hung up (or Asterisk closed the AGI session)."""


class AgiCommandError(Exception):
    """Asterisk refused an AGI command."""


@dataclass(frozen=True, slots=True)
class AgiResult:
    code: int
    result: str
    data: str


class AgiChannel:
    def __init__(
        self,
        headers: dict[str, str],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        command_timeout_s: float = 120.0,
    ) -> None:
        self.headers = headers
        self._reader = reader
        self._writer = writer
        self._timeout = command_timeout_s

    @property
    def unique_id(self) -> str:
        return self.headers.get("agi_uniqueid", "")

    @property
    def caller(self) -> str:
        return self.headers.get("agi_callerid", "")

    async def command(self, line: str) -> AgiResult:
        if "\n" in line or "\r" in line:
            raise ValueError("AGI command must be one line")
        self._writer.write(line.encode() + b"\n")
        await self._writer.drain()
        while True:
            raw = await asyncio.wait_for(self._readline(), self._timeout)
            if not raw:
                raise AgiHangup("AGI connection closed")
            text = raw.decode("utf-8", "replace").rstrip("\r\n")
            if text == "HANGUP":  # sent by Asterisk when the channel hangs up mid-command
                continue
            if text.startswith("520-"):  # multi-line usage error: read to its end marker
                while raw and not raw.startswith(b"520 "):
                    raw = await self._readline()
                raise AgiCommandError(f"{line!r}: invalid command syntax")
            parsed = parse_result(text)
            if parsed.code != 100:
                return self._checked(line, parsed)

    async def _readline(self) -> bytes:
        try:
            return await self._reader.readline()
        except ValueError:  # a line longer than the reader's limit: not Asterisk speaking
            raise AgiCommandError("AGI response line too long") from None

    @staticmethod
    def _checked(line: str, parsed: AgiResult) -> AgiResult:
        if parsed.code == 511:
            raise AgiHangup(parsed.data or "dead channel")
        if parsed.code != 200:
            raise AgiCommandError(f"{line!r}: {parsed.code} {parsed.data}")
        return parsed

    async def set_variable(self, name: str, value: str) -> None:
        await self.command(f'SET VARIABLE {name} "{_quote(value)}"')

    async def get_variable(self, name: str) -> str | None:
        res = await self.command(f"GET VARIABLE {name}")
        return res.data if res.result == "1" else None

    async def stream_file(self, prompt: str, escape: str = ESCAPE_DIGITS) -> str | None:
        """Play a prompt; return the key pressed to interrupt it, if any."""
        res = await self.command(f'STREAM FILE {prompt} "{escape}"')
        if res.result == "-1":
            await self._alive_or_raise(prompt)
            return None
        return _digit(res.result)

    async def say_number(self, number: int) -> None:
        await self.command(f'SAY NUMBER {int(number)} ""')

    async def exec(self, application: str, options: str = "") -> str:
        """Run a dialplan application; its AGI result (-2: no such application)."""
        res = await self.command(f'EXEC {application} "{_quote(options)}"')
        if res.result == "-2":
            raise AgiCommandError(f"no dialplan application {application!r}")
        return res.result

    async def get_data(self, prompt: str, timeout_ms: int, max_digits: int) -> str | None:
        """Play a prompt and read up to max_digits keys; None on time-out with no key."""
        res = await self.command(f"GET DATA {prompt} {timeout_ms} {max_digits}")
        if res.result == "-1":
            await self._alive_or_raise(prompt)
            return None
        return res.result or None

    async def record(self, path: str, max_s: float, silence_s: float) -> str | None:
        """Record what the caller says into ``path``.wav; a key pressed stops it and is returned.

        Recording ends after ``silence_s`` of silence or ``max_s`` in all (Asterisk decides).
        """
        silence = max(1, round(silence_s))
        res = await self.command(
            f'RECORD FILE {path} wav "{ESCAPE_DIGITS}" {int(max_s * 1000)} s={silence}'
        )
        if res.result == "-1":
            raise AgiHangup("hung up while recording")
        return _digit(res.result) if res.data == "dtmf" else None

    async def user_event(self, name: str, **headers: str) -> None:
        """Raise an AMI UserEvent from the IVR (values lose commas: they separate headers)."""
        body = ",".join(f"{k}: {v.replace(',', '，')}" for k, v in headers.items())
        await self.command(f'EXEC UserEvent "{_quote(name + "," + body)}"')

    async def _alive_or_raise(self, prompt: str) -> None:
        # STREAM FILE says -1 both for a hang-up and for a missing prompt file.
        status = await self.command("CHANNEL STATUS")
        if status.result in ("-1", "0", "1"):
            raise AgiHangup("channel is down")
        log.error("prompt %s could not be played (missing sound file?)", prompt)


_RESULT = re.compile(
    r"^(?P<code>\d{3})[ -](?:result=(?P<result>\S*)(?: \((?P<data>.*)\))?)?(?P<rest>.*)$"
)


def parse_result(text: str) -> AgiResult:
    """Parse one AGI response line: ``200 result=49 endpos=1234``, ``200 result= (timeout)``,
    ``200 result=1 (value)``, ``511 Command Not Permitted ...``."""
    m = _RESULT.match(text)
    if m is None:
        raise AgiCommandError(f"unreadable AGI response {text!r}")
    data = m.group("data")
    if data is None:
        data = m.group("rest").strip() if m.group("result") is None else ""
    return AgiResult(code=int(m.group("code")), result=m.group("result") or "", data=data)


def _digit(result: str) -> str | None:
    try:
        code = int(result)
    except ValueError:
        return None
    return chr(code) if code > 0 else None


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
