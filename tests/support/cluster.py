"""Two engines on the test slot's Redis, database and Asterisk: a leader and a standby.

Each engine has its own configuration file (its own HTTP port; the same FastAGI port, shared
with SO_REUSEPORT; optionally Redis, MQTT or AMI through a CutProxy) in the same state
directory, so both read the same secrets, as two engines of one centre do.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from hotline.base.settings import load_config
from tests.conftest import ARTIFACTS, PORTS, EngineProcess, HotlineSetup, config_toml
from tests.support.faults import CutProxy

CLUSTER = """
[cluster]
standby = true
engine_id = "{name}"
"""


def engine_setup(
    setup: HotlineSetup,
    name: str,
    *,
    http_port: int,
    redis_port: int | None = None,
    mqtt_port: int | None = None,
    ami_port: int | None = None,
    standby: bool = True,
) -> HotlineSetup:
    """A configuration file for one more engine of the test centre."""
    state = setup.state_dir
    text = config_toml(state, f"sqlite:///{state / 'hotline.db'}")
    # Same run id as the session's: the key prefix and MQTT topics are shared by both engines.
    text = re.sub(r"hotline-test-[0-9a-f]{8}", setup.cfg.mqtt.topic_prefix, text)
    text = text.replace(f"[http]\nport = {PORTS['http']}", f"[http]\nport = {http_port}")
    if redis_port is not None:
        text = text.replace(f"127.0.0.1:{PORTS['redis']}/0", f"127.0.0.1:{redis_port}/0")
    if mqtt_port is not None:
        text = text.replace(f"[mqtt]\nport = {PORTS['mqtt']}", f"[mqtt]\nport = {mqtt_port}")
    if ami_port is not None:
        text = text.replace(f"[ami]\nport = {PORTS['ami']}", f"[ami]\nport = {ami_port}")
    if standby:
        text += CLUSTER.format(name=name)
    path = state / f"hotline-{name}.toml"
    path.write_text(text, encoding="utf-8")
    cfg = load_config(path, environ={})
    assert cfg.redis.key_prefix == setup.cfg.redis.key_prefix, "one centre, one key prefix"
    return HotlineSetup(cfg=cfg, path=path, state_dir=state)


def role(status: dict[str, Any]) -> str:
    return str((status.get("cluster") or {}).get("role"))


def leads(status: dict[str, Any]) -> bool:
    return role(status) == "leader" and bool(status.get("ami_connected"))


def stands_by(status: dict[str, Any]) -> bool:
    return role(status) == "standby"


def wait_until(engine: EngineProcess, pred: Any, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            last = engine.status()
            if pred(last):
                return last
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"engine state not reached in {timeout} s: {last.get('cluster')}")


_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) ")


def log_lines(path: Path, pattern: str) -> Iterator[tuple[float, str]]:
    """(time.time() of the line, line) for the engine log's lines matching `pattern`."""
    wanted = re.compile(pattern)
    for line in path.read_text(errors="replace").splitlines():
        stamp = _STAMP.match(line)
        if stamp and wanted.search(line):
            at = datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S").timestamp()
            yield at + int(stamp.group(2)) / 1000, line


def first_at(path: Path, pattern: str) -> float:
    found = next(log_lines(path, pattern), None)
    assert found is not None, f"no log line matching {pattern!r} in {path.name}"
    return found[0]


class Centre:
    """The engines and proxies a test started; all stopped at the end, logs kept on failure."""

    def __init__(self, setup: HotlineSetup, name: str) -> None:
        self.setup = setup
        self.name = name
        self.engines: list[EngineProcess] = []
        self.proxies: list[CutProxy] = []

    def engine(self, tag: str, **ports: Any) -> EngineProcess:
        proc = EngineProcess(engine_setup(self.setup, tag, **ports), f"{self.name}-{tag}")
        self.engines.append(proc)
        return proc

    def proxy(self, listen: int, target: int) -> CutProxy:
        proxy = CutProxy(listen, target).start()
        self.proxies.append(proxy)
        return proxy

    def close(self, failed: bool) -> None:
        for proc in self.engines:
            proc.stop()
        for proxy in self.proxies:
            proxy.stop()
        if failed:
            ARTIFACTS.mkdir(exist_ok=True)
            for proc in self.engines:
                (ARTIFACTS / proc.log_path.name).write_bytes(proc.log_path.read_bytes())
                print(f"\n--- {proc.log_path.name} ---\n{proc.log_tail(120)}")
