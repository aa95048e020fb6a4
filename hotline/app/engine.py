"""The engine: wires the AMI bridge, FastAGI IVR, ACD, call records, MQTT and HTTP together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import redis.asyncio as aioredis
from aiohttp import web

from hotline.acd.agents import AgentService
from hotline.acd.consumer import AmiConsumer
from hotline.acd.core import Acd, AcdPolicy
from hotline.acd.events import AgentStateChanged, CallbacksPaused, CallbacksResumed, Tick
from hotline.acd.http import make_app
from hotline.acd.notifier import AcdNotifier
from hotline.acd.service import AcdService
from hotline.acd.store import RedisAcdStore
from hotline.app.leader import RedisLeader
from hotline.app.lease import LeaseTiming
from hotline.app.migrate import upgrade
from hotline.asterisk.agiserver import FastAgiServer
from hotline.asterisk.ami.client import AmiClient
from hotline.asterisk.ami.cluster import ClusterAmi
from hotline.asterisk.ami.events import ReviewCallbackResult
from hotline.asterisk.ami.watch import LoadWatch
from hotline.asterisk.audio import voicemail_directory
from hotline.base.bus import EventBus
from hotline.base.credentials import mqtt_password, redis_password, signing_key
from hotline.base.daytypes import CENTRE_TZ
from hotline.base.filemodes import secure_state
from hotline.base.secrets import api_token, stored_secret
from hotline.base.settings import Config
from hotline.calendar.service import CalendarService
from hotline.calls.metrics import ALL, MetricsBook
from hotline.calls.records import CallRecord
from hotline.calls.service import CallRecordService
from hotline.calls.store import CallRecordStore
from hotline.calls.tracker import CallTracker
from hotline.cluster.nodes import fastagi_hosts, node_config
from hotline.desk.guard import Desk
from hotline.desk.plugin import add_desktop, build_desk
from hotline.followup.dialer import SurveyDialer
from hotline.followup.flows import SatisfactionFlow, SurveyFlow
from hotline.followup.store import SERVICES, FollowupStore, Handoff, HandoffLog
from hotline.followup.tickets import TicketSurveys
from hotline.ivr.flow import DirectFlow, MenuFlow, SpeechIntake, WaitingKeyFlow
from hotline.ivr.hours import BusinessHours, hours_clock
from hotline.ivr.ticket_status import TicketStatus
from hotline.recordings.consumer import RecordingKeeper
from hotline.recordings.files import audio_roots
from hotline.recordings.notifier import RecordingNotifier, VoicemailNotifier
from hotline.recordings.service import RecordingService
from hotline.recordings.store import RecordingStore
from hotline.speech.classifier import Classifier
from hotline.speech.service import SpeechService
from hotline.tickets.hotspots import Hotspot
from hotline.tickets.hotspots import banner as hotspot_banner
from hotline.tickets.http import add_ticket_routes
from hotline.tickets.service import TicketService, settings_from_config
from hotline.tickets.store import TicketStore
from hotline.tickets.values import TicketNotFound, Viewer
from hotline.voicemail.http import add_review_routes
from hotline.voicemail.pages import add_review_pages
from hotline.voicemail.review_service import VoicemailReview
from hotline.voicemail.service import VoicemailIntake

log = logging.getLogger(__name__)


def day_start(ts: float) -> float:
    """Midnight (China time) of the day `ts` falls in: "today" for a 12345 centre."""
    local = datetime.fromtimestamp(ts, CENTRE_TZ)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def add_routes(
    app: web.Application, desk: Desk, review: VoicemailReview, recordings: RecordingService
) -> None:
    """Every route of the engine's HTTP server but the standby's ``/api/v1/leader``, on the
    bearer API ``app``. docs/openapi.yaml describes the JSON ones: tests/app/test_openapi_routes.py
    builds this table and fails on a route the description (or the list of pages) lacks."""
    # Work orders and reports share the API (and its token) with the agent endpoints.
    add_ticket_routes(app, desk.tickets)
    add_review_routes(app, review)  # voicemail review: the queue, "call back"
    # The web desktop: pages, its JSON API and a websocket under /desk/, fed by the ACD.
    add_desktop(
        app, desk, lambda sub: add_review_pages(sub, review, recordings, desk.tickets, desk.agents)
    )


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
        self.calendar_provisional_year: int | None = None  # the desktop words it per language
        self._catalogue_stamp: object = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.tickets.on_hotspot.append(self._hotspot)
        self.cluster: ClusterAmi | None = None
        if cfg.clustered:
            # One AMI client per node; to every other part the cluster looks like one
            # Asterisk (ClusterAmi routes each action to the node of its call).
            self.cluster = ClusterAmi(
                {node.name: self._ami_client(node_config(cfg, node)) for node in cfg.nodes},
                node_lost_after_s=cfg.cluster.node_lost_after_s,
            )
            self.ami = cast(AmiClient, self.cluster)
        else:
            self.ami = self._ami_client(cfg)
        self.redis = aioredis.from_url(
            cfg.redis.url,
            socket_connect_timeout=3,
            username=cfg.redis.username,
            password=redis_password(cfg),
        )
        self.signing_key = signing_key(cfg)
        self.leader = self._leader() if cfg.cluster.standby else None
        self.exit_code = 0
        self.stopped = asyncio.Event()
        """Set when the engine must end by itself (it lost the lease)."""
        self.records = CallRecordService(CallRecordStore(cfg.database_url, cfg.spool_dir))
        self.service = AcdService(
            Acd(AcdPolicy.from_config(cfg.acd)),
            self.ami,
            RedisAcdStore(
                self.redis,
                cfg.redis.key_prefix,
                self.signing_key,
                fence=None if self.leader is None else self._fence,
            ),
            AcdNotifier(self.bus),
            CallTracker(
                inbound_110=self._from_110,
                double_non_default=cfg.linkage.double_non_default,
            ),
            action_timeout_s=cfg.ami.action_timeout_s,
            callback_dial=cfg.acd.callback_dial,
            callback_ring_s=cfg.acd.callback_ring_s,
            attempts=self.records,
            seats=cfg.seats,
            write_ahead=cfg.cluster.standby,
        )
        # 110/119/120/122 linkage and the phone survey (一事一评): hotline/followup/store.py.
        self.followups = FollowupStore(cfg.database_url)
        self.handoffs = HandoffLog(self.followups)
        self.surveys = SurveyDialer(
            cfg.survey,
            TicketSurveys(self.tickets, cfg.survey.retry_s, cfg.survey.max_attempts),
            self.followups,
            self.ami,
            lambda day: self.calendar.calendar.is_workday(day),
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
        # Keeping up? AMI event lag and backlogs, warned about with figures
        # (hotline/asterisk/ami/watch.py).
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
            handoff_ended=lambda ev: self.handoffs.ended(ev.call_id, ev.dial_status),
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
            fastagi_hosts(cfg),
            cfg.fastagi.port,
            agent_of=self._agent_of,
            reuse_port=cfg.cluster.standby,
        )
        self.voicemail = self.voicemail_intake()
        self._tasks: list[asyncio.Task[Any]] = []
        self._leading: list[asyncio.Task[Any]] = []
        self._stopping = False
        self._http: web.AppRunner | None = None

    # -- the standby engine (docs/CLUSTER.md) -----------------------------------------------
    def _leader(self) -> RedisLeader:
        cfg = self.cfg
        self.lease_redis = aioredis.from_url(
            cfg.redis.url,
            socket_connect_timeout=1,
            username=cfg.redis.username,
            password=redis_password(cfg),
        )
        c = cfg.cluster
        leader = RedisLeader(
            self.lease_redis,
            cfg.redis.key_prefix,
            c.engine_id or f"{socket.gethostname()}:{cfg.http.port}",
            c.advertise_url or f"http://{cfg.http.host}:{cfg.http.port}",
            LeaseTiming(c.lease_ms / 1000, c.renew_ms / 1000, c.safety_ms / 1000, c.poll_ms / 1000),
            on_lead=self._lead,
            on_step_down=self._step_down,
        )
        self.ami.gate = leader.token
        return leader

    def _fence(self) -> tuple[str, str] | None:
        """(lease key, our lease value) for a fenced save; None: not leading, do not save."""
        leader = self.leader
        if leader is None or leader.token() is None:
            return None
        return leader.key, leader.value

    def leading(self) -> bool:
        return self.leader is None or self.leader.token() is not None

    async def _lead(self, token: int) -> None:
        # Off the lease's loop: restoring and logging in to AMI must not delay a renewal.
        self._leading.append(asyncio.ensure_future(self._take_over(token)))

    async def _take_over(self, token: int) -> None:
        started = time.monotonic()
        await self._restore_acd()  # what the last leader saved; AMI's reconciliation does the rest
        await self.ami.start()
        self._start_leading_tasks()
        log.warning(
            "took over under token %d in %.0f ms: %d waiting, %d agents; reconciling with "
            "Asterisk on AMI log-in",
            token,
            (time.monotonic() - started) * 1000,
            len(self.service.acd.waiting_calls()),
            len(self.service.acd.agents()),
        )

    async def _step_down(self, token: int, reason: str) -> None:
        """Fenced: the AMI gate is shut already (by the clock); stop the leader's work and
        end the process, so its supervisor starts a fresh standby (no state of this term
        can leak into a later one)."""
        self.ami.close()
        for task in self._leading:
            task.cancel()
        if self._stopping:
            return
        self.exit_code = 75  # EX_TEMPFAIL: start me again
        self.stopped.set()

    async def _stand_by(self, every_s: float = 1.0) -> None:
        """Warm state: the leader's last snapshot, for `hotline status` and a quick takeover."""
        while not self._leading:
            try:
                snapshot = await self.service.saved()
                if snapshot and not self._leading:
                    self.service.restore(snapshot)
            except Exception as exc:  # Redis away or a snapshot refused: try again later
                log.debug("standby: snapshot not read: %s", exc)
            await asyncio.sleep(every_s)

    def _start_leading_tasks(self) -> None:
        """What only the leader does: AMI events, timers, spools that write records once."""
        for coro in (
            self._publish_metrics(),
            self.consumer.run(),
            self._tick(),
            self.records.run_spool_flusher(10.0),
            self.voicemail.run(),
            self.recording_keeper.run(),
            self.recording_keeper.run_purge(),
            self._watch_calendar(),
            self.surveys.run(),  # survey calls (回访): placed once, by the leader
        ):
            self._leading.append(asyncio.ensure_future(coro))

    @web.middleware
    async def _standby_http(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """A standby serves its status and says who leads; the rest goes to the leader (the
        desktop's front proxy checks /api/v1/leader; sessions are in Redis, so an agent's
        desktop reconnects to the new leader without logging in again)."""
        if self.leading() or request.path in ("/api/v1/status", "/api/v1/leader"):
            response: web.StreamResponse = await handler(request)
            return response
        url = self.leader.leader_url if self.leader else ""
        return web.json_response(
            {"error": "this engine stands by; ask the leader", "leader": url},
            status=503,
            headers={"Retry-After": "1", "X-Hotline-Leader": url},
        )

    async def _leader_route(self, _request: web.Request) -> web.Response:
        body = self.cluster_status()
        return web.json_response(body, status=200 if self.leading() else 503)

    def cluster_status(self) -> dict[str, Any]:
        if self.leader is None:
            return {"role": "single", "token": None, "lease_age_s": None}
        lease = self.leader.lease
        age = self.leader.lease_age_s()
        return {
            "role": str(lease.role),
            "engine_id": self.leader.engine_id,
            "token": lease.token,
            "lease_age_s": None if age is None else round(age, 3),
            "leader_url": self.leader.http_url if self.leading() else self.leader.leader_url,
            "holder": self.leader.engine_id if self.leading() else lease.holder,
            "refused_ami_actions": self.ami.refused_not_leading,
        }

    def _ami_client(self, cfg: Config) -> AmiClient:
        """The AMI client of one Asterisk (``cfg``: the engine's, or a node's own view)."""
        return AmiClient(
            cfg.ami.host,
            cfg.ami.port,
            cfg.ami.username,
            ami_secret(cfg),
            action_timeout_s=cfg.ami.action_timeout_s,
            reconnect_min_s=cfg.ami.reconnect_min_s,
            reconnect_max_s=cfg.ami.reconnect_max_s,
        )

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
        """FastAGI scripts the dialplan calls: the IVR (direct or menu flow), the keys
        a waiting caller presses, the question after the call and the survey call."""
        cfg = self.cfg
        speech = self.speech_intake()
        flow = DirectFlow if cfg.ivr.flow == "direct" else MenuFlow
        routes: dict[str, Any] = {
            name: kind(
                cfg.ivr,
                cfg.acd.default_skill,
                self.hours,
                self.hours_clock,
                speech=speech,
                tickets=self.ticket_status,
                skills=cfg.skills,
                elderly=cfg.elderly,
                on_emergency=self._ivr_emergency,
            )
            for name, kind in (("ivr", flow), ("waiting-key", WaitingKeyFlow))
        }
        routes["satisfaction"] = SatisfactionFlow(cfg.satisfaction)
        routes["survey"] = SurveyFlow(cfg.survey, self.surveys.done)
        return routes

    def _from_110(self, caller: str, dialled: str) -> bool:
        """Was the call transferred in by the 110 centre ([linkage]: caller id or the line)?"""
        link = self.cfg.linkage
        return caller in link.from_110_callers or dialled in link.from_110_dialled

    async def _ivr_emergency(self, call_id: str, service: str, why: str) -> None:
        if service in SERVICES:
            self.handoffs.opened(
                Handoff(call_id=call_id, direction="out", service=service, kind="ivr_emergency",
                        agent_id="ivr", at=self.handoffs.now(), reason=why)
            )  # fmt: skip

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

    async def _record(self, record: CallRecord) -> str:
        stored = await self.records.record(record)
        if stored == "duplicate":  # finished again after a takeover: counted once already
            return stored
        if record.linkage == "from-110":  # linkage the other way: 110 handed the caller to us
            self.handoffs.opened(
                Handoff(call_id=record.unique_id, direction="in", service="110",
                        kind="from_110", agent_id=record.agent_id or "", at=record.arrived_at,
                        reason="transferred in by 110", outcome=record.outcome.value,
                        ended_at=record.ended_at, double_non=record.double_non)
            )  # fmt: skip
        self.metrics.add_record(record)
        self.voicemail.call_ended(record)  # queued: a voicemail becomes a ticket (recordings/)
        self.recording_keeper.call_ended(record)  # journalled: the recording's end and size
        return stored

    def metrics_now(self) -> dict[str, Any]:
        now = time.time()
        day = day_start(now)
        today = [
            self.metrics.totals(day, day + 86400, skill).to_json()
            # every skill with calls today, not only those busy in the current interval
            for skill in sorted({ALL, *self.metrics.skills(day, day + 86400)})
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
            "nodes": self.cluster.nodes_connected() if self.cluster is not None else {},
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
            "calendar_provisional_year": self.calendar_provisional_year,
            "hotspots": hotspot_banner(self.tickets.current_hotspots()),
            "calendar": self._calendar_years(),
            "cluster": self.cluster_status(),
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
        self._loop = asyncio.get_running_loop()
        await self._load_catalogue()
        try:
            await self.redis.ping()
        except Exception as exc:
            raise StartupError(
                f"redis.url: Redis at {cfg.redis.url} is not reachable: {exc}"
            ) from None
        try:
            await self.fastagi.start()
        except OSError as exc:
            raise StartupError(
                f"fastagi.port: cannot listen on {fastagi_hosts(cfg)} "
                f"port {cfg.fastagi.port}: {exc}"
            ) from None
        app = make_app(api_token(cfg.paths.state_dir, cfg.http.api_token), self.agents, self.status)
        desk = build_desk(
            cfg,
            agents=self.agents,
            acd=self.service,
            tickets=self.tickets,
            ami=self.ami,
            status=self.status,
            publish=self.bus.publish,
            redis=self.redis,  # sessions survive an engine restart
            handoffs=self.handoffs,
        )
        add_routes(app, desk, self.review, self.recordings)
        if self.leader is not None:
            app.middlewares.append(self._standby_http)
            app.router.add_get("/api/v1/leader", self._leader_route)
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
        for coro in (self.bus.run(), self._watch_load()):
            self._tasks.append(asyncio.ensure_future(coro))
        if self.leader is None:  # one engine: it leads
            await self._restore_acd()
            await self.ami.start()
            self._start_leading_tasks()
        else:
            self._tasks.append(asyncio.ensure_future(self._stand_by()))
            self._tasks.append(asyncio.ensure_future(self.leader.run()))
        log.info(
            "engine started: FastAGI %s port %d, HTTP %s:%d, AMI %s",
            ", ".join(fastagi_hosts(cfg)),
            cfg.fastagi.port,
            cfg.http.host,
            cfg.http.port,
            ", ".join(f"{n.name} {n.ami_address}:{n.ami_port}" for n in cfg.nodes)
            or f"{cfg.ami.host}:{cfg.ami.port}",
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
        now = datetime.now(UTC)
        warning = self.calendar.warning(now)
        if warning and warning != self.calendar_warning:
            log.warning("calendar: %s", warning)
        self.calendar_warning = warning
        self.calendar_provisional_year = self.calendar.provisional_year(now)

    async def _watch_calendar(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.tickets.calendar_poll_s)
            await self._load_calendar()
            await self._load_catalogue()

    async def _load_catalogue(self) -> None:
        """The dispatch catalogue in force, read again when ``hotline catalogue import`` put a
        new one in the store (polled with the calendar)."""
        try:
            found = await asyncio.to_thread(self.tickets.store.catalogue_text)
            stamp = None if found is None else (found[1], found[2])
            if stamp != self._catalogue_stamp:
                await asyncio.to_thread(self.tickets.load_catalogue)
                self._catalogue_stamp = stamp
        except Exception as exc:  # the store may be away: the catalogue goes on as it was
            log.warning("dispatch catalogue not loaded: %s", exc)

    def _hotspot(self, spot: Hotspot) -> None:
        """A hot spot from a ticket creation (a worker thread): onto MQTT from the loop. The
        topic and payload carry codes and counts only, so the display feed gets it whole."""
        loop = self._loop
        if loop is None:
            return
        parts = ("hotspots", spot.area, spot.subject)
        loop.call_soon_threadsafe(self.bus.publish, parts, spot.to_event())

    async def _restore_acd(self) -> None:
        """The ACD's state from Redis if it is the engine's own and whole; otherwise start
        empty: reconciling with Asterisk's channels on connect requeues whoever is waiting."""
        snapshot = await self.service.saved()
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
        self._stopping = True
        if self.leader is not None and self.leading():
            await self.leader.resign()  # the standby need not wait for the lease to expire
        for task in self._leading + self._tasks:
            task.cancel()
        for task in self._leading + self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.service.drain()
        await self.handoffs.flush()
        self.ami.close()
        await self.fastagi.stop()
        if self._http is not None:
            await self._http.cleanup()
        await self.redis.aclose()
        if self.leader is not None:
            await self.lease_redis.aclose()


async def run_engine(cfg: Config, stop: asyncio.Event | None = None) -> int:
    """Run until `stop` is set (0) or the engine ends by itself (its exit code)."""
    engine = Engine(cfg)
    await engine.start()
    stop = stop or asyncio.Event()
    try:
        waits = [asyncio.ensure_future(e.wait()) for e in (stop, engine.stopped)]
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for w in waits:
            w.cancel()
    finally:
        await engine.stop()
    return engine.exit_code
