"""Events out on MQTT.

Publishing never blocks call handling: messages go to a bounded queue that one task drains into
the broker, reconnecting with back-off when the broker goes away.  MQTT carries notifications
for wall displays and other systems; the source of truth is Redis and the ticket store, so when
the queue overflows during a long broker outage the oldest notifications are dropped (and
counted in the log) rather than stalling the ACD.

Two feeds (the broker's ACL, hotline/base/localservices.py, keeps them apart):

- ``<prefix>/private/<topic>``: every event whole, numbers, what callers said and voicemail
  text included; only the engine's user (and users given the same rights) can read it.
- ``<prefix>/<topic>``: the same event for wall displays, with only the fields in
  ``DISPLAY_FIELDS``: a field not listed (a caller's number, a transcript, a seat, a
  recording's path) never reaches a display, including fields added later.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiomqtt

from hotline.base.settings import MqttConfig

log = logging.getLogger(__name__)

PRIVATE = "private"
# Fields a display may see: states, skills, timings and figures, never who called or what they
# said. Anything else stays on the private feed.
DISPLAY_FIELDS = frozenset(
    {
        "event", "type", "call_id", "at", "skill", "priority", "agent_id", "state", "reason",
        "waited_s", "wait_s", "outcome", "position", "ewt_s", "attempt", "attempts",
        "ring_timeout_s", "subject", "category", "emergency", "step", "kind", "started_at",
        "ended_at", "size_bytes", "interval", "today",
        # hot spots (tickets.hotspots): codes, names of subject and area, counts; no caller
        "subject_name", "area", "area_name", "count", "window_minutes",
    }
)  # fmt: skip


def display_copy(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k in DISPLAY_FIELDS}


class EventBus:
    def __init__(self, cfg: MqttConfig, password: str = "", *, max_pending: int = 10000) -> None:
        self._cfg = cfg
        self._password = password or cfg.password
        self._queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(maxsize=max_pending)
        self.dropped = 0
        self.published = 0
        self.connected = asyncio.Event()

    def topic(self, *parts: str) -> str:
        return "/".join([self._cfg.topic_prefix, *parts])

    def publish(self, topic_parts: tuple[str, ...], payload: dict[str, Any]) -> None:
        """The whole event on the private feed, its display fields on the display feed."""
        self._put(self.topic(PRIVATE, *topic_parts), payload)
        self._put(self.topic(*topic_parts), display_copy(payload))

    def _put(self, topic: str, payload: dict[str, Any]) -> None:
        item = (topic, json.dumps(payload, ensure_ascii=False).encode())
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            self._queue.get_nowait()
            self.dropped += 1
            if self.dropped % 100 == 1:
                log.warning("MQTT backlog full: %d notifications dropped so far", self.dropped)
            self._queue.put_nowait(item)

    async def run(self) -> None:
        backoff = 0.5
        while True:
            try:
                async with aiomqtt.Client(
                    hostname=self._cfg.host,
                    port=self._cfg.port,
                    username=self._cfg.username or None,
                    password=self._password or None,
                    timeout=5,
                ) as client:
                    self.connected.set()
                    backoff = 0.5
                    log.info("MQTT connected to %s:%d", self._cfg.host, self._cfg.port)
                    while True:
                        topic, payload = await self._queue.get()
                        try:
                            await client.publish(topic, payload, qos=1)
                        except aiomqtt.MqttError:
                            # Put it back at the front of the line: it was not delivered.
                            self._requeue(topic, payload)
                            raise
                        self.published += 1
            except aiomqtt.MqttError as exc:
                self.connected.clear()
                log.warning("MQTT broker unavailable (%s); retrying in %.1f s", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(30.0, backoff * 2)

    def _requeue(self, topic: str, payload: bytes) -> None:
        pending = [(topic, payload)]
        while not self._queue.empty():
            pending.append(self._queue.get_nowait())
        for item in pending[: self._queue.maxsize]:
            self._queue.put_nowait(item)
