"""Reconciliation with Asterisk, every branch through the real parts (hotline/acd/consumer.py).

- Asterisk killed and started again while one call talks, one rings an agent and three wait:
  every call gets its record, the talking agent's leg ends the call for the agent, the ringing
  leg fails its offer, the waiting calls that are gone are abandoned; agents serve again after.
- The engine killed while five callers wait and its last saves lost (the last three callers are
  not in the saved queue): the reconciliation finds all three in Asterisk and queues them again
  after the other two, in the order they came.

Each branch logs what it did with the ids; the tests check those lines and what followed.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
from collections.abc import Iterator
from typing import Any

import pytest

from hotline.base.settings import load_config
from hotline.calls.records import CallOutcome
from tests.app.test_engine_restart import drop_from_saved_queue, wait_saved, wait_waiting
from tests.calls.test_call_path import arrived_call_id, wait_record
from tests.conftest import PORTS, EngineProcess, HotlineSetup, _flush_redis_prefix
from tests.support.calls import AmiTestClient, MqttCollector, mqtt_collector
from tests.support.standby import engine_setup, log_lines

pytestmark = pytest.mark.asterisk

RINGING_SEAT = "Local/1001@test-noanswer"  # rings until the ring timeout, never answers


@pytest.fixture
def engine(
    asterisk: Any, hotline_setup: HotlineSetup, request: pytest.FixtureRequest
) -> Iterator[EngineProcess]:
    """An engine whose agent legs ring for 60 s: the ringing one outlives Asterisk's restart
    (with the test centre's 8 s the Originate may time out first and the branch go untried)."""
    _flush_redis_prefix(hotline_setup.cfg)
    setup = engine_setup(hotline_setup, "reconcile", http_port=PORTS["http"], standby=False)
    text = setup.path.read_text(encoding="utf-8")
    assert "ring_timeout_s = 8\n" in text
    setup.path.write_text(text.replace("ring_timeout_s = 8\n", "ring_timeout_s = 60\n"))
    setup = HotlineSetup(load_config(setup.path, environ={}), setup.path, setup.state_dir)
    proc = EngineProcess(setup, request.node.name[:50])
    proc.start()
    yield proc
    proc.stop()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(f"\n--- engine log ---\n{proc.log_tail(150)}")


async def place(ami: AmiTestClient, mqtt: MqttCollector, caller: str) -> tuple[str, str]:
    """A caller through the menu into the queue: (call id, caller channel)."""
    await ami.call_12345(caller, dtmf="1", dtmf_delay=1, hold=300)
    call_id = await arrived_call_id(mqtt, caller)
    _t, queued = await mqtt.wait_for(f"/calls/{call_id}/queued", timeout=30)
    return call_id, str(queued["channel"])


def logged(engine: EngineProcess, pattern: str) -> list[str]:
    return [line for _at, line in log_lines(engine.log_path, pattern)]


async def test_asterisk_killed_with_calls_waiting_ringing_and_talking_takes_every_branch(
    engine: EngineProcess, asterisk: Any
) -> None:
    ami = AmiTestClient(engine.cfg)
    await ami.connect()
    try:
        async with mqtt_collector(engine.cfg) as mqtt:
            engine.agent("1002", "login", {"seat": "Local/1002@test-phone"})
            engine.agent("1002", "ready")
            talking, _ = await place(ami, mqtt, "13955550001")
            await mqtt.wait_for(f"/calls/{talking}/answered", timeout=30)
            engine.agent("1001", "login", {"seat": RINGING_SEAT})
            engine.agent("1001", "ready")
            ringing, _ = await place(ami, mqtt, "13955550002")
            await mqtt.wait_for(f"/calls/{ringing}/offered", timeout=20)
            waiting = [(await place(ami, mqtt, f"1395555001{n}"))[0] for n in range(3)]
            # The status lists the call being offered with those still waiting.
            assert await wait_waiting(engine, 4) == [ringing, *waiting]
            agents = {a["agent_id"]: a["state"] for a in engine.status()["agents"]}
            assert agents == {"1001": "ringing", "1002": "on_call"}, agents
        ami.close()

        # A crash, not a clean stop: no Hangup event reaches the engine, only the
        # reconciliation after its next AMI log-in can find out what is gone.
        pid = asterisk.pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        try:  # the session started it: reap it, or its zombie looks like a running Asterisk
            await asyncio.to_thread(os.waitpid, pid, 0)
        except ChildProcessError:
            pass
        await asyncio.to_thread(asterisk.start)

        calls = [talking, ringing, *waiting]
        records = {c: await wait_record(engine, c, timeout=30) for c in calls}
        outcomes = {c: r.outcome for c, r in records.items()}
        assert outcomes == {
            talking: CallOutcome.ANSWERED,
            ringing: CallOutcome.ABANDONED_QUEUE,
            **dict.fromkeys(waiting, CallOutcome.ABANDONED_QUEUE),
        }, outcomes
        assert records[talking].agent_id == "1002"
        # Each branch, from the engine's own account of what it did.
        for call in calls:
            assert logged(engine, rf"call {call} lost: recorded as"), call
        assert logged(engine, rf"agent 1002's leg \S+ for call {talking} lost: call ended")
        assert logged(engine, rf"agent 1001's leg \S+ for call {ringing} lost: offer failed")
        for call in waiting:
            assert logged(engine, rf"waiting call {re.escape(call)} gone: abandoned"), call
        assert engine.status()["waiting"] == []
        lost = logged(engine, r"reconciled with Asterisk")[-1]
        assert "5 lost calls" in lost, lost

        # Nobody is left on a call or ringing: the agent who talked serves the next caller.
        engine.agent("1001", "logout")
        ami = AmiTestClient(engine.cfg)
        await ami.connect()
        async with mqtt_collector(engine.cfg) as mqtt:
            after, channel = await place(ami, mqtt, "13955550020")
            _t, answered = await mqtt.wait_for(f"/calls/{after}/answered", timeout=30)
            assert answered["agent_id"] == "1002", answered
            await ami.hangup(channel)
            assert (await wait_record(engine, after)).outcome is CallOutcome.ANSWERED
        per_call = [c for c in calls if logged(engine, rf"call {c} lost")]
        assert len(per_call) == len(calls)
    finally:
        ami.close()


async def test_engine_killed_with_its_last_saves_lost_requeues_several_callers_in_order(
    engine: EngineProcess,
) -> None:
    ami = AmiTestClient(engine.cfg)
    await ami.connect()
    try:
        async with mqtt_collector(engine.cfg) as mqtt:
            queued = [await place(ami, mqtt, f"1396666000{n}") for n in range(5)]
            order = [c for c, _ in queued]
            assert await wait_waiting(engine, 5) == order
            # Saves are coalesced (at most one per SAVE_INTERVAL_S): the snapshot holds all five
            # before the test stands in for losing the last three.
            await wait_saved(engine, order[-1])

            engine.stop(kill=True)
            for call_id in order[2:]:  # the last three saves never reached Redis
                drop_from_saved_queue(engine, call_id)
            engine.start()
            waiting = await wait_waiting(engine, 5)
            assert waiting == order, f"queue after restart: {waiting}\n{engine.log_tail(40)}"
            for call_id in order[2:]:
                assert logged(engine, rf"found caller {call_id} waiting in Asterisk"), call_id

            # One agent serves them one by one, in the order they first queued.
            engine.agent("1001", "login")
            engine.agent("1001", "ready")
            for call_id, channel in queued:
                await mqtt.wait_for(f"/calls/{call_id}/answered", timeout=30)
                await ami.hangup(channel)
                record = await wait_record(engine, call_id)
                assert record.outcome is CallOutcome.ANSWERED and record.agent_id == "1001"
            answered = [t.split("/")[-2] for t in mqtt.topics() if t.endswith("/answered")]
            assert answered == order, answered
    finally:
        ami.close()
