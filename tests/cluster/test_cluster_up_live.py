"""`hotline up --cluster` itself, as a user starts it: the edge, two Asterisk nodes in their
namespaces and two engines; the banner names both engines; one leads on both nodes, the other
stands by; kill -9 of the leader and the other leads within 3 s; SIGTERM to `up` stops
everything it started. The test's cluster layout (slot addresses and namespaces, `[[nodes]]`
in the file) stands in for the demo one, which has fixed addresses."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hotline.asterisk.instance import ManagedAsterisk
from hotline.base.settings import load_config
from hotline.cluster.local import engine_pair
from hotline.cluster.nodes import node_config
from hotline.edge.instance import ManagedKamailio
from tests.conftest import EngineProcess, HotlineSetup, _flush_redis_prefix
from tests.support.cluster import NETS, Cluster, _teardown, cluster_toml, wait_for
from tests.support.cluster_standby import leads_both
from tests.support.standby import first_at, stands_by

pytestmark = pytest.mark.asterisk


@pytest.fixture
def up(hotline_setup: HotlineSetup, tmp_path: Path) -> Iterator[tuple[HotlineSetup, Path]]:
    """The configuration `up --cluster` is given, and the file its output goes to; whatever
    it left running (after a kill -9 of its own process) is stopped and removed afterwards."""
    path = tmp_path / "up-cluster.toml"
    text = cluster_toml(hotline_setup.state_dir, f"sqlite:///{tmp_path / 'up.db'}")
    # The session's Redis and Mosquitto serve `up` as services someone else runs: managed, `up`
    # took them for its own leftovers, restarted them and stopped them on SIGTERM, and every
    # later test of the session lost its Redis and its broker.
    text = text.replace("[redis]\n", "[redis]\nmanaged = false\n", 1)
    text = text.replace("[mqtt]\n", "[mqtt]\nmanaged = false\n", 1)
    path.write_text(text, encoding="utf-8")
    setup = HotlineSetup(load_config(path, environ={}), path, hotline_setup.state_dir)
    _flush_redis_prefix(setup.cfg)
    yield setup, tmp_path / "up.out"
    nodes = {n.name: ManagedAsterisk(node_config(setup.cfg, n)) for n in setup.cfg.nodes}
    _teardown(Cluster(setup, ManagedKamailio(setup.cfg), nodes))


def test_up_cluster_starts_two_engines_and_the_standby_takes_over(
    up: tuple[HotlineSetup, Path],
) -> None:
    setup, out_path = up
    with open(out_path, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hotline", "--config", str(setup.path), "up", "--cluster"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    b_pid = 0
    try:
        text = wait_for(
            lambda: (
                proc.poll() is None and "engine b       pid" in (t := out_path.read_text()) and t
            ),
            120,
            f"the banner of up --cluster:\n{out_path.read_text()[-3000:]}",
            every=0.5,
        )
        assert "two engines, a leader and a standby, over 2 Asterisk nodes" in text
        banner_b = re.search(r"engine b       pid (\d+), HTTP (\S+), log (\S+)", text)
        assert banner_b is not None, text
        b_pid = int(banner_b.group(1))
        cfg_a, cfg_b = engine_pair(setup.cfg)
        assert banner_b.group(2) == f"http://{cfg_b.http.host}:{cfg_b.http.port}"
        a, b = (EngineProcess(HotlineSetup(c, setup.path, setup.state_dir), f"up-{tag}")
                for c, tag in ((cfg_a, "a"), (cfg_b, "b")))  # fmt: skip
        b.log_path = Path(banner_b.group(3))
        # One leads on both nodes' AMI, the other stands by (whichever asked first leads).
        wait_for(lambda: _role_pair(a, b), 30, "one engine leading on both nodes, one standing by")
        leader, standby = (a, b) if _role_pair(a, b) == "a" else (b, a)
        print(f"\nup --cluster: engine {_tag(leader)} leads, {_tag(standby)} stands by")

        killed_at = time.time()
        os.kill(proc.pid if leader is a else b_pid, signal.SIGKILL)
        wait_for(lambda: _status_or_none(standby, leads_both), 10, "the standby leading")
        log = standby.log_path if standby is b else out_path
        took_over = first_at(log, "leading with fencing token")
        print(f"standby {_tag(standby)} leads {took_over - killed_at:.2f} s after kill -9")
        assert took_over - killed_at < 3.0, f"took {took_over - killed_at:.2f} s"

        if leader is b:  # `up` lives on: SIGTERM stops its engine, the nodes, the edge
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(60) == 0, out_path.read_text()[-3000:]
            assert not any(n.exists() for n in _netns_paths()), "namespaces left behind"
    finally:
        for pid in (proc.pid, b_pid):
            if pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        proc.wait(10)


def _tag(engine: EngineProcess) -> str:
    return engine.cfg.cluster.engine_id


def _status_or_none(engine: EngineProcess, pred: object) -> bool:
    try:
        return bool(pred(engine.status()))  # type: ignore[operator]
    except OSError:
        return False


def _role_pair(a: EngineProcess, b: EngineProcess) -> str:
    """ "a" or "b": which engine leads on both nodes while the other stands by; "" not yet."""
    if _status_or_none(a, leads_both) and _status_or_none(b, stands_by):
        return "a"
    if _status_or_none(b, leads_both) and _status_or_none(a, stands_by):
        return "b"
    return ""


def _netns_paths() -> list[Path]:
    return [Path("/run/netns") / net.netns for net in NETS.values()]
