"""Live service metrics: a real call shows up in the per-skill figures on MQTT and in
`hotline status`."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.calls.test_call_path import arrived_call_id, wait_record
from tests.conftest import EngineProcess
from tests.support.calls import AmiTestClient, mqtt_collector

pytestmark = pytest.mark.asterisk


@pytest.fixture
async def ami(engine: EngineProcess) -> AsyncIterator[AmiTestClient]:
    client = AmiTestClient(engine.cfg)
    await client.connect()
    yield client
    client.close()


async def test_an_answered_call_counts_in_the_interval_figures(
    engine: EngineProcess, ami: AmiTestClient
) -> None:
    # The session's store holds earlier tests' calls (the engine loads today's at start): the
    # figures are judged by what this one call added, not by "at least one".
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    report_before = engine.api("GET", f"/api/v1/reports?from={today}&to={today}")["calls"]
    metrics_before = engine.status()["metrics"]
    async with mqtt_collector(engine.cfg) as mqtt:
        engine.agent("1001", "login")
        engine.agent("1001", "ready")
        await ami.call_12345("13822220000", dtmf="1")
        call_id = await arrived_call_id(mqtt, "13822220000")
        _t, queued = await mqtt.wait_for(f"/calls/{call_id}/queued")
        await mqtt.wait_for(f"/calls/{call_id}/answered", timeout=30)
        await ami.hangup(queued["channel"])
        record = await wait_record(engine, call_id)
        assert record.wait_s is not None

        def before(key: str, start: float | None = None) -> dict[str, object]:
            rows = [r for r in metrics_before[key] if r["skill"] == "consult"]
            rows = [r for r in rows if start is None or r["start"] == start]
            return rows[0] if rows else {"offered": 0, "answered": 0}

        def counted(p: dict[str, object]) -> bool:
            interval = p["interval"]
            if not isinstance(interval, dict):
                return False
            was = before("interval", float(str(interval["start"])))
            return int(str(interval["answered"])) == int(str(was["answered"])) + 1

        _t, figures = await mqtt.wait_for("/metrics/consult", pred=counted, timeout=10)
    interval = figures["interval"]
    was = before("interval", interval["start"])  # a new 15-minute interval starts from zero
    assert interval["offered"] == int(str(was["offered"])) + 1, (interval, was)
    assert interval["service_level"] is not None and interval["asa_s"] is not None
    day_was = before("today")
    assert figures["today"]["offered"] == int(str(day_was["offered"])) + 1
    assert figures["today"]["answered"] == int(str(day_was["answered"])) + 1

    # The same call is in the hotline's report over HTTP (Beijing days): one more of each.
    report = engine.api("GET", f"/api/v1/reports?from={today}&to={today}")["calls"]
    assert report["inbound"] == report_before["inbound"] + 1, (report, report_before)
    assert report["answered"] == report_before["answered"] + 1, (report, report_before)

    env = dict(os.environ, HOTLINE_CONFIG=str(engine.setup.path))
    out = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "hotline", "status"],
        env=env,
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert out.returncode == 0, out.stderr
    assert "this 15-minute interval" in out.stdout and "consult" in out.stdout, out.stdout
    assert "agents:" in out.stdout
