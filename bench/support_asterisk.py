"""Real parts for benchmarks: the managed Asterisk, the engine as a subprocess, an AMI driver.

The bench instance has its own name ("bench"), ports, state directory, Redis database and key
prefix and MQTT topic prefix, so it runs beside `make run` and the test suite without touching
them. A part that does not come up raises :class:`BenchSetupError` whose message names the part
(benches print figures, so they must never quietly measure something that is not there).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from panoramisk import Manager

from hotline.asterisk.render import ami_test_username
from hotline.base.secrets import stored_secret
from hotline.base.settings import Config, load_config

REPO = Path(__file__).resolve().parents[1]
CACHE_DIR = Path(os.environ.get("HOTLINE_BENCH_CACHE_DIR", "/var/cache/hotline"))
# Apart from the test suite's (25038, 25060, 24573, 28345, 20000-20999) and the demo's.
PORTS = {
    "ami": 26038, "sip": 26060, "fastagi": 26573, "http": 29345, "rtp": 21000,
    "redis": 26479, "mqtt": 26983,
}  # fmt: skip
REDIS_URL = f"redis://127.0.0.1:{PORTS['redis']}/0"  # the bench's own, with credentials
RTP_SPAN = 1000  # ports from PORTS["rtp"]; bench/load.py needs more (two per channel)
# Starting the managed instance restarts one that is already running, which would cut another
# bench run off mid-trace: one run at a time holds this lock.
LOCK_PATH = Path(tempfile.gettempdir()) / "hotline-bench-asterisk.lock"


class BenchSetupError(RuntimeError):
    """A real part (Asterisk, Redis, the engine, AMI) did not start; the message says which."""


@dataclass(frozen=True)
class BenchAgent:
    agent_id: str  # digits: the bench-agent context matches _X.
    skills: Mapping[str, int]  # skill -> level, 1 best
    sip_password: str = ""  # set: the agent gets its own PJSIP endpoint (a SIP phone)

    @property
    def seat(self) -> str:
        return f"Local/{self.agent_id}@bench-agent"


def config_toml(
    state_dir: Path,
    run_id: str,
    agents: Sequence[BenchAgent],
    acd: Mapping[str, float],
    instance: str = "bench",
    extra: str = "",
) -> str:
    acd_lines = "\n".join(f"{key} = {value}" for key, value in acd.items())
    agent_blocks = "\n".join(
        f'[[agents]]\nid = "{a.agent_id}"\nname = "Bench agent {a.agent_id}"\n'
        f'seat = "{a.seat}"\n'
        + (f'sip_password = "{a.sip_password}"\n' if a.sip_password else "")
        + "skills = { "
        + ", ".join(f"{skill} = {level}" for skill, level in sorted(a.skills.items()))
        + " }\n"
        for a in agents
    )
    return f"""
[paths]
state_dir = "{state_dir}"
cache_dir = "{CACHE_DIR}"

[asterisk]
instance = "{instance}"
sip_port = {PORTS["sip"]}
rtp_start = {PORTS["rtp"]}
rtp_end = {PORTS["rtp"] + RTP_SPAN - 1}
test_contexts = true

[ami]
port = {PORTS["ami"]}
reconnect_max_s = 2.0

[fastagi]
port = {PORTS["fastagi"]}

[http]
port = {PORTS["http"]}

[database]
url = "sqlite:///{state_dir / "hotline.db"}"

[redis]
url = "{REDIS_URL}"
key_prefix = "hotline-bench-{run_id}:"

[mqtt]
port = {PORTS["mqtt"]}
topic_prefix = "hotline-bench-{run_id}"

[acd]
{acd_lines}

{agent_blocks}
{extra}"""


class BenchSite:
    """The state directory and configuration of one bench run; `close()` removes them."""

    def __init__(
        self,
        agents: Sequence[BenchAgent],
        acd: Mapping[str, float],
        instance: str = "bench",
        extra_toml: str = "",
    ) -> None:
        """``extra_toml``: sections added to the configuration (a cluster's edge and nodes)."""
        self.run_id = uuid.uuid4().hex[:8]
        self.state_dir = Path(tempfile.mkdtemp(prefix="hotline-bench-asterisk-"))
        self.config_path = self.state_dir / "hotline.toml"
        self.config_path.write_text(
            config_toml(self.state_dir, self.run_id, agents, acd, instance, extra_toml),
            encoding="utf-8",
        )
        self.cfg: Config = load_config(self.config_path, environ={})
        self.asterisk: Any = None  # hotline.asterisk.instance.ManagedAsterisk once started
        self.engines: list[EngineProcess] = []  # stopped by close(), whatever went wrong
        self.services: list[Any] = []  # the bench's own Redis and Mosquitto (localservices)
        self._lock: Any = None

    def start_asterisk(self) -> None:
        from hotline.asterisk.instance import ManagedAsterisk

        self.start_services()
        instance = ManagedAsterisk(self.cfg)
        self.asterisk = instance  # set first: close() stops a half-started instance too
        try:
            instance.start()
        except Exception as exc:
            raise BenchSetupError(
                f"Asterisk: the managed bench instance did not start: {exc}"
            ) from None

    def start_services(self) -> None:
        """The instance's lock, then the bench's own Redis and Mosquitto (no Asterisk: a
        cluster's nodes are started by the caller)."""
        if os.geteuid() != 0:
            raise BenchSetupError("Asterisk: the managed instance needs root (chroot, mount)")
        # One lock per instance name: the load bench runs its own ("bench-load").
        lock_path = LOCK_PATH.with_name(f"hotline-{self.cfg.asterisk.instance}-asterisk.lock")
        lock = open(lock_path, "a+")  # held, and so locked, until close()
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise BenchSetupError(
                f"Asterisk: another bench run is using the bench instance ({lock_path} is "
                "locked); run one at a time"
            ) from None
        self._lock = lock
        from hotline.base.localservices import start_managed

        try:
            self.services = start_managed(self.cfg)  # as `hotline up` does, with credentials
        except Exception as exc:
            raise BenchSetupError(f"Redis/Mosquitto of the bench did not start: {exc}") from None

    def flush_redis(self) -> None:
        import redis

        from hotline.base.localservices import redis_client_kwargs

        client = redis.Redis.from_url(
            self.cfg.redis.url, socket_connect_timeout=3, **redis_client_kwargs(self.cfg)
        )
        try:
            keys = list(client.scan_iter(f"{self.cfg.redis.key_prefix}*"))
            if keys:
                client.delete(*keys)
        except redis.RedisError as exc:
            raise BenchSetupError(
                f"Redis at {self.cfg.redis.url} is not reachable: {exc}"
            ) from None
        finally:
            client.close()

    def close(self, keep_state: bool = False) -> None:
        try:
            for engine in self.engines:
                engine.stop()
            if self.asterisk is not None:
                self.asterisk.stop()
        finally:
            if self._lock is not None:
                self._lock.close()  # releases the flock
                self._lock = None
            with contextlib.suppress(BenchSetupError):
                self.flush_redis()
            from hotline.base.localservices import stop_all

            stop_all(self.services)
            self.services = []
            if not keep_state:
                shutil.rmtree(self.state_dir, ignore_errors=True)


class EngineProcess:
    """`python -m hotline engine` with the bench configuration; its log in the state dir."""

    def __init__(self, site: BenchSite) -> None:
        self.site = site
        self.log_path = site.state_dir / "engine.log"
        self.base = f"http://127.0.0.1:{site.cfg.http.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        site.engines.append(self)

    def start(self, timeout: float = 30.0) -> None:
        env = dict(os.environ, HOTLINE_CONFIG=str(self.site.config_path))
        # Not -v: debug logging of every AMI event would slow the engine we are measuring.
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "hotline", "engine"],
                env=env,
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchSetupError(
                    f"engine: exited with {self.proc.returncode} at start:\n{self.log_tail()}"
                )
            with contextlib.suppress(OSError, urllib.error.URLError, ValueError):
                if self.status().get("ami_connected"):
                    return
            time.sleep(0.2)
        self.stop()
        raise BenchSetupError(
            f"engine: not connected to Asterisk's AMI within {timeout:.0f} s:\n{self.log_tail()}"
        )

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no engine log)"

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        token = (self.site.state_dir / "api-token").read_text().strip()
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.base + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=5) as resp:
            return json.load(resp)

    def status(self) -> dict[str, Any]:
        result: dict[str, Any] = self.api("GET", "/api/v1/status")
        return result

    def agent(self, agent_id: str, action: str) -> None:
        try:
            self.api("POST", f"/api/v1/agents/{agent_id}/{action}", {})
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            raise BenchSetupError(f"engine: agent {agent_id} {action} refused: {detail}") from None


UserEventHandler = Callable[[str, dict[str, Any]], None]


class AmiDriver:
    """The bench's own AMI login: places and hangs up calls, hears the user events.

    Asterisk filters the events for this login down to UserEvent and OriginateResponse (the
    latter completes panoramisk's Originate), so the driver does not parse the thousands of
    Newexten/VarSet events a run produces on the CPU the engine under test needs.
    """

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.manager: Manager | None = None
        self.on_user_event: UserEventHandler | None = None
        self.lost = asyncio.Event()
        """Set when the AMI connection drops: Asterisk went away, the run is void."""

    async def connect(self, timeout: float = 10.0) -> None:
        # panoramisk logs (and retries) a lost connection for ever; we stop and say so instead.
        quiet = logging.getLogger("bench.ami")
        quiet.setLevel(logging.CRITICAL)
        self.manager = Manager(
            host=self.cfg.ami.host,
            port=self.cfg.ami.port,
            # The benchmarks' own login (asterisk.test_contexts): app_queue members are added
            # with the `agent` class, which the engine's login does not have.
            username=ami_test_username(self.cfg),
            secret=stored_secret(self.cfg.paths.state_dir, "ami-test-secret"),
            ping_delay=3600,
            log=quiet,
            on_disconnect=self._disconnected,
        )
        self.manager.loop = asyncio.get_running_loop()
        self.manager.register_event("UserEvent", self._user_event)
        try:
            await asyncio.wait_for(self.manager.connect(), timeout)
        except (OSError, TimeoutError) as exc:
            raise BenchSetupError(f"AMI: cannot connect to {self.cfg.ami.port}: {exc}") from None
        deadline = time.monotonic() + timeout
        while not self.manager.authenticated:
            if time.monotonic() > deadline:
                raise BenchSetupError("AMI: the bench driver could not log in")
            await asyncio.sleep(0.05)
        # No event filter: the Filter action needs the `system` class, which no login of
        # ours has; panoramisk drops the events nobody registered for.

    def _disconnected(self, manager: Any, _exc: Any) -> None:
        manager.reconnect_timeout = 10**9
        self.lost.set()

    def _user_event(self, _manager: Any, message: Any) -> None:
        if self.on_user_event is None:
            return
        headers = dict(message)
        # A UserEvent raised on a channel repeats some headers (channel snapshot, then ours);
        # panoramisk makes a list of them and ours is the last.
        flat = {k: v[-1] if isinstance(v, list) and v else v for k, v in headers.items()}
        self.on_user_event(str(flat.get("UserEvent", "")), flat)

    async def send(
        self, action: dict[str, Any], timeout: float = 10.0, as_list: bool | None = None
    ) -> Any:
        if self.manager is None:
            raise BenchSetupError("AMI: the bench driver is not connected")
        if self.lost.is_set():
            raise BenchSetupError(
                "AMI: the connection to Asterisk dropped during the run (did Asterisk stop?)"
            )
        future = self.manager.send_action(action, as_list=as_list)
        response = await asyncio.wait_for(future, timeout)
        first = response[0] if isinstance(response, list) else response
        if not getattr(first, "success", False):
            raise RuntimeError(f"AMI {action.get('Action')} refused: {first.get('Message')}")
        return response

    async def channels(self) -> list[dict[str, Any]]:
        """The live channels (CoreShowChannels)."""
        response = await self.send({"Action": "CoreShowChannels"}, as_list=True)
        messages = response if isinstance(response, list) else [response]
        return [dict(m) for m in messages if str(m.get("Event", "")) == "CoreShowChannel"]

    def close(self) -> None:
        if self.manager is not None:
            self.manager.reconnect_timeout = 10**9  # no reconnect after an explicit close
            self.manager.close()
            self.manager = None
