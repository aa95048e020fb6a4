"""Shared fixtures: one managed Asterisk test instance per session, the engine as a subprocess.

Real parts only. When a part cannot start the fixture FAILS with the reason (never skips).
Ports differ from the demo's (`make run`) so the suite can run beside a running centre.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from hotline.base.settings import Config, load_config
from tests.support.pg_url import shared_pg_url

# Property tests judge results, never time: hypothesis' default 200 ms deadline per example
# failed a calendar property on a loaded 2-core machine (load 60), which says nothing of the code.
settings.register_profile("hotline", deadline=None)
settings.load_profile("hotline")

RUN_ID = uuid.uuid4().hex[:8]
CACHE_DIR = Path(os.environ.get("HOTLINE_TEST_CACHE_DIR", "/var/cache/hotline"))
PG_URL = shared_pg_url()  # HOTLINE_TEST_PG_URL, else the role setup made
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

# HOTLINE_TEST_SLOT=N (0 by default) moves every port by N*1000 and names the Asterisk instance
# "testN", so two checkouts (or two developers) can run the real-part suite side by side.
SLOT = int(os.environ.get("HOTLINE_TEST_SLOT", "0"))
_BASE_PORTS = {
    "ami": 25038, "sip": 25060, "fastagi": 24573, "http": 28345, "rtp": 20000,
    "redis": 26379, "mqtt": 26883, "ws": 28088, "wss": 28089,
}  # fmt: skip
PORTS = {name: port + SLOT * 1000 for name, port in _BASE_PORTS.items()}
INSTANCE = "test" if SLOT == 0 else f"test{SLOT}"


def config_toml(state_dir: Path, db_url: str) -> str:
    return f"""
[paths]
state_dir = "{state_dir}"
cache_dir = "{CACHE_DIR}"

[asterisk]
instance = "{INSTANCE}"
sip_port = {PORTS["sip"]}
rtp_start = {PORTS["rtp"]}
rtp_end = {PORTS["rtp"] + 999}
test_contexts = true

[ami]
port = {PORTS["ami"]}
reconnect_max_s = 2.0

[fastagi]
port = {PORTS["fastagi"]}

[http]
port = {PORTS["http"]}

[database]
url = "{db_url}"

[redis]
url = "redis://127.0.0.1:{PORTS["redis"]}/0"
key_prefix = "hotline-test-{RUN_ID}:"

[mqtt]
port = {PORTS["mqtt"]}
topic_prefix = "hotline-test-{RUN_ID}"

[web]
# Log-in delays long enough that a test's quick retries are held for certain (never timed).
login_backoff_base_s = 30

[acd]
ring_timeout_s = 8
wrapup_s = 1
tick_s = 0.2
metrics_publish_s = 1
# The call-path tests were written for plain skills routing; since issue 17 a new centre gets
# the 15-second rules on (announcements, missed-call callback, widening). The test centre
# switches them off, and the tests of those rules switch on what they test.
announce_every_s = 0
missed_callback_after_s = false
widen_after_s = false
initial_max_level = 10
# Phones the tests log agents in at besides their own seats (a login elsewhere is refused).
seats = ["Local/1001@test-noanswer", "Local/1002@test-phone"]

[tickets]
calendar_poll_s = 1

[satisfaction]
# The after-call rating (一次一评) keeps the caller up to ~15 s after the agent hangs up; its
# tests (test_followup_live.py) switch it on, every other test ends its calls as before.
after_call = false

[webrtc]
ws_port = {PORTS["ws"]}
tls_port = {PORTS["wss"]}

[ivr]
# Most call-path tests press menu keys; tests of the default (direct) flow switch it back.
flow = "menu"
digit_timeout_s = 3
max_failures = 2

[[agents]]
id = "1001"
name = "Test agent 1001"
seat = "Local/1001@test-phone"
skills = {{ general = 1, consult = 1, request = 1 }}

[[agents]]
id = "1002"
name = "Test agent 1002 (baresip)"
sip_password = "pw-1002-{RUN_ID}"
skills = {{ general = 1, consult = 1, request = 1, english = 1 }}
"""


@dataclass
class HotlineSetup:
    cfg: Config
    path: Path
    state_dir: Path


@contextmanager
def servers_on_the_real_clock() -> Iterator[None]:
    """Servers the suite starts (Redis, Mosquitto, Asterisk) run without libfaketime, which
    ``make test-years`` preloads to move the clock of the suite, the engine and the CLI into
    another year: Redis hangs at start under it (recursive clock_gettime), and none of them
    has a calendar. Our Python processes, started with the environment restored, keep it."""
    preload = os.environ.pop("LD_PRELOAD", None)
    try:
        yield
    finally:
        if preload is not None:
            os.environ["LD_PRELOAD"] = preload


@pytest.fixture(scope="session")
def hotline_setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HotlineSetup]:
    """The test centre's configuration, and its own Redis and Mosquitto (hotline.base.localservices:
    generated credentials, anonymous clients refused), as `hotline up` starts them."""
    from hotline.base.localservices import ServiceStartError, start_managed, stop_all

    state = tmp_path_factory.mktemp("hotline-state")
    path = state / "hotline.toml"
    path.write_text(config_toml(state, f"sqlite:///{state / 'hotline.db'}"), encoding="utf-8")
    cfg = load_config(path, environ={})
    try:
        with servers_on_the_real_clock():
            servers = start_managed(cfg)
    except ServiceStartError as exc:
        pytest.fail(f"the test centre's Redis/Mosquitto did not start: {exc}")
    yield HotlineSetup(cfg=cfg, path=path, state_dir=state)
    stop_all(servers)


@pytest.fixture(scope="session")
def asterisk(hotline_setup: HotlineSetup) -> Iterator[Any]:
    from hotline.asterisk.instance import ManagedAsterisk

    instance = ManagedAsterisk(hotline_setup.cfg)
    try:
        with servers_on_the_real_clock():
            instance.start()
    except Exception as exc:
        pytest.fail(f"the managed Asterisk 22 test instance did not start: {exc}")
    yield instance
    instance.stop()


class EngineProcess:
    """`python -m hotline engine` with the test configuration, its log kept for failures."""

    def __init__(self, setup: HotlineSetup, name: str, engine_args: Sequence[str] = ()) -> None:
        self.setup = setup
        self.cfg = setup.cfg
        self.engine_args = list(engine_args)  # after `engine` (`--cluster-engine b`)
        self.log_path = setup.state_dir / f"engine-{name}.log"
        self.base = f"http://127.0.0.1:{self.cfg.http.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def token(self) -> str:
        return (self.setup.state_dir / "api-token").read_text().strip()

    def start(
        self, timeout: float = 30.0, ready: Callable[[dict[str, Any]], bool] | None = None
    ) -> None:
        """Start and wait until ready: AMI logged in, unless `ready` says otherwise (a standby
        engine has no AMI connection)."""
        ready = ready or (lambda status: bool(status.get("ami_connected")))
        env = dict(os.environ, HOTLINE_CONFIG=str(self.setup.path))
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "hotline", "-v", "engine", *self.engine_args],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        # On a loaded machine (2 cores, several suites) a start can take minutes: ``timeout``
        # counts only time in which the engine writes nothing to its log (a hang), and a start
        # that keeps logging gets at most ten times that.
        started = progress = time.monotonic()
        size = -1
        while (now := time.monotonic()) - progress < timeout and now - started < 10 * timeout:
            if (grown := self.log_path.stat().st_size) != size:
                size, progress = grown, now
            if self.proc.poll() is not None:
                pytest.fail(f"engine exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if ready(self.status()):
                    return
            except (OSError, urllib.error.URLError, FileNotFoundError):
                pass
            time.sleep(0.2)
        # Never leave it running: it holds the slot's ports and every later test would fail
        # with "address already in use" instead of saying what broke here.
        self.stop(kill=True)
        pytest.fail(
            f"engine not ready: {timeout} s without a log line, or {10 * timeout} s in all:\n"
            f"{self.log_tail()}"
        )

    def stop(self, kill: bool = False) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        if kill:
            self.proc.kill()
        else:
            self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def log_tail(self, lines: int = 80) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.base + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=5) as resp:
            return json.load(resp)

    def status(self) -> dict[str, Any]:
        result: dict[str, Any] = self.api("GET", "/api/v1/status")
        return result

    def agent(self, agent_id: str, action: str, body: dict[str, Any] | None = None) -> Any:
        return self.api("POST", f"/api/v1/agents/{agent_id}/{action}", body or {})


@pytest.fixture
def engine(
    asterisk: Any, hotline_setup: HotlineSetup, request: pytest.FixtureRequest
) -> Iterator[EngineProcess]:
    _flush_redis_prefix(hotline_setup.cfg)
    proc = EngineProcess(hotline_setup, request.node.name)
    proc.start()
    yield proc
    proc.stop()
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(proc.log_path, ARTIFACTS / proc.log_path.name)
        print(f"\n--- engine log ({proc.log_path}) ---\n{proc.log_tail(200)}")


def _flush_redis_prefix(cfg: Config) -> None:
    import redis

    from hotline.base.localservices import redis_client_kwargs

    client = redis.Redis.from_url(
        cfg.redis.url, socket_connect_timeout=3, **redis_client_kwargs(cfg)
    )
    try:
        keys = list(client.scan_iter(f"{cfg.redis.key_prefix}*"))
        if keys:
            client.delete(*keys)
    except redis.RedisError as exc:
        pytest.fail(f"Redis at {cfg.redis.url} is not reachable: {exc}")
    finally:
        client.close()


@pytest.fixture(autouse=True)
def _no_call_outlives_its_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """A caller a test left on hold would be found waiting by the next test's engine (which
    requeues callers it finds in Asterisk, as after a restart) and offered to its agents: every
    channel is hung up after each test that used the real Asterisk."""
    yield
    if "asterisk" in request.fixturenames:
        instance = request.getfixturevalue("asterisk")
        try:
            if _no_channels(instance):
                return
            instance.cli("channel request hangup all")
            for _ in range(20):  # hang-ups take a moment
                if _no_channels(instance):
                    return
                time.sleep(0.1)
        except Exception as exc:  # Asterisk itself is gone: the next test says so
            print(f"could not hang up the test's leftover channels: {exc}")


def _no_channels(instance: Any) -> bool:
    return (
        re.search(r"^\s*0 active channels", instance.cli("core show channels count"), re.M)
        is not None
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"rep_{report.when}", report)


def port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


# -- markers that tell the truth ---------------------------------------------------------------
# A test carries the marker of every real part it needs, read from the fixtures it uses (their
# closure), beside what its module declares: the fast tier without real parts is
#   pytest -m "not asterisk and not postgres and not redis and not mqtt and not browser"
_PARTS_OF_FIXTURE = {
    "hotline_setup": ("redis", "mqtt"),  # the test centre's own Redis and Mosquitto
    "asterisk": ("asterisk",),
    "browser": ("browser",),  # Playwright driving Debian's Chromium
    "chromium": ("browser",),
}


def _parts(item: pytest.Item) -> set[str]:
    names = set(getattr(item, "fixturenames", ()))
    parts = {part for name in names for part in _PARTS_OF_FIXTURE.get(name, ())}
    if any(name.endswith("pg_url") for name in names):
        parts.add("postgres")
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "postgresql" in {str(v) for v in callspec.params.values()}:
        parts.add("postgres")  # the PostgreSQL side of a test run on both back ends
    return parts


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for part in sorted(_parts(item)):
            item.add_marker(part)
