"""What `hotline up --cluster` starts: the edge and the nodes (hotline/cluster/local.py), engine
"a" in its own process and engine "b" standing by in another, both on one lease; and the banner
that names both. Redis, Kamailio and Asterisk are not started here (tests/integration/
test_cluster.py runs the two engines, started the same way, over a real cluster)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hotline.app import cli
from hotline.base.settings import Config, load_config
from hotline.cluster import local
from hotline.cluster.local import demo_cluster, engine_argv, engine_pair

AGENTS = """
[http]
port = 9345

[cluster]
advertise_url = "http://desk.example:9345"
"""


def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "h.toml"
    path.write_text(f'[paths]\nstate_dir = "{tmp_path}"\n{AGENTS}', encoding="utf-8")
    return path


def test_the_two_engines_share_one_lease_and_differ_in_name_and_http_port(
    tmp_path: Path,
) -> None:
    cfg = demo_cluster(load_config(config_file(tmp_path), environ={}))
    a, b = engine_pair(cfg)
    assert (a.cluster.standby, b.cluster.standby) == (True, True)
    assert (a.cluster.engine_id, b.cluster.engine_id) == ("a", "b")
    assert (a.http.port, b.http.port) == (9345, 9346)
    # b's desktop address is its own; the configured one is a's.
    assert (a.cluster.advertise_url, b.cluster.advertise_url) == ("http://desk.example:9345", "")
    for same in ("nodes", "edge", "fastagi", "redis", "database_url", "agents"):
        assert getattr(a, same) == getattr(b, same) == getattr(cfg, same), same
    assert a.cluster.lease_ms == b.cluster.lease_ms == cfg.cluster.lease_ms


def test_the_standby_process_serves_engine_b_of_the_same_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = config_file(tmp_path)
    argv = engine_argv("b", path, verbose=True)
    assert argv[1:3] == ["-m", "hotline"]
    served: list[Config] = []

    async def serve(cfg: Config) -> int:
        served.append(cfg)
        return 0

    monkeypatch.setattr(cli, "_serve", serve)
    args = cli.build_parser().parse_args(argv[3:])
    assert args.func(args) == 0
    expected = engine_pair(demo_cluster(load_config(path, environ={})))[1]
    assert served == [expected]


class _Cluster:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.calls: list[str] = []

    def start(self) -> None:
        self.calls.append("start")

    def stop(self) -> None:
        self.calls.append("stop")

    def banner(self) -> str:
        return "  edge (Kamailio) ..."


def test_up_cluster_starts_engine_b_and_prints_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import hotline.base.localservices as services

    path = config_file(tmp_path)
    started: list[list[str]] = []
    stopped: list[str] = []
    served: list[Config] = []
    clusters: list[_Cluster] = []

    async def serve(cfg: Config) -> int:
        served.append(cfg)
        return 0

    def start(self: local.StandbyEngine) -> None:
        started.append(self.argv)

    def make_cluster(cfg: Config) -> _Cluster:
        clusters.append(_Cluster(cfg))
        return clusters[-1]

    monkeypatch.setattr(services, "start_managed", lambda cfg: [])
    monkeypatch.setattr(services, "stop_all", lambda s: stopped.append("services"))
    monkeypatch.setattr(local, "LocalCluster", make_cluster)
    monkeypatch.setattr(local.StandbyEngine, "start", start)
    monkeypatch.setattr(local.StandbyEngine, "stop", lambda self: stopped.append("b"))
    monkeypatch.setattr(cli, "_serve", serve)
    args: Any = cli.build_parser().parse_args(["--config", str(path), "up", "--cluster"])
    assert args.func(args) == 0

    a, b = engine_pair(demo_cluster(load_config(path, environ={})))
    assert started == [engine_argv("b", path)], "engine b in a process of its own"
    assert served == [a], "engine a in this process"
    assert clusters[0].calls == ["start", "stop"] and stopped == ["b", "services"]
    out = capsys.readouterr().out
    assert "two engines, a leader and a standby" in out
    assert "engine a       this process, HTTP http://127.0.0.1:9345" in out
    assert f"HTTP http://127.0.0.1:9346, log {b.paths.state_dir / 'engine-b.log'}" in out
