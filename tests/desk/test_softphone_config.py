"""`hotline softphone config AGENT --write DIR` gives a baresip that works: it registers as the
agent's desk seat, answers the ACD's call, keeps it up (its test tone never runs out, unlike an
aufile source, which ends the call with its file) and hears the citizen."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from hotline.calls.records import CallOutcome
from tests.calls.test_call_path import arrived_call_id, wait_record
from tests.conftest import PORTS, EngineProcess
from tests.support.baresip import wav_rms
from tests.support.calls import AmiTestClient, mqtt_collector

pytestmark = pytest.mark.asterisk

CALLER = "13712345678"


def softphone_config(engine: EngineProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hotline", "-c", str(engine.setup.path), "softphone", "config",
         *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.fixture
async def ami(engine: EngineProcess) -> AsyncIterator[AmiTestClient]:
    client = AmiTestClient(engine.cfg)
    await client.connect()
    yield client
    client.close()


@pytest.fixture
def baresip(engine: EngineProcess, tmp_path: Path) -> Iterator[tuple[Path, Any]]:
    folder = tmp_path / "baresip-1002"
    done = softphone_config(engine, "1002", "--write", str(folder), "--no-sound-card",
                            "--auto-answer", "--port", str(PORTS["sip"] + 120))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert oct((folder / "accounts").stat().st_mode & 0o777) == "0o600"
    with open(folder / "baresip.log", "wb") as log:
        proc = subprocess.Popen(["baresip", "-f", str(folder)], stdin=subprocess.PIPE,
                                stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    yield folder, proc
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def test_printed_recipe_reads_the_password_from_its_file_and_never_shows_it(
    engine: EngineProcess,
) -> None:
    done = softphone_config(engine, "1002")
    assert done.returncode == 0, done.stderr
    seed = next(a for a in engine.cfg.agents if a.id == "1002")
    assert seed.sip_password not in done.stdout + done.stderr
    assert "$SIP_PASSWORD" in done.stdout and "sip_listen 127.0.0.1:5080" in done.stdout
    missing = softphone_config(engine, "no-such-agent")
    assert missing.returncode != 0 and "no agent 'no-such-agent'" in missing.stderr


async def test_written_baresip_registers_answers_and_stays_up(
    engine: EngineProcess, ami: AmiTestClient, asterisk: Any, baresip: tuple[Path, Any]
) -> None:
    folder, proc = baresip
    for _ in range(100):
        if proc.poll() is not None:
            pytest.fail(f"baresip exited: {(folder / 'baresip.log').read_text()}")
        if "registered successfully" in (folder / "baresip.log").read_text(errors="replace"):
            break
        await asyncio.sleep(0.2)
    else:
        pytest.fail(f"baresip did not register:\n{(folder / 'baresip.log').read_text()[-3000:]}")
    engine.agent("1002", "login")
    engine.agent("1002", "ready")
    async with mqtt_collector(engine.cfg) as mqtt:
        await ami.call_12345(CALLER, dtmf="2", variables={"TEST_PLAY": "hotline/greeting"})
        call_id = await arrived_call_id(mqtt, CALLER)
        _t, queued = await mqtt.wait_for(f"/calls/{call_id}/queued")
        await mqtt.wait_for(f"/calls/{call_id}/answered", timeout=30)
        await asyncio.sleep(8.0)  # longer than any file: the tone source does not end the call
        assert not [t for t, _p in mqtt.messages if t.endswith(f"/calls/{call_id}/ended")]
        await ami.hangup(queued["channel"])
        await mqtt.wait_for(f"/calls/{call_id}/ended", timeout=15)
        record = await wait_record(engine, call_id)
    assert record.outcome is CallOutcome.ANSWERED and record.agent_id == "1002"
    heard = sorted(folder.glob("dump-*-dec.wav"))  # sndfile: what the phone received
    log = "\n".join(
        line
        for line in (folder / "baresip.log").read_text(errors="replace").splitlines()
        if "audio=" not in line
    )
    assert heard and max(wav_rms(f) for f in heard) > 100, log[-3000:]
    assert os.stat(folder).st_mode & 0o077 == 0
