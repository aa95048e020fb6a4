"""The engine: wires the AMI bridge, FastAGI IVR, ACD, call records, MQTT and HTTP together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import redis.asyncio as aioredis
from aiohttp import web

from acd.ami.client import AmiClient
from acd.calltracker import CallTracker
from acd.consumers import AmiConsumer
from acd.core import Acd, AcdPolicy
from acd.events import Tick
from acd.notifier import AcdNotifier
from acd.services import AcdService
from acd.state import RedisAcdStore
from agents.resources import make_app
from agents.services import AgentService
from hotline.bus import EventBus
from hotline.config import Config
from hotline.secrets import api_token, stored_secret
from ivr.flow import MenuFlow
from ivr.server import FastAgiServer
from tickets.migrate import upgrade
from tickets.persistence import CallRecordStore
from tickets.services import CallRecordService

log = logging.getLogger(__name__)


class StartupError(Exception):
    """A part the engine needs is not there; the message says which and where."""


def ami_secret(cfg: Config) -> str:
    return stored_secret(cfg.paths.state_dir, "ami-secret", cfg.ami.secret)


class Engine:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.bus = EventBus(cfg.mqtt)
        self.ami = AmiClient(
            cfg.ami.host,
            cfg.ami.port,
            cfg.ami.username,
            ami_secret(cfg),
            action_timeout_s=cfg.ami.action_timeout_s,
            reconnect_min_s=cfg.ami.reconnect_min_s,
            reconnect_max_s=cfg.ami.reconnect_max_s,
        )
        self.redis = aioredis.from_url(cfg.redis.url, socket_connect_timeout=3)
        self.records = CallRecordService(CallRecordStore(cfg.database_url, cfg.spool_dir))
        self.service = AcdService(
            Acd(AcdPolicy.from_config(cfg.acd)),
            self.ami,
            RedisAcdStore(self.redis, cfg.redis.key_prefix),
            AcdNotifier(self.bus),
            CallTracker(),
            action_timeout_s=cfg.ami.action_timeout_s,
        )
        self.agents = AgentService(self.service, {a.id: a for a in cfg.agents})
        self.consumer = AmiConsumer(
            self.ami,
            self.service,
            self.service.tracker,
            AcdNotifier(self.bus),
            self.records.record,
        )
        self.fastagi = FastAgiServer(
            {"ivr": MenuFlow(cfg.ivr, cfg.acd.default_skill)},
            cfg.acd.default_skill,
            cfg.fastagi.host,
            cfg.fastagi.port,
        )
        self._tasks: list[asyncio.Task[Any]] = []
        self._http: web.AppRunner | None = None

    def status(self) -> dict[str, Any]:
        return {
            "ami_connected": self.ami.connected.is_set(),
            "mqtt_connected": self.bus.connected.is_set(),
            "waiting": self.service.acd.waiting_calls(),
            "agents": self.service.acd.agents(),
            "calls_in_progress": len(self.service.tracker.calls),
            "ivr_sessions": self.fastagi.sessions,
            "malformed_ami_events": self.ami.malformed_events,
        }

    async def start(self) -> None:
        cfg = self.cfg
        try:
            await asyncio.to_thread(upgrade, cfg.database_url)
        except Exception as exc:
            # The engine still serves calls: records go to the spool until the store is back.
            log.error(
                "ticket store %s not migrated (%s); call records will be spooled",
                cfg.database_url,
                exc,
            )
        try:
            await self.redis.ping()
        except Exception as exc:
            raise StartupError(
                f"redis.url: Redis at {cfg.redis.url} is not reachable: {exc}"
            ) from None
        snapshot = await self.service._store.load()
        if snapshot:
            self.service.restore(snapshot)
            log.info(
                "restored ACD state from Redis: %d waiting, %d agents",
                len(self.service.acd.waiting_calls()),
                len(self.service.acd.agents()),
            )
        try:
            await self.fastagi.start()
        except OSError as exc:
            raise StartupError(
                f"fastagi.port: cannot listen on {cfg.fastagi.host}:{cfg.fastagi.port}: {exc}"
            ) from None
        app = make_app(api_token(cfg.paths.state_dir, cfg.http.api_token), self.agents, self.status)
        self._http = web.AppRunner(app, access_log=None)
        await self._http.setup()
        try:
            await web.TCPSite(self._http, cfg.http.host, cfg.http.port).start()
        except OSError as exc:
            raise StartupError(
                f"http.port: cannot listen on {cfg.http.host}:{cfg.http.port}: {exc}"
            ) from None
        await self.ami.start()
        for coro in (
            self.bus.run(),
            self.consumer.run(),
            self._tick(),
            self.records.run_spool_flusher(10.0),
        ):
            self._tasks.append(asyncio.ensure_future(coro))
        log.info(
            "engine started: FastAGI %s:%d, HTTP %s:%d, AMI %s:%d",
            cfg.fastagi.host,
            cfg.fastagi.port,
            cfg.http.host,
            cfg.http.port,
            cfg.ami.host,
            cfg.ami.port,
        )

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.acd.tick_s)
            await self.service.offer(Tick(at=time.time()))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.service.drain()
        self.ami.close()
        await self.fastagi.stop()
        if self._http is not None:
            await self._http.cleanup()
        await self.redis.aclose()


async def run_engine(cfg: Config, stop: asyncio.Event | None = None) -> None:
    engine = Engine(cfg)
    await engine.start()
    try:
        await (stop or asyncio.Event()).wait()
    finally:
        await engine.stop()
