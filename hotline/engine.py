"""The engine: wires the AMI bridge, FastAGI IVR, ACD, call records, MQTT and HTTP together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import redis.asyncio as aioredis
from aiohttp import web

from acd.ami.client import AmiClient
from acd.ami.events import ReviewCallbackResult
from acd.ami.watch import LoadWatch
from acd.calltracker import CallTracker
from acd.consumers import AmiConsumer
from acd.core import Acd, AcdPolicy
from acd.events import AgentStateChanged, CallbacksPaused, CallbacksResumed, Tick
from acd.metrics import ALL, MetricsBook, interval_start
from acd.notifier import AcdNotifier
from acd.services import AcdService
from acd.state import RedisAcdStore
from agents.resources import make_app
from agents.services import AgentService
from agents.web.resources import add_desktop, build_desk
from hotline.bus import EventBus
from hotline.config import Config
from hotline.credentials import mqtt_password, redis_password, signing_key
from hotline.filemodes import secure_state
from hotline.secrets import api_token, stored_secret
from ivr.classifier import Classifier
from ivr.flow import DirectFlow, MenuFlow, SpeechIntake, WaitingKeyFlow
from ivr.hours import BusinessHours, hours_clock
from ivr.server import FastAgiServer
from ivr.speech import SpeechService
from ivr.ticket_status import TicketStatus
from recordings.consumers import RecordingKeeper
from recordings.files import audio_roots, voicemail_directory
from recordings.notifier import RecordingNotifier, VoicemailNotifier
from recordings.recording_services import RecordingService
from recordings.review_pages import add_review_pages
from recordings.review_resources import add_review_routes
from recordings.review_service import VoicemailReview
from recordings.services import VoicemailIntake
from recordings.store import RecordingStore
from tickets.calendar_service import CalendarService
from tickets.migrate import upgrade
from tickets.persistence import CallRecordStore
from tickets.records import CallRecord
from tickets.resources import add_ticket_routes
from tickets.services import CallRecordService
from tickets.ticket_services import TicketService, settings_from_config
from tickets.ticket_store import TicketStore
from tickets.ticket_types import TicketNotFound, Viewer

log = logging.getLogger(__name__)
CENTRE_TZ = ZoneInfo("Asia/Shanghai")


def day_start(ts: float) -> float:
    """Midnight (China time) of the day `ts` falls in: "today" for a 12345 centre."""
    local = datetime.fromtimestamp(ts, CENTRE_TZ)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


class StartupError(Exception):
    """A part the engine needs is not there; the message says which and where."""


def ami_secret(cfg: Config) -> str:
    return stored_secret(cfg.paths.state_dir, "ami-secret", cfg.ami.secret)


class Engine:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.bus = EventBus(cfg.mqtt, mqtt_password(cfg))
        self.hours_clock = hours_clock(cfg.hours)
        self.speech = SpeechService(cfg)
        self.tickets = TicketService(
            TicketStore(cfg.database_url), settings_from_config(cfg.tickets)
        )
        # One calendar for deadlines, opening hours, the night review and staffing.
        self.calendar = CalendarService(self.tickets)
        self.hours = BusinessHours(cfg.hours, self.calendar.calendar)
        self.calendar_warning: str | None = None
        self.ami = AmiClient(
            cfg.ami.host,
            cfg.ami.port,
            cfg.ami.username,
            ami_secret(cfg),
            action_timeout_s=cfg.ami.action_timeout_s,
            reconnect_min_s=cfg.ami.reconnect_min_s,
            reconnect_max_s=cfg.ami.reconnect_max_s,
        )
        self.redis = aioredis.from_url(
            cfg.redis.url,
            socket_connect_timeout=3,
            username=cfg.redis.username,
            password=redis_password(cfg),
        )
        self.signing_key = signing_key(cfg)
        self.records = CallRecordService(CallRecordStore(cfg.database_url, cfg.spool_dir))
        self.service = AcdService(
            Acd(AcdPolicy.from_config(cfg.acd)),
            self.ami,
            RedisAcdStore(self.redis, cfg.redis.key_prefix, self.signing_key),
            AcdNotifier(self.bus),
            CallTracker(),
            action_timeout_s=cfg.ami.action_timeout_s,
            callback_dial=cfg.acd.callback_dial,
            callback_ring_s=cfg.acd.callback_ring_s,
            attempts=self.records,
            seats=cfg.seats,
            # At most ~4 snapshots a second under load (a restart reconciles the rest).
            save_gap_s=0.25,
        )
        self.agents = AgentService(self.service, {a.id: a for a in cfg.agents}, seats=cfg.seats)
        self.metrics = MetricsBook()
        self.service.observers.append(self._observe)
        # Recordings (recordings/): call audio metadata, retention, playback, quality review.
        self.recordings = RecordingService(
            RecordingStore(cfg.database_url),
            lambda: audio_roots(cfg),
            retention_days=cfg.recordings.retention_days,
            checklist=cfg.quality.items,
            sample_per_agent=cfg.quality.sample_per_agent,
            compress_after_days=cfg.recordings.compress_after_days,
            compress_format=cfg.recordings.compress_format,
        )
        self.recording_keeper = RecordingKeeper(
            self.recordings,
            cfg.spool_dir / "recordings",  # events wait on disk, beside the call-record spool
            purge_every_s=cfg.recordings.purge_every_s,
            retry_s=cfg.recordings.retry_s,
            notify=RecordingNotifier(self.bus).recording,
        )
        # Keeping up? AMI event lag and backlogs, warned about with figures (acd/ami/watch.py).
        self.load_watch = LoadWatch(
            {
                "ami_queue": self.ami.backlog,
                "recording_backlog": self.recording_keeper.backlog,
                "spooled_records": lambda: len(self.records.store.spooled()),
            }
        )
        self.load: dict[str, Any] = {}
        self.consumer = AmiConsumer(
            self.ami,
            self.service,
            self.service.tracker,
            self.service.notifier,  # one notifier: its in-process listeners hear the AMI side too
            self._record,
            preferred_agent=self.preferred_agent,
            recording_sink=self.recording_keeper.recording_started,
            review_result=self._review_result,
            watch=self.load_watch,
        )
        self.review = VoicemailReview(
            self.tickets,
            self.records,
            self.ami,
            review_by=cfg.review.by,
            max_attempts=cfg.review.max_attempts,
            calendar=self.tickets.settings.policy.calendar,
            callback_dial=cfg.acd.callback_dial,
            ring_s=cfg.review.ring_s,
            clock=time.time,
            seats=cfg.seats,
        )
        self.fastagi = FastAgiServer(
            self.ivr_routes(),
            cfg.acd.default_skill,
            cfg.fastagi.host,
            cfg.fastagi.port,
            agent_of=self._agent_of,
        )
        self.voicemail = self.voicemail_intake()
        self._tasks: list[asyncio.Task[Any]] = []
        self._http: web.AppRunner | None = None

    async def _watch_load(self, every_s: float = 5.0) -> None:
        while True:
            try:  # the spool count reads a directory: off the event loop
                self.load = await asyncio.to_thread(self.load_watch.check, time.time())
            except Exception:  # a figure must never stop the engine
                log.exception("load figures not taken")
            await asyncio.sleep(every_s)

    def _agent_of(self, call_id: str) -> str | None:
        """The agent the ACD rang for this call, if any (the IVR's log tells a caller taken by
        an agent from one who hung up)."""
        return next(
            (leg.agent_id for leg in self.service.legs.values() if leg.call_id == call_id), None
        )

    def ivr_routes(self) -> dict[str, Any]:
        """FastAGI scripts the dialplan calls: the IVR (direct or menu flow) and the keys
        a waiting caller presses."""
        cfg = self.cfg
        speech = self.speech_intake()
        flow = DirectFlow if cfg.ivr.flow == "direct" else MenuFlow
        return {
            name: kind(
                cfg.ivr,
                cfg.acd.default_skill,
                self.hours,
                self.hours_clock,
                speech=speech,
                tickets=self.ticket_status,
                skills=cfg.skills,
            )
            for name, kind in (("ivr", flow), ("waiting-key", WaitingKeyFlow))
        }

    async def _review_result(self, event: ReviewCallbackResult) -> None:
        await self.review.result(event.call_id, event.attempt, event.dial_status)

    async def ticket_status(self, number: str) -> TicketStatus | None:
        """A ticket's state and reply deadline for the IVR (no names, units or contents)."""

        def read() -> TicketStatus | None:
            try:
                rec = self.tickets.get(number, Viewer(role="agent"))
            except TicketNotFound:
                return None
            return TicketStatus(number=rec.number, state=rec.state, due=rec.reply_due_at)

        return await asyncio.get_running_loop().run_in_executor(None, read)

    def speech_intake(self) -> SpeechIntake:
        cfg = self.cfg
        if cfg.asterisk.mode == "managed":
            from hotline.asterisk.instance import ManagedAsterisk

            managed = ManagedAsterisk(cfg)

            def host_path(inside: str) -> Path:
                return managed.host_path(inside)
        else:
            host_path = Path
        return SpeechIntake(
            service=self.speech,
            classifier=Classifier.from_config(cfg),
            lang=cfg.speech.languages[0] if cfg.speech.languages else "zh",
            host_path=host_path,
            known_skills={skill for agent in cfg.agents for skill in agent.skills},
            max_s=cfg.speech.max_utterance_s,
            silence_s=cfg.speech.end_silence_s,
        )

    def voicemail_intake(self) -> VoicemailIntake:
        cfg = self.cfg

        async def lookup_call(call_id: str) -> CallRecord | None:
            return await asyncio.to_thread(self.records.store.get, call_id)

        return VoicemailIntake(
            lambda: voicemail_directory(cfg),
            self.speech,
            Classifier.from_config(cfg),
            self.tickets,
            VoicemailNotifier(self.bus),
            lang=cfg.speech.languages[0] if cfg.speech.languages else "zh",
            max_message_s=cfg.ivr.voicemail_max_s,
            subject_codes=cfg.recordings.subject_codes,
            retry_s=cfg.recordings.retry_s,
            lookup_call=lookup_call,
            on_ticket=self.recording_keeper.voicemail_ticket,
        )

    async def preferred_agent(self, caller: str) -> str | None:
        """Sticky routing: the agent who took the caller's most recent open ticket."""
        agent_ids = {a.id for a in self.cfg.agents}

        def lookup() -> str | None:
            found = self.tickets.repeat_check(caller, Viewer("supervisor"))
            for ticket in sorted(found.tickets, key=lambda t: t.last_contact_at, reverse=True):
                if ticket.created_by in agent_ids:
                    return ticket.created_by
            return None

        return await asyncio.to_thread(lookup)

    def _observe(self, decision: Any) -> None:
        if isinstance(decision, AgentStateChanged):
            self.metrics.agent_state(decision.agent_id, str(decision.state), decision.at)

    async def _record(self, record: CallRecord) -> None:
        self.metrics.add_record(record)
        await self.records.record(record)
        self.voicemail.call_ended(record)  # queued: a voicemail becomes a ticket (recordings/)
        self.recording_keeper.call_ended(record)  # journalled: the recording's end and size

    def metrics_now(self) -> dict[str, Any]:
        now = time.time()
        day = day_start(now)
        today = [
            self.metrics.totals(day, day + 86400, skill).to_json()
            for skill in sorted({ALL, *self.metrics.skills(interval_start(now))})
        ]
        return {
            "interval": [f.to_json() for f in self.metrics.current(now)],
            "today": today,
        }

    async def _publish_metrics(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.acd.metrics_publish_s)
            figures = self.metrics_now()
            for current in figures["interval"]:
                skill = current["skill"]
                day = next((d for d in figures["today"] if d["skill"] == skill), None)
                name = "all" if skill == ALL else skill
                self.bus.publish(("metrics", name), {"interval": current, "today": day})
            self.metrics.forget_before(day_start(time.time()) - 86400)

    async def _load_todays_records(self) -> None:
        start = day_start(time.time())
        try:
            records = await asyncio.to_thread(
                self.records.store.list_between,
                datetime.fromtimestamp(start, UTC),
                datetime.fromtimestamp(start + 86400, UTC),
            )
        except Exception as exc:  # the store may be away; figures restart from zero
            log.warning("could not load today's call records for the metrics: %s", exc)
            return
        for record in records:
            self.metrics.add_record(record)

    def status(self) -> dict[str, Any]:
        return {
            "ami_connected": self.ami.connected.is_set(),
            "mqtt_connected": self.bus.connected.is_set(),
            "waiting": self.service.acd.waiting_calls(),
            "agents": self.service.acd.agents(),
            "calls_in_progress": len(self.service.tracker.calls),
            "ivr_sessions": self.fastagi.active,
            "malformed_ami_events": self.ami.malformed_events,
            "dropped_ami_events": self.ami.dropped_events,
            "seats_on_other_calls": self.consumer.seats_on_other_calls(),
            "load": self.load,
            "metrics": self.metrics_now(),
            "speech": self.speech.status_lines(),
            "calendar_warning": self.calendar_warning,
            "calendar": self._calendar_years(),
        }

    def _calendar_years(self) -> dict[str, dict[str, str]]:
        """This year's and next year's source, as ``hotline calendar status`` says it."""
        this_year = datetime.now(CENTRE_TZ).year
        out = {}
        for year in (this_year, this_year + 1):
            status = self.calendar.calendar.year_status(year)
            out[str(year)] = {"source": status.source.value, "detail": status.detail}
        return out

    async def start(self) -> None:
        cfg = self.cfg
        await asyncio.to_thread(secure_state, cfg)
        try:
            await asyncio.to_thread(upgrade, cfg.database_url)
        except Exception as exc:
            # The engine still serves calls: records go to the spool until the store is back.
            log.error(
                "ticket store %s not migrated (%s); call records will be spooled",
                cfg.database_url,
                exc,
            )
        await self._load_calendar(start=True)
        try:
            await self.redis.ping()
        except Exception as exc:
            raise StartupError(
                f"redis.url: Redis at {cfg.redis.url} is not reachable: {exc}"
            ) from None
        await self._restore_acd()
        try:
            await self.fastagi.start()
        except OSError as exc:
            raise StartupError(
                f"fastagi.port: cannot listen on {cfg.fastagi.host}:{cfg.fastagi.port}: {exc}"
            ) from None
        app = make_app(api_token(cfg.paths.state_dir, cfg.http.api_token), self.agents, self.status)
        # Work orders and reports share the API (and its token) with the agent endpoints.
        add_ticket_routes(app, self.tickets)
        add_review_routes(app, self.review)  # voicemail review: the queue, "call back"
        # The web desktop (agents/web): pages and a websocket under /desk/, fed by the ACD.
        desk = build_desk(
            cfg,
            agents=self.agents,
            acd=self.service,
            tickets=self.tickets,
            ami=self.ami,
            status=self.status,
            publish=self.bus.publish,
            redis=self.redis,  # sessions survive an engine restart
        )
        add_desktop(app, desk, lambda sub: add_review_pages(sub, self.review, self.recordings))
        self._tasks.append(asyncio.ensure_future(desk.hub.run()))
        self._http = web.AppRunner(app, access_log=None)
        await self._http.setup()
        try:
            await web.TCPSite(self._http, cfg.http.host, cfg.http.port).start()
        except OSError as exc:
            raise StartupError(
                f"http.port: cannot listen on {cfg.http.host}:{cfg.http.port}: {exc}"
            ) from None
        await self._load_todays_records()
        # Loading a speech model takes seconds: in the background, calls are served meanwhile.
        self._tasks.append(asyncio.ensure_future(self.speech.warm_up()))
        await self.ami.start()
        for coro in (
            self._publish_metrics(),
            self.bus.run(),
            self.consumer.run(),
            self._tick(),
            self.records.run_spool_flusher(10.0),
            self.voicemail.run(),
            self.recording_keeper.run(),
            self.recording_keeper.run_purge(),
            self._watch_calendar(),
            self._watch_load(),
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

    async def _load_calendar(self, start: bool = False) -> None:
        """Imported arrangements in, provisional deadlines counted again, the warning set."""
        try:
            changed = await asyncio.to_thread(self.calendar.load)
            if changed or start:  # at start: the package may have learnt a year since
                await asyncio.to_thread(
                    self.calendar.recompute, "official calendar available", None
                )
        except Exception as exc:  # the store may be away: the calendar goes on as it was
            log.warning("calendar arrangements not loaded: %s", exc)
        warning = self.calendar.warning(datetime.now(UTC))
        if warning and warning != self.calendar_warning:
            log.warning("calendar: %s", warning)
        self.calendar_warning = warning

    async def _watch_calendar(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.tickets.calendar_poll_s)
            await self._load_calendar()

    async def _restore_acd(self) -> None:
        """The ACD's state from Redis if it is the engine's own and whole; otherwise start
        empty: reconciling with Asterisk's channels on connect requeues whoever is waiting."""
        snapshot = await self.service._store.load()
        if not snapshot:
            return
        try:
            self.service.restore(snapshot)
        except Exception as exc:  # signed, yet not a state this engine can use
            self.service.acd = Acd(AcdPolicy.from_config(self.cfg.acd))
            self.service.legs = {}
            self.service.tracker.calls = {}
            log.error(
                "ACD snapshot in Redis refused (%s: %s); starting from Asterisk's live state",
                type(exc).__name__,
                exc,
            )
            return
        log.info(
            "restored ACD state from Redis: %d waiting, %d agents",
            len(self.service.acd.waiting_calls()),
            len(self.service.acd.agents()),
        )

    async def _tick(self) -> None:
        open_before: bool | None = None
        while True:
            await asyncio.sleep(self.cfg.acd.tick_s)
            now = time.time()
            # Callbacks (accepted and missed-call) are placed only while agents work.
            is_open = self.hours.is_open(datetime.fromtimestamp(self.hours_clock(), UTC))
            if is_open != open_before:
                event = CallbacksResumed(at=now) if is_open else CallbacksPaused(at=now)
                await self.service.offer(event)
                open_before = is_open
            await self.service.offer(Tick(at=now))

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
