"""Events out on MQTT.

Publishing never blocks call handling: messages go to a bounded queue that one task drains into
the broker, reconnecting with back-off when the broker goes away.  MQTT carries notifications
for wall displays and other systems; the source of truth is Redis and the ticket store, so when
the queue overflows during a long broker outage the oldest notifications are dropped (and
counted in the log) rather than stalling the ACD.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiomqtt

from hotline.config import MqttConfig

log = logging.getLogger(__name__)


class EventBus:
    def __init__(self, cfg: MqttConfig, *, max_pending: int = 10000) -> None:
        self._cfg = cfg
        self._queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(maxsize=max_pending)
        self.dropped = 0
        self.published = 0
        self.connected = asyncio.Event()

    def topic(self, *parts: str) -> str:
        return "/".join([self._cfg.topic_prefix, *parts])

    def publish(self, topic_parts: tuple[str, ...], payload: dict[str, Any]) -> None:
        item = (self.topic(*topic_parts), json.dumps(payload, ensure_ascii=False).encode())
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
                    password=self._cfg.password or None,
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
