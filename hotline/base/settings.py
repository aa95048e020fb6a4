"""Configuration: one TOML file, environment overrides, every key validated.

Rules:
- Every setting has a default (documented in ``hotline.example.toml`` and below), so an
  empty file is a working demo configuration.
- ``HOTLINE_<SECTION>__<KEY>=value`` overrides ``[section] key`` (double underscore between
  section and key).  ``HOTLINE_CONFIG`` names the TOML file.
- A wrong setting (unknown key, wrong type, value out of range) stops start-up with
  :class:`ConfigError`, whose message names the key, e.g. ``ami.port``.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import tomllib
from collections.abc import Mapping
from datetime import date, time
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from hotline.acd.core.policy import CENTRE_DEFAULTS
from hotline.asterisk.prompts import PROMPTS
from hotline.ivr.hours import HoursConfig
from hotline.ivr.menus import (
    MAIN_MENU_ACTIONS,
    WAITING_ACTIONS,
    MenuExit,
    check_exits,
    check_keys,
    exits_from_raw,
)

PROMPT_LANGUAGES = tuple(PROMPTS)


ENV_PREFIX = "HOTLINE_"
CONFIG_ENV = "HOTLINE_CONFIG"


class ConfigError(Exception):
    """A setting is wrong; the message names the key."""


# A dial string goes into AMI actions and Dial(): a channel technology, a resource, an optional
# @context. Nothing that could end a header (CR/LF), separate Dial's arguments (, &), start a
# dialplan expression ($ [ ]) or a comment (;) is allowed: full match, no escaping.
DIAL_STRING = re.compile(r"[A-Za-z][A-Za-z0-9]{0,15}/[A-Za-z0-9@._:+#*/-]{1,100}")


def check_dial(dial: str, *, number: bool = False) -> str:
    """``dial`` if it is a safe dial string (with ``{number}`` in it when ``number``)."""
    if number and "{number}" not in dial:
        raise ValueError(f"{dial!r}: the dial string must contain {{number}}")
    probe = dial.replace("{number}", "0") if number else dial
    if not DIAL_STRING.fullmatch(probe):
        raise ValueError(
            f"{dial!r} is not a dial string like PJSIP/1001 or PJSIP/{{number}}@trunk "
            "(letters, digits and /@._:+#*- only)"
        )
    return dial


class _Section(BaseModel):
    # No setting means infinity or not-a-number (TOML can write both).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class PathsConfig(_Section):
    state_dir: Path = Path("/var/lib/hotline")
    """Generated secrets, the SQLite store, the call-record spool."""
    cache_dir: Path = Path("/var/cache/hotline")
    """Rebuildable things: the Asterisk root filesystem, generated prompts. Never audio."""
    audio_dir: Path | None = None
    """Citizens' voices: call recordings (recordings/), voicemail (voicemail/), callers'
    sentences for speech intake (utterances/); unset: <state_dir>/audio. The managed Asterisk
    sees them through bind mounts; they are never inside cache_dir."""


class AsteriskConfig(_Section):
    mode: Literal["managed", "external"] = "managed"
    """managed: the engine builds and runs Asterisk 22 in a chroot; external: an installed one."""
    instance: str = Field(default="main", pattern=r"^[a-z0-9][a-z0-9-]{0,30}$")
    """Name of a managed instance; several instances share one root filesystem."""
    mirror: str = ""
    """Debian mirror for debootstrap; empty: the one apt already uses."""
    suite: str = "testing"
    config_install_path: Path | None = None
    """external mode: where our configuration is written (e.g. /etc/asterisk); unset: never."""
    sip_bind: str = "127.0.0.1"
    """Address the SIP transport listens on (agents' softphones and the citizen trunk)."""
    trunk_match: str = "127.0.0.1"
    """IP/network of the carrier's trunk; its calls land in the citizen context (12345)."""
    sip_port: int = Field(default=5060, ge=1, le=65535)
    rtp_start: int = Field(default=10000, ge=1024, le=65535)
    rtp_end: int = Field(default=19999, ge=1024, le=65535)
    """Each channel takes two ports (RTP, RTCP) and a call up with its agent two channels: the
    old 10000-10999 ran out near 250 calls (bench load at 300 up: SIP 488 Not Acceptable Here),
    so 10000 ports, enough for about 2,500 calls."""
    start_timeout_s: float = Field(default=60.0, gt=0)
    test_contexts: bool = False
    """Install the dialplan contexts the tests use (a phone that answers, a department line)."""
    # Set per node for a cluster (hotline/cluster/nodes.py), defaults for one Asterisk:
    systemname: str = Field(default="", pattern=r"^([a-z][a-z0-9]{0,15})?$")
    """Asterisk's systemname: prefixes every Uniqueid (``a-1733...``), so call ids are unique
    across the nodes of a cluster and name their node."""
    trunk_endpoint: str = Field(default="citizen-trunk", pattern=r"^[a-z][a-z0-9-]{0,30}$")
    """The carrier's endpoint; a node's own name makes channel names unique in a cluster."""
    edge: str = Field(default="", pattern=r"^([0-9.]{7,15}:[0-9]{1,5})?$")
    """The edge (Kamailio) as ``ip:port``: the node gets the ``edge`` endpoint agents are
    dialled through; empty: none (one Asterisk, agents register to it)."""
    ami_permit: str = "127.0.0.1"
    """Where the engine's AMI login may come from (the engine's address)."""
    netns: str = Field(default="", pattern=r"^([a-z0-9][a-z0-9-]{0,14})?$")
    """Network namespace a managed instance runs in (a cluster on one machine)."""

    @field_validator("ami_permit")
    @classmethod
    def _permit(cls, value: str) -> str:
        ipaddress.ip_address(value)
        return value


class WebrtcConfig(_Section):
    """``[webrtc]``: the softphone in the agent page (hotline/desk/static/softphone.js). Every agent
    gets a browser seat, the PJSIP endpoint ``webrtc-<id>`` (dial string ``PJSIP/webrtc-<id>``,
    DTLS-SRTP audio, its own generated password in <state_dir>/sip-password-webrtc-<id>),
    reached over Asterisk's SIP WebSocket transport."""

    enabled: bool = True
    ws_port: int = Field(default=8088, ge=1, le=65535)
    """Asterisk's HTTP server on 127.0.0.1 (plain ws://, for this machine's browsers only)."""
    tls_bind: str = "127.0.0.1"
    """Address of Asterisk's TLS (wss://) listener, for agents' browsers on other machines."""
    tls_port: int = Field(default=8089, ge=1, le=65535)
    tls_cert_file: Path | None = None
    """PEM certificate of the wss listener (and DTLS); unset: a self-signed one made at setup
    in <state_dir>/webrtc-tls/ (its key 0600)."""
    tls_key_file: Path | None = None
    ws_url: str = Field(default="", pattern=r"^(wss?://[A-Za-z0-9.:\[\]-]+(/[A-Za-z0-9/._-]*)?)?$")
    """What the browser connects to; empty: ws://127.0.0.1:<ws_port>/ws on a loopback
    tls_bind, else wss://<tls_bind>:<tls_port>/ws."""

    @model_validator(mode="after")
    def _cert_and_key(self) -> WebrtcConfig:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("webrtc.tls_cert_file and webrtc.tls_key_file: give both or neither")
        return self

    @property
    def browser_url(self) -> str:
        if self.ws_url:
            return self.ws_url
        if _is_loopback(self.tls_bind):
            return f"ws://127.0.0.1:{self.ws_port}/ws"
        return f"wss://{self.tls_bind}:{self.tls_port}/ws"


WEBRTC_PREFIX = "webrtc-"


def browser_seat(agent_id: str) -> str:
    """The dial string of an agent's browser softphone."""
    return f"PJSIP/{WEBRTC_PREFIX}{agent_id}"


class AmiConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=5038, ge=1, le=65535)
    username: str = "hotline"
    secret: str = ""
    """Empty: generated at setup and kept in <state_dir>/ami-secret."""
    action_timeout_s: float = Field(default=10.0, gt=0)
    reconnect_min_s: float = Field(default=0.5, gt=0)
    reconnect_max_s: float = Field(default=30.0, gt=0)


class FastAgiConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=4573, ge=1, le=65535)


class ClusterConfig(_Section):
    """``[cluster]`` (docs/CLUSTER.md): a standby engine (engines on the same Redis and
    database take a lease in Redis; only the holder acts, the other takes over when it ends)
    and how an engine over several Asterisk nodes treats a lost node."""

    standby: bool = False
    """False: one engine, no lease (as before). True: lead only while holding the lease."""
    engine_id: str = Field(default="", pattern=r"^[A-Za-z0-9_.:-]{0,64}$")
    """This engine's name in the lease and logs; empty: <hostname>:<http port>."""
    advertise_url: str = Field(default="", pattern=r"^(https?://[A-Za-z0-9_.:\[\]-]+)?$")
    """Where agents' desktops reach this engine; empty: http://<http.host>:<http.port>."""
    lease_ms: int = Field(default=2000, ge=300, le=60000)
    """How long a grant lasts in Redis without renewal (the longest a dead leader is waited for)."""
    renew_ms: int = Field(default=400, ge=50)
    safety_ms: int = Field(default=300, ge=50)
    """The leader stops acting this long before its lease can end in Redis (clock drift, an
    action still on its way to Asterisk)."""
    poll_ms: int = Field(default=200, ge=50)
    """How often a standby asks for the lease."""
    node_lost_after_s: float = Field(default=3.0, gt=0, le=300)
    """Several nodes: a node's AMI away this long: its calls end with outcome ``node_failed``,
    its agents' legs end, its waiting callers leave the queue (they are gone with the node)."""

    @model_validator(mode="after")
    def _timing(self) -> ClusterConfig:
        if self.safety_ms >= self.lease_ms // 2:
            raise ValueError("safety_ms must be below half of lease_ms")
        if self.renew_ms * 2 > self.lease_ms - self.safety_ms:
            raise ValueError(
                "renew_ms must be at most (lease_ms - safety_ms) / 2: one lost renewal must "
                "not end the lease"
            )
        return self


class DatabaseConfig(_Section):
    url: str = ""
    """SQLAlchemy URL; empty: SQLite at <state_dir>/hotline.db."""
    spool_dir: Path | None = None
    """Where finished call records wait while the database is away; unset: <state_dir>/spool."""


class RedisConfig(_Section):
    url: str = "redis://127.0.0.1:6380/0"
    """Where Redis is; the credentials are the two keys below, not part of the URL."""
    key_prefix: str = Field(default="hotline:", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    managed: bool = True
    """`hotline up` starts the centre's own Redis at the URL's (loopback) address, its data and
    configuration under <state_dir>/redis, the default user off and only ``username`` allowed
    in; false: a Redis you run, where you create that user."""
    username: str = Field(default="hotline", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    password: str = Field(default="", pattern=r"^\S*$")
    """Empty: generated at setup and kept in <state_dir>/secrets/redis-password."""


class MqttConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=1884, ge=1, le=65535)
    topic_prefix: str = Field(default="hotline", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    managed: bool = True
    """`hotline up` starts the centre's own Mosquitto on host:port (loopback), anonymous
    clients refused, the users and topic ACL below; false: a broker you run and configure."""
    username: str = Field(default="engine", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    """The engine's user: writes every topic, reads <prefix>/private/# (the complete feed)."""
    password: str = Field(default="", pattern=r"^\S*$")
    """Empty: generated at setup and kept in <state_dir>/secrets/mqtt-engine-password."""
    display_username: str = Field(default="display", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    """Read-only user for wall displays: metrics, agent states, call events without personal
    data (no numbers, transcripts or voicemail text)."""
    display_password: str = Field(default="", pattern=r"^\S*$")
    """Empty: generated at setup and kept in <state_dir>/secrets/mqtt-display-password."""


class HttpConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8345, ge=1, le=65535)
    api_token: str = ""
    """Bearer token for the HTTP API; empty: generated at setup into <state_dir>/api-token."""


class DepartmentLine(_Section):
    number: str = Field(pattern=r"^[0-9]{3,12}$")
    """What the agent picks (12315, 12333, ...)."""
    name: str = Field(min_length=1, max_length=40)
    dial: str = Field(min_length=3, max_length=120)
    """Asterisk dial string of the line (e.g. PJSIP/12315@citizen-trunk)."""

    @field_validator("dial")
    @classmethod
    def _dial(cls, dial: str) -> str:
        return check_dial(dial)


def _default_departments() -> list[DepartmentLine]:
    lines = {"12315": "市场监管", "12333": "人力资源和社会保障", "95598": "供电服务"}
    return [
        DepartmentLine(number=n, name=name, dial=f"PJSIP/{n}@citizen-trunk")
        for n, name in lines.items()
    ]


class DepartmentsConfig(_Section):
    """The directory of department lines for three-way calls (三方通话) from the desktop."""

    lines: list[DepartmentLine] = Field(default_factory=_default_departments)
    ring_s: float = Field(default=30.0, gt=0, le=120)
    """How long a department line rings before the three-way call is given up."""


class WebConfig(_Section):
    """The web desktop (agents/web) on the HTTP server, under /desk/."""

    cookie_secure: bool | None = None
    """Secure flag on the session cookie; unset: set when the request came over https."""
    session_idle_s: float = Field(default=8 * 3600, gt=0, le=7 * 86400)
    """A session without a request for this long is closed (log in again)."""
    session_max_s: float = Field(default=12 * 3600, gt=0, le=30 * 86400)
    """A session is closed this long after log-in, however busy (one shift)."""
    lang: Literal["zh", "en"] = "zh"
    """Language of the pages before the user picks one."""
    # Log-in limits (hotline/base/web/sessions.py LoginLimits): growing delays, never a lock.
    login_window_s: float = Field(default=900.0, gt=0, le=86400)
    """Wrong passwords are forgotten this long after the last one."""
    login_backoff_base_s: float = Field(default=1.0, gt=0, le=60)
    """First delay once the free failures are used; it doubles with each further failure ..."""
    login_backoff_cap_s: float = Field(default=300.0, gt=0, le=3600)
    """... up to this."""
    login_free_per_name_address: int = Field(default=3, ge=1, le=100)
    """Wrong passwords from one address for one name before delays start."""
    login_free_per_address: int = Field(default=20, ge=1, le=10000)
    """Wrong passwords from one address, all names, before delays start."""
    login_free_per_name: int = Field(default=10, ge=1, le=10000)
    """Wrong passwords for one name, all addresses, before addresses that fail are delayed."""
    login_workers: int = Field(default=2, ge=1, le=64)
    """Threads checking passwords (argon2), apart from the database's."""
    login_queue: int = Field(default=8, ge=0, le=1000)
    """Password checks that may wait for a thread; more at once are refused (503)."""
    login_per_address: int = Field(default=2, ge=1, le=1000)
    """Password checks from one address at once; more are refused (429)."""
    trusted_proxies: list[str] = Field(default_factory=list)
    """Addresses of reverse proxies whose X-Forwarded-For names the client (log-in limits)."""
    user_recheck_s: float = Field(default=15.0, gt=0, le=3600)
    """How often open websockets' users are checked again (disabled, password reset) besides
    the immediate notice ``hotline user`` sends over Redis."""


_ON = CENTRE_DEFAULTS  # the 15-second rules a new centre gets (hotline/acd/core/policy.py)
# Thresholds that are on by default must be switchable off in TOML, which has no null:
# ``widen_after_s = false`` is None (off); ``true`` is refused (no number of seconds).
_SWITCHABLE = ("widen_after_s", "overflow_after_s", "offer_callback_after_s",
               "voicemail_after_s", "missed_callback_after_s")  # fmt: skip


def _false_is_off(value: Any) -> Any:
    if value is False:
        return None
    if value is True:
        raise ValueError("true is not a number of seconds (false switches the rule off)")
    return value


class SkillOverrides(_Section):
    """``[acd.per_skill.<skill>]``: the thresholds one skill overrides (types as in [acd])."""

    initial_max_level: int = Field(default=10, ge=1, le=10)
    widen_after_s: float | None = Field(default=None, ge=0)
    overflow_after_s: float | None = Field(default=None, ge=0)
    offer_callback_after_s: float | None = Field(default=None, ge=0)
    voicemail_after_s: float | None = Field(default=None, ge=0)
    announce_every_s: float = Field(default=0.0, ge=0)
    sticky_wait_s: float = Field(default=0.0, ge=0)
    missed_callback_after_s: float | None = Field(default=None, ge=0)

    _off = field_validator(*_SWITCHABLE, mode="before")(_false_is_off)


class AcdConfig(_Section):
    ring_timeout_s: float = Field(default=15.0, gt=0, le=120)
    """How long an agent's phone rings before the call goes back to the head of the queue."""
    wrapup_s: float = Field(default=10.0, ge=0, le=3600)
    """After-call work before the agent is offered the next call."""
    default_skill: str = "general"
    tick_s: float = Field(default=0.5, gt=0, le=10)
    """How often the ACD checks timers (wrap-up ends, thresholds)."""
    metrics_publish_s: float = Field(default=15.0, gt=0, le=900)
    """How often the per-skill figures of the current 15-minute interval go out on MQTT."""
    # The 15-second target as policy (hotline/acd/core/policy.py). None/0 switches a rule off.
    handle_prior_s: float = Field(default=180.0, gt=0)
    """Handle time (talk + wrap-up) assumed for the wait estimate until calls teach it."""
    initial_max_level: int = Field(default=_ON["initial_max_level"], ge=1, le=10)
    """A new call goes only to agents at this skill level or better (1 best) ..."""
    widen_after_s: float | None = Field(default=_ON["widen_after_s"], ge=0)
    """... until it has waited (or is estimated to wait) this long: then to every level."""
    overflow_after_s: float | None = Field(default=None, ge=0)
    """Then also to the overflow skills (other centres' shared seats, 多援一)."""
    overflow: dict[str, list[str]] = Field(default_factory=dict)
    """Skill -> overflow skills, e.g. {social = ["general", "shared-province"]}."""
    announce_every_s: float = Field(default=_ON["announce_every_s"], ge=0)
    """Tell waiting callers their position and estimated wait this often (0: never)."""
    offer_callback_after_s: float | None = Field(default=None, ge=0)
    """Offer a callback that keeps the caller's place after this wait (or estimate)."""
    voicemail_after_s: float | None = Field(default=None, ge=0)
    """Send a caller still waiting after this long to voicemail."""
    sticky_wait_s: float = Field(default=0.0, ge=0)
    """A caller with an open ticket waits this long for the agent who handled it."""
    rejoin_within_s: float | None = Field(default=None, ge=0)
    """A caller who hung up while waiting and calls again within this time gets their place."""
    missed_callback_after_s: float | None = Field(default=_ON["missed_callback_after_s"], ge=0)
    """A caller who gave up after waiting this long is called back (漏接回拨), within the
    working hours ([hours]) and only while the idle reserve below stays ready."""
    missed_callback_priority: int | None = None
    callback_max_attempts: int = Field(default=3, ge=1, le=20)
    callback_retry_s: float = Field(default=60.0, ge=0)
    """At least this long between two attempts to call one citizen back."""
    callback_min_idle_agents: int = Field(default=_ON["callback_min_idle_agents"], ge=0, le=1000)
    """A callback (missed or accepted) is placed only if this many ready agents of its skill
    stay ready after it, so it never takes the agent the next live caller needs ..."""
    callback_min_idle_share: float = Field(default=_ON["callback_min_idle_share"], ge=0, lt=1)
    """... and at least this share of the skill's working agents (0.5: half) ..."""
    callback_reserve_live: bool = _ON["callback_reserve_live"]
    """... but never more than the live calls ringing or answered in the whole centre: when
    no one calls (after closing, a lull of the whole centre) every agent may call back."""
    keep_first_skill: bool = True
    """An agent takes a call of its best-level skill before an older call of a lesser one."""
    first_skill_max_wait_s: float | None = Field(default=60.0, ge=0)
    """... until that older call has waited this long (None: no limit)."""
    target_first: bool = _ON["target_first"]
    """With keep_first_skill: an agent leaves a call already past service_target_s for a later
    call of another of its skills that can still be answered within it, whatever the levels."""
    borrow_spare_first: bool = _ON["borrow_spare_first"]
    """A call that its skill's own agents (those with it as their best skill) cannot take goes
    to the lent agent whose first skill keeps the most ready agents; false: the level decides."""
    service_target_s: float = Field(default=15.0, ge=0, le=600)
    """The service-level target; between two skills at one level an agent takes a call still
    within it before one already past it."""
    per_skill: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Per-skill overrides of the thresholds above, e.g. {social = {widen_after_s = 10}}:
    checked key by key as ``SkillOverrides``; only the keys given override."""
    callback_dial: str = "PJSIP/{number}@citizen-trunk"
    """How a callback reaches the citizen; {number} is the caller's number."""
    callback_ring_s: float = Field(default=30.0, gt=0, le=120)

    seats: list[str] = Field(default_factory=list)
    """Further dial strings an agent may log in at (hot desks); every agent's own seat
    (``agents.seat``) is always allowed, anything else is refused."""

    _off = field_validator(*_SWITCHABLE, "rejoin_within_s", "first_skill_max_wait_s",
                           mode="before")(_false_is_off)  # fmt: skip

    @field_validator("default_skill")
    @classmethod
    def _skill_name(cls, skill: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", skill):
            raise ValueError("a skill name: 1-32 letters, digits, '-' or '_'")
        return skill

    @field_validator("per_skill", mode="before")
    @classmethod
    def _per_skill(cls, raw: Any) -> Any:
        if not isinstance(raw, Mapping):
            return raw  # pydantic says it is not a table
        out: dict[str, dict[str, Any]] = {}
        for skill, override in raw.items():
            try:
                checked = SkillOverrides.model_validate(override)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                raise ValueError(f"per_skill.{skill}.{where}: {first['msg']}") from None
            out[str(skill)] = checked.model_dump(exclude_unset=True)
        return out

    @model_validator(mode="after")
    def _the_acd_accepts_it(self) -> AcdConfig:
        # One source of truth: the policy the engine builds from this section must accept it,
        # so `hotline config check` refuses whatever would stop the engine at start.
        from hotline.acd.core import AcdPolicy

        try:
            AcdPolicy.from_config(self)
        except (TypeError, ValueError) as exc:
            name = str(exc).split(" ", 1)[0]
            where = f"acd.{name}: " if name in type(self).model_fields else ""
            raise ValueError(f"{where}the ACD refuses this section: {exc}") from None
        return self

    @field_validator("callback_dial")
    @classmethod
    def _dial_has_number(cls, dial: str) -> str:
        return check_dial(dial, number=True)

    @field_validator("seats")
    @classmethod
    def _seats(cls, seats: list[str]) -> list[str]:
        return [check_dial(seat) for seat in seats]


class IvrConfig(_Section):
    flow: Literal["direct", "menu"] = "direct"
    """"direct" (the national standard's advice): a short greeting that invites the caller to
    say their request, the call queued as the greeting starts. "menu": greeting, optional
    language choice, then the main menu (keys or speech)."""
    digit_timeout_s: float = Field(default=5.0, gt=0, le=60)
    max_failures: int = Field(default=3, ge=1, le=10)
    """Wrong or missing keys before the caller goes straight to an agent."""
    menu: dict[str, MenuExit] = Field(
        default_factory=lambda: {
            "1": MenuExit(skill="consult"),
            "2": MenuExit(skill="request"),
            "3": MenuExit(action="ticket-status"),
            "0": MenuExit(skill="general"),
        }
    )
    """Main menu (menu flow): key -> exit (hotline/ivr/menus.py). 1 consultation, 2 help /
    complaint /
    report, 3 a ticket's progress, 0 an agent."""
    languages: dict[str, str] = Field(default_factory=dict)
    """Language choice before the main menu (menu flow), key -> prompt language, e.g.
    {"1" = "zh", "2" = "en"}; empty: no choice, prompts in the channel's language."""
    language_skills: dict[str, str] = Field(default_factory=lambda: {"en": "english"})
    """A language whose callers go straight to their own agents (skill), past the main menu."""
    waiting_keys: dict[str, MenuExit] = Field(
        default_factory=lambda: {
            "1": MenuExit(skill="english"),
            "2": MenuExit(action="ticket-status"),
            "3": MenuExit(action="callback"),
            "9": MenuExit(action="voicemail"),
        }
    )
    """Keys a waiting caller may press without losing their place (both flows): 1 English,
    2 a ticket's progress, 3 be called back, 9 leave a message."""
    voicemail_max_s: int = Field(default=180, ge=10, le=1800)
    """Longest out-of-hours message, seconds."""

    @field_validator("menu", "waiting_keys", mode="before")
    @classmethod
    def _shorthand(cls, raw: Any) -> Any:
        return exits_from_raw(raw)

    @field_validator("languages")
    @classmethod
    def _languages(cls, languages: dict[str, str]) -> dict[str, str]:
        check_keys("ivr.languages", languages)
        for key, lang in languages.items():
            if lang not in PROMPT_LANGUAGES:
                raise ValueError(
                    f"ivr.languages key {key!r}: no prompts for language {lang!r} "
                    f"(have: {', '.join(PROMPT_LANGUAGES)})"
                )
        return languages


PHONE_NUMBER = re.compile(r"\+?[0-9]{3,20}")
HOURS_SPAN = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-4]):[0-5][0-9]")
Rating = Literal["satisfied", "basic", "unsatisfied"]


def _rating_keys() -> dict[str, Rating]:
    return {"1": "satisfied", "2": "basic", "3": "unsatisfied"}


class SatisfactionConfig(_Section):
    """一次一评: after the agent hangs up the caller hears one question and answers with a key
    (hotline/followup/flows.py). Never after an emergency or a transfer: those calls leave the
    agent's bridge by a Redirect, which takes the caller elsewhere."""

    after_call: bool = True
    keys: dict[str, Rating] = Field(default_factory=_rating_keys)
    """Key -> answer: 满意 / 基本满意 / 不满意."""
    timeout_s: float = Field(default=8.0, gt=0, le=30)
    """How long the question waits for a key."""

    @field_validator("keys")
    @classmethod
    def _keys(cls, keys: dict[str, str]) -> dict[str, str]:
        check_keys("satisfaction.keys", keys)
        if not keys:
            raise ValueError("satisfaction.keys: at least one key")
        return keys


class SurveyConfig(_Section):
    """一事一评 by phone (回访): the engine calls the citizen of a reviewed ticket, an IVR asks
    how satisfied they are and whether the matter was solved (hotline/followup/dialer.py)."""

    enabled: bool = True
    max_attempts: int = Field(default=3, ge=1, le=10)
    """Calls before the ticket is recorded unreachable."""
    retry_s: float = Field(default=3600.0, ge=0)
    """At least this long between two calls to one citizen."""
    poll_s: float = Field(default=60.0, gt=0, le=3600)
    """How often the dialer looks for tickets to survey."""
    ring_s: float = Field(default=40.0, gt=0, le=120)
    hours: list[str] = Field(default_factory=lambda: ["09:00-12:00", "14:00-20:00"])
    """When citizens may be called (China time)."""
    workdays_only: bool = True
    """Only on working days (the centre's calendar: holidays and 调休 included)."""
    dial: str = "PJSIP/{number}@citizen-trunk"
    """How the survey reaches the citizen; {number} is the ticket's caller number."""
    satisfaction_keys: dict[str, Rating] = Field(default_factory=_rating_keys)
    solved_keys: dict[str, bool] = Field(default_factory=lambda: {"1": True, "2": False})
    """Key -> was the matter solved (1 yes, 2 no)."""
    timeout_s: float = Field(default=8.0, gt=0, le=30)
    max_failures: int = Field(default=2, ge=1, le=5)

    @field_validator("dial")
    @classmethod
    def _dial(cls, dial: str) -> str:
        return check_dial(dial, number=True)

    @field_validator("satisfaction_keys", "solved_keys")
    @classmethod
    def _keys(cls, keys: dict[str, Any]) -> dict[str, Any]:
        check_keys("survey keys", keys)
        if not keys:
            raise ValueError("survey keys: at least one key")
        return keys

    @field_validator("hours")
    @classmethod
    def _hours(cls, spans: list[str]) -> list[str]:
        for span in spans:
            if not re.fullmatch(
                r"([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-4]):[0-5][0-9]", span
            ):
                raise ValueError(f"survey.hours {span!r} is not HH:MM-HH:MM")
        return spans


class LinkageConfig(_Section):
    """110/119/120/122 linkage (联动): every handoff to an emergency service is recorded;
    calls transferred in from 110 are marked (hotline/followup/store.py)."""

    from_110_callers: list[str] = Field(default_factory=lambda: ["110"])
    """Caller numbers of the 110 centre: a call from one of them was transferred in by 110."""
    from_110_dialled: list[str] = Field(default_factory=list)
    """Numbers 110 dials on the trunk (e.g. a dedicated 12345 line for 110 transfers)."""
    double_non_default: bool = True
    """110 transfers to 12345 what is neither an emergency nor a police matter (双非); its calls
    carry the flag unless the IVR heard an emergency on them."""

    @field_validator("from_110_callers", "from_110_dialled")
    @classmethod
    def _numbers(cls, numbers: list[str]) -> list[str]:
        for number in numbers:
            if not PHONE_NUMBER.fullmatch(number):
                raise ValueError(f"{number[:30]!r} is not a phone number (digits, optional +)")
        return numbers


class ElderlyConfig(_Section):
    """适老化: registered elderly numbers, or a key during the greeting, go straight to a human
    at raised priority with no speech step and no menu."""

    numbers: list[str] = Field(default_factory=list)
    key: str = "0"
    """The key an elderly caller presses during the greeting ("": none). In the menu flow a
    main-menu key keeps its menu meaning (the default 0 is the menu's "an agent")."""
    priority: int = Field(default=5, ge=1, le=9)
    skill: str = ""
    """Empty: the default skill."""

    @field_validator("numbers")
    @classmethod
    def _numbers(cls, numbers: list[str]) -> list[str]:
        for number in numbers:
            if not PHONE_NUMBER.fullmatch(number):
                raise ValueError(f"elderly.numbers {number[:30]!r} is not a phone number")
        return numbers

    @field_validator("key")
    @classmethod
    def _key(cls, key: str) -> str:
        if key:
            check_keys("elderly.key", [key])
        return key

    @field_validator("skill")
    @classmethod
    def _skill(cls, skill: str) -> str:
        if skill and not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", skill):
            raise ValueError("a skill name: 1-32 letters, digits, '-' or '_'")
        return skill


class AgentSeed(_Section):
    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    name: str = ""
    seat: str = ""
    """Dial string of the agent's phone; empty: PJSIP/<id>."""
    sip_password: str = ""
    """Password of the PJSIP endpoint <id>; empty: no endpoint is generated; "generate": a
    random one, kept in <state_dir>/sip-password-<id>. On a SIP bind other than loopback a
    demo password or one shorter than 12 characters is refused."""
    skills: dict[str, int] = Field(default_factory=lambda: {"general": 1})
    """Skill -> level, 1 (best) to 10; the ACD offers a call to the best level first."""

    @field_validator("seat")
    @classmethod
    def _seat(cls, seat: str) -> str:
        return check_dial(seat) if seat else seat

    @property
    def dial_string(self) -> str:
        return self.seat or f"PJSIP/{self.id}"


MIN_SIP_PASSWORD = 12


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_DEMO_SKILLS = {"general": 1, "consult": 1, "request": 1, "english": 2}

_SUBJECT_CODE = re.compile(r"^[0-9A-Za-z]{1,8}(\.[0-9A-Za-z]{1,8}){0,4}$")
_DEADLINE_CATEGORIES = ("consultation", "help", "complaint", "report", "suggestion", "emergency")


class TicketsConfig(_Section):
    """The work-order store's city rules (defaults: the national/most common values)."""

    subjects: dict[str, str] = Field(default_factory=dict)
    """Subject classification, code -> name; dotted codes make the tree ("02" > "02.01") and
    every code's parent must be listed. Empty: the built-in tree (hotline.tickets.values)."""
    reply_workdays: dict[str, int] = Field(default_factory=dict)
    """Reply deadline in working days per category, over the defaults ("2·20": consultation 2,
    emergency 2, help/complaint/report/suggestion 20)."""
    return_workdays: int = Field(default=2, ge=1, le=30)
    """Sign for or return (退单) an order within this many working days of dispatch."""
    callback_workdays: int = Field(default=2, ge=1, le=30)
    """Review and callback (复核回访) within this many working days of closure."""
    extension_lead_workdays: int = Field(default=2, ge=0, le=30)
    """An extension must be asked at least this many working days before the deadline."""
    extra_holidays: list[date] = Field(default_factory=list)
    """Local holidays on top of the national calendar."""
    extra_workdays: list[date] = Field(default_factory=list)
    """Local working days (make-up days) on top of the national calendar."""
    extra_years: list[int] = Field(default_factory=list)
    """Years the centre describes itself (Monday-Friday plus the two lists above), in place of
    the official or provisional calendar (docs/CALENDAR.md)."""
    calendar_poll_s: float = Field(default=10.0, ge=1.0, le=3600.0)
    """How often a running engine looks for a newly imported holiday arrangement."""
    repeat_window_days: int = Field(default=7, ge=1, le=365)
    """A call within this many days of a caller's last contact on an open ticket repeats it."""
    key_item_threshold: int = Field(default=3, ge=2, le=1000)
    """Distinct callers on one place and subject that make a key item (重点)."""
    key_item_window_days: int = Field(default=30, ge=1, le=365)
    due_soon_workdays: int = Field(default=1, ge=0, le=30)
    """Working days before a deadline from which an order is "due soon" (the yellow card)."""
    archive_after_unreachable: int = Field(default=3, ge=1, le=20)
    max_reopens: int | None = Field(default=None, ge=0, le=20)
    """None: no cap; 1: the second evaluation is final."""
    redo_after_unsatisfied: bool = True
    """A survey answered unsatisfied, or "not solved", sends the order back to its unit under
    supervision at once (复办/督办); false: it waits for a supervisor's Reopen or Archive."""
    hotspot_window_minutes: int = Field(default=60, ge=5, le=7 * 24 * 60)
    hotspot_threshold: int = Field(default=5, ge=2, le=10_000)
    """A hot spot: this many tickets on one subject in one area within the window."""

    @field_validator("subjects")
    @classmethod
    def _tree(cls, subjects: dict[str, str]) -> dict[str, str]:
        for code, name in subjects.items():
            if not _SUBJECT_CODE.match(code):
                raise ValueError(f"code {code!r}: 1-8 letters/digits per level, joined by dots")
            parent = code.rpartition(".")[0]
            if parent and parent not in subjects:
                raise ValueError(f"code {code!r}: its parent {parent!r} is not listed")
            if not name.strip() or len(name) > 100:
                raise ValueError(f"code {code!r}: the name must be 1-100 characters")
        return subjects

    @field_validator("reply_workdays")
    @classmethod
    def _days(cls, days: dict[str, int]) -> dict[str, int]:
        for category, n in days.items():
            if category not in _DEADLINE_CATEGORIES:
                raise ValueError(f"{category!r} is not one of {', '.join(_DEADLINE_CATEGORIES)}")
            if not 1 <= n <= 365:
                raise ValueError(f"{category}: {n} working days is outside 1..365")
        return days

    @model_validator(mode="after")
    def _overrides(self) -> TicketsConfig:
        both = sorted(set(self.extra_holidays) & set(self.extra_workdays))
        if both:
            listed = ", ".join(d.isoformat() for d in both)
            raise ValueError(f"extra_holidays and extra_workdays both list {listed}")
        return self


# -- speech intake, subjects and emergencies (issue 5) ----------------------------------------
_LANG = r"^[a-z]{2,3}(-[A-Za-z0-9]{1,8})?$"


class SpeechConfig(_Section):
    languages: list[str] = Field(default_factory=lambda: ["zh"])
    """Languages whose callers may speak their request; each needs a Vosk model."""
    models: dict[str, Path] = Field(default_factory=dict)
    """Language -> Vosk model directory, over what `hotline speech install-model` recorded."""
    models_dir: Path | None = None
    """Where install-model puts models (and installed.json); unset: <state_dir>/models."""
    sample_rate: Literal[8000, 16000] = 8000
    """Rate the caller's utterance is recorded at (Asterisk format wav = 8000, wav16 = 16000);
    the recogniser itself takes the rate from each WAV's header."""
    max_utterance_s: float = Field(default=10.0, gt=0, le=60)
    """Longest utterance recorded and recognised; voicemail is not cut."""
    end_silence_s: float = Field(default=1.5, gt=0, le=10)
    """Silence that ends the caller's utterance."""

    @field_validator("languages")
    @classmethod
    def _langs(cls, langs: list[str]) -> list[str]:
        for lang in langs:
            if not re.match(_LANG, lang):
                raise ValueError(f"{lang!r} is not a language code like zh or en")
        return langs

    @field_validator("models")
    @classmethod
    def _model_langs(cls, models: dict[str, Path]) -> dict[str, Path]:
        cls._langs(list(models))
        return models


def _phrases(text: str) -> list[str]:
    return text.split()


_SUBJECT_PHRASES = {
    "utilities": "停水 停电 断水 断电 没水 没电 水压 水管 爆管 自来水 燃气 煤气 天然气 暖气 "
    "供暖 供热 采暖 水费 电费 燃气费 暖气费 电表 水表 跳闸",
    "housing": "住房 房子 物业 物业费 房租 租房 房东 小区 装修 公租房 廉租房 房产证 不动产 "
    "电梯 漏水 维修基金 业委会 开发商 交房 拆迁",
    "social": "社保 医保 就业 养老金 养老保险 失业 失业金 工资 欠薪 拖欠工资 劳动合同 "
    "工伤 退休 低保 公积金 生育保险 招聘",
    "market": "消费投诉 退款 退货 假货 市场监管 商家 商店 超市 网购 价格 食品安全 "
    "过期 发票 虚假宣传 质量问题 缺斤少两 预付卡",
    "environment": "噪音 噪声 扰民 污染 垃圾 油烟 排污 污水 臭味 异味 空气 粉尘 扬尘 "
    "废气 废水 烧烤 广场舞 施工噪音 装修噪音 垃圾分类",
    "transport": "公交 公交车 地铁 出租车 网约车 交通 道路 马路 红绿灯 信号灯 停车 停车场 "
    "违停 占道 路灯 井盖 坑洼 堵车 驾照 共享单车",
}
_CATEGORY_PHRASES = {
    # Order matters: when two categories match, the earlier one wins (a caller who asks
    # "请问怎么投诉" is a complainant first).
    "report": "举报 检举 揭发",
    "complaint": "投诉 反映 太吵 噪音太大 扰民 乱收费 不退 不给退 拖欠 态度差 不作为 没人管",
    "help": "求助 帮帮 帮忙 救救 怎么办 困难",
    "suggestion": "建议 提议 意见建议",
    "consultation": "咨询 请问 怎么办理 如何 怎么 在哪 哪里 什么时候 多少钱 能不能 可以吗 "
    "需要什么 流程 手续 政策",
}


class SubjectsConfig(_Section):
    """Phrases that map a caller's sentence to a subject (an ACD skill) and a category.

    A table given here replaces the built-in one whole (``hotline config show`` prints it)."""

    keywords: dict[str, list[str]] = Field(
        default_factory=lambda: {k: _phrases(v) for k, v in _SUBJECT_PHRASES.items()}
    )
    """Subject (ACD skill) -> phrases; on a tie the subject listed first wins."""
    default: str = "general"
    """Subject when no phrase matches."""
    categories: dict[str, list[str]] = Field(
        default_factory=lambda: {k: _phrases(v) for k, v in _CATEGORY_PHRASES.items()}
    )
    """Category -> phrases; the first category listed that matches wins."""
    default_category: str = "consultation"

    @field_validator("keywords", "categories")
    @classmethod
    def _non_empty(cls, table: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, phrases in table.items():
            if not phrases or any(not p.strip() for p in phrases):
                raise ValueError(f"{name}: give at least one phrase, none of them empty")
        return table


class EmergencyKind(_Section):
    number: str = Field(pattern=r"^[0-9]{3,8}$")
    """The number the caller is redirected to (110, 119, 120, 122)."""
    phrases: list[str] = Field(min_length=1)


def _kind(number: str, phrases: str) -> EmergencyKind:
    return EmergencyKind(number=number, phrases=_phrases(phrases))


class EmergencyConfig(_Section):
    """Phrases that mean an emergency: the IVR redirects the call at once."""

    enabled: bool = True
    dial: str = "PJSIP/{number}@citizen-trunk"
    """Dial string of the redirect; {number} is the kind's number."""
    # Listed in order of precedence: a fire with injuries goes to 119 (which sends the
    # ambulance), a knife attack with bleeding to 110; medical is the fallback.
    kinds: dict[str, EmergencyKind] = Field(
        default_factory=lambda: {
            "fire": _kind("119", "着火 火灾 起火 失火 冒烟 烧起来 火警"),
            "gas_leak": _kind(
                "119", "煤气泄漏 燃气泄漏 天然气泄漏 煤气泄露 燃气泄露 闻到煤气味 煤气味 燃气味"
            ),
            "crime": _kind(
                "110", "抢劫 打人 杀人 持刀 砍人 打架 绑架 小偷 正在偷 入室盗窃 有人闯进"
            ),
            "traffic": _kind("122", "车祸 撞车 交通事故 撞人 被车撞 追尾 翻车"),
            "medical": _kind("120", "受伤 晕倒 昏倒 昏迷 流血 急救 心脏病 中风 抽搐 喘不上气 休克"),
        }
    )
    negations: list[str] = Field(default_factory=lambda: _phrases("不是 没有 没 不 并非 并没有 无"))
    """Words that cancel an emergency phrase right after them (不是着火, 没有人受伤)."""
    not_negations: list[str] = Field(
        default_factory=lambda: _phrases("不小心 不得了 不知道 不停 不断 不好了 是不是 不行了")
    )
    """Words that contain a negation but do not negate (不小心着火了 is a fire)."""
    not_emergency: list[str] = Field(
        default_factory=lambda: _phrases(
            "火灾隐患 消防隐患 消防演练 火灾演练 烟囱冒烟 打人工 交通事故认定 交通事故理赔 车祸理赔"
        )
    )
    """Phrases that contain an emergency phrase but are not one (火灾隐患 is a fire hazard)."""

    @field_validator("dial")
    @classmethod
    def _dial(cls, dial: str) -> str:
        return check_dial(dial, number=True)


_VOICEMAIL_SUBJECTS = {
    "utilities": "02", "housing": "01.02", "social": "05", "market": "03",
    "environment": "04", "transport": "06", "general": "99",
}  # fmt: skip


class RecordingsConfig(_Section):
    """Voicemail intake: each message left out of hours becomes a ticket awaiting review."""

    voicemail_dir: Path | None = None
    """Where Asterisk writes messages, as the engine sees it; unset: <audio_dir>/voicemail
    (bind-mounted into the managed Asterisk), or /var/spool/asterisk/hotline-voicemail for an
    external one."""
    retry_s: float = Field(default=30.0, gt=0, le=3600)
    """How often messages not yet turned into tickets (database away) are tried again."""
    subject_codes: dict[str, str] = Field(default_factory=lambda: dict(_VOICEMAIL_SUBJECTS))
    """Classifier subject (ACD skill) -> ticket subject code of a voicemail ticket."""
    dir: Path | None = None
    """The recordings store (answered calls, ``calls/YYYY/MM/DD/``) as the engine sees it;
    unset: <audio_dir>/recordings (bind-mounted into the managed Asterisk), or
    /var/spool/asterisk/hotline-recordings for an external one."""
    retention_days: dict[str, int] = Field(
        default_factory=lambda: {"call": 180, "voicemail": 180, "threeway": 180}
    )
    """Days each kind's audio is kept (0: for ever); the row saying it existed stays."""
    compress_after_days: int = Field(default=30, ge=0)
    """Calls' WAVs older than this are re-encoded with sox (0: never; voicemail stays WAV)."""
    compress_format: Literal["flac", "ogg"] = "flac"
    """flac: lossless, about 2/3 of the WAV on speech; ogg (Vorbis): lossy, about 1/5."""
    purge_every_s: float = Field(default=3600.0, gt=0)
    """How often the engine removes expired audio."""

    @field_validator("retention_days")
    @classmethod
    def _days_not_negative(cls, days: dict[str, int]) -> dict[str, int]:
        for kind, n in days.items():
            if kind not in ("call", "voicemail", "threeway"):
                raise ValueError(f"{kind}: not a recording kind (call, voicemail, threeway)")
            if n < 0:
                raise ValueError(f"{kind}: retention days must be >= 0, not {n}")
        return days


class QualityConfig(_Section):
    """Quality review (质检): the checklist a supervisor scores a recording against."""

    items: dict[str, float] = Field(
        default_factory=lambda: {
            "greeting": 1.0,
            "asked_contact_details": 1.0,
            "correct_category": 1.0,
            "polite_close": 1.0,
        }
    )
    """Item name -> weight (> 0); the score is the weighted mean of the marks, in percent."""
    sample_per_agent: int = Field(default=3, ge=0, le=100)
    """The weekly sampling plan (抽检): this many of each agent's calls a week to review."""

    @field_validator("items")
    @classmethod
    def _weights_positive(cls, items: dict[str, float]) -> dict[str, float]:
        if not items:
            raise ValueError("the checklist needs at least one item")
        for name, weight in items.items():
            if not weight > 0:
                raise ValueError(f"{name}: weight must be > 0, not {weight}")
        return items


class ReviewConfig(_Section):
    """``[review]``: the night-shift review of voicemail (hotline/voicemail/review.py)."""

    by: time = time(10, 0)
    """Messages left out of hours must be reviewed by this local time on the next working
    morning; later ones are shown late."""
    max_attempts: int = Field(default=3, ge=1, le=10)
    """Callbacks that do not reach the citizen before the message counts as unreachable."""
    ring_s: float = Field(default=30.0, gt=0, le=120)
    """How long the reviewer's phone, then the citizen's, may ring."""


_NAME = r"^[a-z][a-z0-9]{0,15}$"
EDGE_ENDPOINT = "edge"
"""The PJSIP endpoint on every node that reaches the edge (agents' phones via its location)."""


_OUTBOUND_DIALS = (
    ("acd", "callback_dial", AcdConfig),
    ("survey", "dial", SurveyConfig),
    ("emergency", "dial", EmergencyConfig),
)


def _via_edge(dial: str) -> str:
    return (
        dial.removesuffix("@citizen-trunk") + f"@{EDGE_ENDPOINT}"
        if dial.endswith("@citizen-trunk")
        else dial
    )


def outbound_through_edge(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` (a cluster's raw configuration) with every ``@citizen-trunk`` dial string,
    given or default, sent ``@edge`` instead."""
    data = dict(data)
    for section, key, model in _OUTBOUND_DIALS:
        values = data.get(section) or {}
        if isinstance(values, dict):
            default = model.model_fields[key].default
            data[section] = {**values, key: _via_edge(str(values.get(key, default)))}
    departments = data.get("departments") or {}
    if isinstance(departments, dict):
        lines = departments.get("lines")
        if lines is None:
            lines = [line.model_dump() for line in _default_departments()]
        data["departments"] = {
            **departments,
            "lines": [
                {**line, "dial": _via_edge(str(line.get("dial", "")))}
                if isinstance(line, dict)
                else line
                for line in lines
            ],
        }
    return data


class EdgeConfig(_Section):
    """``[edge]``: Kamailio in front of the Asterisk nodes (only with ``[[nodes]]``): the
    registrar and location of the agents' phones and the dispatcher of citizens' calls."""

    listen: str = "127.0.0.1"
    """The address Kamailio listens on (UDP): carriers, phones and every node reach it."""
    port: int = Field(default=5070, ge=1, le=65535)
    dialled: str = Field(default="12345", pattern=r"^[0-9]{3,12}$")
    """The number the carrier sends; every other request-URI user is refused."""
    ping_interval_s: int = Field(default=1, ge=1, le=60)
    """SIP OPTIONS to every node this often; one unanswered probe takes a node out."""
    probe_timeout_ms: int = Field(default=1500, ge=500, le=30000)
    """How long a probe (and a call to a node that says nothing) waits for an answer."""
    carriers: list[str] = Field(default_factory=list, max_length=64)
    """Who may send citizens' calls in (``ip`` or ``ip:port``): anyone else gets 403 from the
    edge. Empty: nobody (a cluster's trunk is never open to the whole network)."""
    outbound: str = Field(default="", pattern=r"^([0-9.]{7,15}(:[0-9]{1,5})?)?$")
    """The carrier's gateway (``ip[:port]``) for calls a node places through the edge to a
    number that is not an agent: department lines, transfers, callbacks, surveys, 110/119/120.
    Empty: such calls are refused (480)."""
    kamailio: Path = Path("/usr/sbin/kamailio")
    modules_dir: Path = Path("/usr/lib/x86_64-linux-gnu/kamailio/modules")


class NodeConfig(_Section):
    """``[[nodes]]``: one Asterisk media node of a cluster."""

    name: str = Field(pattern=_NAME)
    """Short name, also Asterisk's ``systemname``: call ids are ``<name>-<epoch>.<n>``."""
    address: str
    """The node's SIP (and, by default, AMI) address; the edge dispatches calls to it."""
    ami_host: str = ""
    """Empty: ``address``."""
    ami_port: int = Field(default=5038, ge=1, le=65535)
    ami_username: str = Field(default="", pattern=r"^([A-Za-z0-9_-]{1,64})?$")
    """Empty: ``[ami] username``."""
    ami_secret: str = Field(default="", pattern=r"^\S*$")
    """Empty: the engine's generated AMI secret (``<state_dir>/ami-secret``), as one Asterisk."""
    engine_address: str = "127.0.0.1"
    """The engine as the node reaches it: the FastAGI target and the AMI login's permit."""
    netns: str = Field(default="", pattern=r"^([a-z0-9][a-z0-9-]{0,14})?$")
    """Managed nodes on one machine (`hotline up --cluster`, the tests): the network
    namespace the node's Asterisk runs in; empty: the host's."""

    @field_validator("address", "engine_address", "ami_host")
    @classmethod
    def _ip(cls, value: str) -> str:
        if value:
            ipaddress.ip_address(value)  # raises ValueError naming the value
        return value

    @property
    def ami_address(self) -> str:
        return self.ami_host or self.address


class Config(_Section):
    paths: PathsConfig = PathsConfig()
    asterisk: AsteriskConfig = AsteriskConfig()
    ami: AmiConfig = AmiConfig()
    fastagi: FastAgiConfig = FastAgiConfig()
    cluster: ClusterConfig = ClusterConfig()
    database: DatabaseConfig = DatabaseConfig()
    redis: RedisConfig = RedisConfig()
    mqtt: MqttConfig = MqttConfig()
    http: HttpConfig = HttpConfig()
    web: WebConfig = WebConfig()
    departments: DepartmentsConfig = DepartmentsConfig()
    acd: AcdConfig = AcdConfig()
    ivr: IvrConfig = IvrConfig()
    review: ReviewConfig = ReviewConfig()
    hours: HoursConfig = HoursConfig()
    tickets: TicketsConfig = TicketsConfig()
    speech: SpeechConfig = SpeechConfig()
    subjects: SubjectsConfig = SubjectsConfig()
    emergency: EmergencyConfig = EmergencyConfig()
    satisfaction: SatisfactionConfig = SatisfactionConfig()
    survey: SurveyConfig = SurveyConfig()
    linkage: LinkageConfig = LinkageConfig()
    elderly: ElderlyConfig = ElderlyConfig()
    recordings: RecordingsConfig = RecordingsConfig()
    quality: QualityConfig = QualityConfig()
    webrtc: WebrtcConfig = WebrtcConfig()
    edge: EdgeConfig = EdgeConfig()
    nodes: list[NodeConfig] = Field(default_factory=list)
    """Empty: one Asterisk (``[asterisk]``, ``[ami]``), as before."""
    agents: list[AgentSeed] = Field(
        default_factory=lambda: [
            AgentSeed(
                id="1001", name="Demo agent 1001", sip_password="generate", skills=_DEMO_SKILLS
            ),
            AgentSeed(
                id="1002", name="Demo agent 1002", sip_password="generate", skills=_DEMO_SKILLS
            ),
        ]
    )

    @model_validator(mode="after")
    def _menus_reach_agents(self) -> Config:
        # Menus the operator wrote must lead to agents; the built-in defaults may name skills
        # a small centre does not have (those exits fall back to the default skill at run time).
        skills = self.skills
        written = self.ivr.model_fields_set
        check_exits("ivr.menu", self.ivr.menu, MAIN_MENU_ACTIONS,
                    skills if "menu" in written else None)  # fmt: skip
        check_exits("ivr.waiting_keys", self.ivr.waiting_keys, WAITING_ACTIONS,
                    skills if "waiting_keys" in written else None)  # fmt: skip
        if "language_skills" in written:
            for lang, skill in self.ivr.language_skills.items():
                if skill not in skills:
                    raise ValueError(f"ivr.language_skills {lang!r}: no agent has skill {skill!r}")
        if self.elderly.key and self.elderly.key in self.ivr.waiting_keys:
            raise ValueError(
                f"elderly.key {self.elderly.key!r} is also a waiting key (ivr.waiting_keys): "
                "a key pressed during the direct greeting can mean only one thing"
            )
        if (
            "key" in self.elderly.model_fields_set
            and self.ivr.flow == "menu"
            and self.elderly.key in self.ivr.menu
        ):
            raise ValueError(
                f"elderly.key {self.elderly.key!r} is also a main-menu key (ivr.menu): pick a "
                "key the menu does not use"
            )
        if self.elderly.skill and self.elderly.skill not in skills:
            raise ValueError(f"elderly.skill: no agent has skill {self.elderly.skill!r}")
        return self

    @model_validator(mode="after")
    def _sip_passwords_fit_the_bind(self) -> Config:
        # Softphones (and anyone else) reach a non-loopback bind: the demo seats' well-known
        # passwords would let a stranger register as an agent and take citizens' calls.
        if _is_loopback(self.asterisk.sip_bind):
            return self
        for i, agent in enumerate(self.agents):
            password = agent.sip_password
            if not password or password == "generate":
                continue
            if password.lower().startswith("demo") or len(password) < MIN_SIP_PASSWORD:
                raise ValueError(
                    f"agents[{i}].sip_password (agent {agent.id}): a demo password or one "
                    f"shorter than {MIN_SIP_PASSWORD} characters is refused on SIP bind "
                    f'{self.asterisk.sip_bind}; set a strong one or "generate"'
                )
        return self

    @model_validator(mode="after")
    def _browser_seats_are_free(self) -> Config:
        # The browser endpoint of agent X is webrtc-X: an agent named so would share it.
        if self.webrtc.enabled:
            for i, agent in enumerate(self.agents):
                if agent.id.startswith(WEBRTC_PREFIX):
                    raise ValueError(
                        f"agents[{i}].id {agent.id!r}: ids starting with {WEBRTC_PREFIX!r} "
                        "name browser seats (webrtc.enabled)"
                    )
        return self

    @model_validator(mode="after")
    def _audio_not_in_cache(self) -> Config:
        # A rebuild of the Asterisk root filesystem clears the cache: audio there would go too.
        cache = self.paths.cache_dir.resolve()
        for key, path in (("paths.audio_dir", self.paths.audio_dir),
                          ("recordings.dir", self.recordings.dir),
                          ("recordings.voicemail_dir", self.recordings.voicemail_dir)):  # fmt: skip
            if path is not None and path.resolve().is_relative_to(cache):
                raise ValueError(f"{key}: {path} is inside paths.cache_dir; audio is never cached")
        return self

    @model_validator(mode="before")
    @classmethod
    def _agents_at_the_edge(cls, data: Any) -> Any:
        # In a cluster an agent's phone registers to the edge, and every node reaches it there:
        # its seat is PJSIP/<id>@edge on whichever node holds the caller.
        if not isinstance(data, dict) or not data.get("nodes"):
            return data
        agents = data.get("agents")
        if isinstance(agents, list):
            data = dict(data)
            data["agents"] = [
                {**a, "seat": f"PJSIP/{a.get('id')}@{EDGE_ENDPOINT}"}
                if isinstance(a, dict) and not a.get("seat") and a.get("sip_password")
                else a
                for a in agents
            ]
        return data

    @model_validator(mode="before")
    @classmethod
    def _outbound_through_the_edge(cls, data: Any) -> Any:
        # A cluster node has no citizen-trunk endpoint (its trunk is citizen-<node>, inbound
        # only): what it dials out goes through the edge, which sends it to the carrier.
        if not isinstance(data, dict) or not data.get("nodes"):
            return data
        return outbound_through_edge(data)

    @model_validator(mode="after")
    def _nodes_distinct(self) -> Config:
        names = [n.name for n in self.nodes]
        for i, node in enumerate(self.nodes):
            if names.index(node.name) != i:
                raise ValueError(f"nodes[{i}].name {node.name!r}: two nodes have this name")
        return self

    @property
    def clustered(self) -> bool:
        return bool(self.nodes)

    @property
    def seats(self) -> frozenset[str]:
        """Every dial string an agent may log in at: the agents' own seats and ``acd.seats``."""
        seats = frozenset(a.dial_string for a in self.agents) | frozenset(self.acd.seats)
        if self.webrtc.enabled:  # every agent's browser seat (webrtc)
            seats |= frozenset(browser_seat(a.id) for a in self.agents)
        return seats

    @property
    def skills(self) -> set[str]:
        """Every skill some agent has, and the default skill."""
        return {name for agent in self.agents for name in agent.skills} | {self.acd.default_skill}

    # -- derived values -------------------------------------------------
    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.paths.state_dir / 'hotline.db'}"

    @property
    def spool_dir(self) -> Path:
        return self.database.spool_dir or self.paths.state_dir / "spool"

    @property
    def audio_dir(self) -> Path:
        return self.paths.audio_dir or self.paths.state_dir / "audio"


def _env_overrides(environ: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name == CONFIG_ENV or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("__")
        value: Any = raw
        if raw[:1] in "[{":  # lists and tables may be given as JSON
            try:
                value = json.loads(raw)
            except (json.JSONDecodeError, RecursionError) as exc:
                raise ConfigError(
                    f"{section}.{key}: environment {name} is not valid JSON: {exc}"
                ) from None
        out.setdefault(section, {})[key] = value
    return out


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


def _describe(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"{key}: {err['msg']}")
    return "; ".join(lines)


def load_config(path: Path | str | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read the TOML file (if any), apply environment overrides, validate."""
    environ = os.environ if environ is None else environ
    if path is None and environ.get(CONFIG_ENV):
        path = environ[CONFIG_ENV]
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"configuration file {p} does not exist") from None
        except IsADirectoryError:
            raise ConfigError(f"configuration file {p} is a directory, not a file") from None
        except OSError as exc:
            raise ConfigError(f"configuration file {p}: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"configuration file {p} is not UTF-8 text (byte {exc.start})"
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"configuration file {p} is not valid TOML: {exc}") from None
        except RecursionError:
            raise ConfigError(f"configuration file {p} is nested too deeply") from None
    data = _merge(data, _env_overrides(environ))
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"invalid setting: {_describe(exc)}") from None
