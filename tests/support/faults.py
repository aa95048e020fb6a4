"""A TCP proxy on loopback that a test can cut: one engine's own path to a shared service.

The real service (Redis, Mosquitto, AMI) stays up for everything else; only the connections
that go through this proxy suffer. It runs on its own thread and event loop, so a test's
blocking calls (the engine's HTTP API through urllib) never hold the forwarded traffic up.

Modes:
- ``pass``: bytes flow both ways;
- ``blackhole``: connections stay open and bytes are swallowed (a cut cable, a partition):
  the client learns nothing until its own time-outs;
- ``down``: every connection is closed at once and new ones are closed on arrival (the service
  went away: clients see the connection end and retry).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from dataclasses import dataclass, field


@dataclass
class CutProxy:
    listen_port: int
    target_port: int
    host: str = "127.0.0.1"
    mode: str = "pass"
    changes: list[tuple[float, str]] = field(default_factory=list)
    """(time.time(), mode) for each change: the test's evidence of when the cut began."""

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    def start(self) -> CutProxy:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._accept, self.host, self.listen_port), self._loop
        ).result(5)
        self.changes.append((time.time(), "pass"))
        return self

    def set_mode(self, mode: str) -> float:
        """Switch modes; returns when (time.time()) the switch took effect."""
        assert mode in ("pass", "blackhole", "down"), mode

        def switch() -> float:
            self.mode = mode
            if mode == "down":
                for writer in list(self._writers):
                    writer.transport.abort()
            at = time.time()
            self.changes.append((at, mode))
            return at

        return asyncio.run_coroutine_threadsafe(self._call(switch), self._loop).result(5)

    @staticmethod
    async def _call(fn: object) -> float:
        assert callable(fn)
        result = fn()
        assert isinstance(result, float)
        return result

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
            for writer in list(self._writers):
                writer.transport.abort()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode == "down":
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            for w in (writer, up_writer):
                self._writers.discard(w)
                w.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            while data := await reader.read(65536):
                if self.mode == "pass":
                    writer.write(data)
                    await writer.drain()
                # blackhole: swallowed; down: the connection is aborted already
        writer.transport.abort()
