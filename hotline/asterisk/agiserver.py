"""The FastAGI server the dialplan calls (``AGI(agi://127.0.0.1:4573/ivr)``).

Rule: whatever happens here, the caller ends up in the agent queue, never in dead air.
- A request for a script we do not serve gets the default routing and returns at once.
- An exception inside a flow is logged; the default routing is set (if the channel still
  exists) and the AGI returns, so the dialplan goes on to ``hotline-queue``.
- A broken handshake (garbage, a client that never finishes its headers) is cut off by a
  size limit and a time-out without touching any call.

A session that ends with the channel gone is not always a caller hanging up: a waiting-key
script on the hold music, or the direct flow's greeting, is cut when the ACD moves the caller
to ring an agent (the sentence the caller is saying is not: that offer waits for the IVR's
exit). ``agent_of`` (the ACD's own legs) tells the two apart in the log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence

from hotline.asterisk.agi import AgiChannel, AgiHangup

log = logging.getLogger(__name__)

Flow = Callable[[AgiChannel], Awaitable[None]]

_MAX_HEADER_BYTES = 16384
_HANDSHAKE_TIMEOUT_S = 5.0


class FastAgiServer:
    def __init__(
        self,
        routes: Mapping[str, Flow],
        default_skill: str,
        host: str | Sequence[str] = "127.0.0.1",
        port: int = 4573,
        agent_of: Callable[[str], str | None] | None = None,
        reuse_port: bool = False,
    ) -> None:
        self._routes = dict(routes)
        # Two engines (leader and standby) on one machine serve the same port: the kernel
        # spreads the dialplan's connections over both, and all go to the survivor.
        self._reuse_port = reuse_port
        self._agent_of = agent_of
        self._default_skill = default_skill
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None
        self.sessions = 0
        """Sessions since start (a running total)."""
        self.active = 0
        """Sessions in progress: the callers in the IVR now."""
        self.failures = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._handle, self._host, self._port, reuse_port=self._reuse_port or None
        )
        log.info("FastAGI listening on %s port %d", self._host, self._port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            headers = await asyncio.wait_for(_read_headers(reader), _HANDSHAKE_TIMEOUT_S)
        except (TimeoutError, ValueError, ConnectionError) as exc:
            log.warning("FastAGI handshake refused: %s", exc)
            writer.close()
            return
        self.sessions += 1
        self.active += 1
        channel = AgiChannel(headers, reader, writer)
        script = headers.get("agi_network_script", "").strip("/")
        flow = self._routes.get(script)
        try:
            if flow is None:
                log.error(
                    "FastAGI: no script %r (call %s); sending the caller to the queue",
                    script,
                    channel.unique_id,
                )
                await self._default_route(channel, f"fallback:unknown-script:{script}"[:80])
            else:
                await flow(channel)
        except AgiHangup:
            agent = self._agent_of(channel.unique_id) if self._agent_of is not None else None
            if agent is None:
                log.info("caller %s hung up in the IVR", channel.unique_id)
            else:
                log.debug("call %s left the IVR for agent %s", channel.unique_id, agent)
        except Exception:
            self.failures += 1
            log.exception(
                "IVR flow %r failed for call %s; sending the caller to the queue",
                script,
                channel.unique_id,
            )
            try:
                await self._default_route(channel, "fallback:ivr-error")
            except Exception as exc:  # the channel is gone or the socket broke
                log.warning("could not set default routing for %s: %s", channel.unique_id, exc)
        finally:
            self.active -= 1
            writer.close()

    async def _default_route(self, channel: AgiChannel, path: str) -> None:
        await channel.set_variable("HOTLINE_SKILL", self._default_skill)
        await channel.set_variable("HOTLINE_PRIORITY", "0")
        await channel.set_variable("HOTLINE_IVR_PATH", path)


async def _read_headers(reader: asyncio.StreamReader) -> dict[str, str]:
    headers: dict[str, str] = {}
    size = 0
    while True:
        raw = await reader.readline()
        if not raw:
            raise ConnectionError("connection closed during AGI handshake")
        size += len(raw)
        if size > _MAX_HEADER_BYTES:
            raise ValueError("AGI handshake too large")
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if not line:
            if "agi_network_script" not in headers and "agi_request" not in headers:
                raise ValueError("not an AGI handshake")
            return headers
        key, sep, value = line.partition(": ")
        if not sep or not key.startswith("agi_"):
            raise ValueError(f"not an AGI header: {line[:60]!r}")
        headers[key] = value
