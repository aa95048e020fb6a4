"""A standby engine: two engine processes on the same Redis, database and Asterisk.

- kill -9 of the leader with 20 callers waiting: the standby leads within 3 s, restores the
  queue from Redis, reconciles with Asterisk; nobody lost, order kept, no agent offered two
  calls, one call record per call.
- the leader cut off from Redis (its own proxy swallows the bytes) while the standby is fine:
  the cut-off engine stops acting before the other takes over, shown from both engines' logs
  and from the channels Asterisk created.
"""

from __future__ import annotations

import asyncio
import time
import urllib.error
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hotline.calls.records import CallOutcome
from hotline.calls.store import CallRecordStore
from tests.app.test_engine_restart import wait_waiting
from tests.calls.test_call_path import wait_record
from tests.conftest import PORTS, HotlineSetup, _flush_redis_prefix
from tests.support.calls import AmiTestClient, MqttCollector, mqtt_collector
from tests.support.standby import (
    Centre,
    first_at,
    leads,
    log_lines,
    stands_by,
    wait_until,
)

pytestmark = pytest.mark.asterisk

HTTP_B = PORTS["http"] + 1
REDIS_PROXY = PORTS["redis"] + 7
SEAT_1002 = "Local/1002@test-phone"


@pytest.fixture
def centre(
    asterisk: Any, hotline_setup: HotlineSetup, request: pytest.FixtureRequest
) -> Iterator[Centre]:
    _flush_redis_prefix(hotline_setup.cfg)
    c = Centre(hotline_setup, request.node.name[:40])
    yield c
    report = getattr(request.node, "rep_call", None)
    c.close(failed=report is not None and report.failed)


async def place_callers(
    ami: AmiTestClient, mqtt: MqttCollector, callers: list[str], hold: float = 120
) -> list[tuple[str, str]]:
    """Place the calls a little apart; (call id, caller channel) for each once queued."""
    for caller in callers:
        await ami.call_12345(caller, dtmf="1", dtmf_delay=1, hold=hold)
        await asyncio.sleep(0.25)
    out = []
    for caller in callers:
        _t, arrived = await mqtt.wait_for("/arrived", pred=lambda p, c=caller: p["caller"] == c)
        _t, q = await mqtt.wait_for(f"/calls/{arrived['call_id']}/queued", timeout=30)
        out.append((str(arrived["call_id"]), str(q["channel"])))
    return out


def records_between(setup: HotlineSetup, since: datetime) -> list[Any]:
    store = CallRecordStore(setup.cfg.database_url, setup.cfg.spool_dir)
    return store.list_between(since, datetime.now(UTC) + timedelta(minutes=1))


def offers_in_order(mqtt: MqttCollector) -> list[tuple[str, str]]:
    """(call id, agent) for each offer, in the order the ACD published them."""
    return [(p["call_id"], p["agent_id"]) for t, p in mqtt.messages if t.endswith("/offered")]


def no_agent_rung_twice(ami: AmiTestClient) -> int:
    """Asterisk's side: per agent phone, never two legs at once (a leg is the ;1 half of
    Local/<agent>@test-phone, from its Newchannel to its Hangup). Returns the legs seen."""
    open_legs: dict[str, str] = {}  # agent -> Uniqueid of its live leg
    seen = 0
    for ev in ami.events:
        channel = str(ev.get("Channel", ""))
        if "@test-phone" not in channel or not channel.endswith(";1"):
            continue
        agent = channel.split("/", 1)[1].split("@", 1)[0]
        uid = str(ev.get("Uniqueid"))
        if ev.get("Event") == "Newchannel":
            assert agent not in open_legs, f"agent {agent} rung for two calls at once: {ev}"
            open_legs[agent] = uid
            seen += 1
        elif ev.get("Event") == "Hangup" and open_legs.get(agent) == uid:
            del open_legs[agent]
    return seen


async def test_kill_9_of_the_leader_with_20_callers_waiting_the_standby_serves_them_all(
    centre: Centre, hotline_setup: HotlineSetup
) -> None:
    a = centre.engine("a", http_port=PORTS["http"])
    b = centre.engine("b", http_port=HTTP_B)
    a.start(ready=leads)
    b.start(ready=stands_by)
    callers = [f"139222{n:05d}" for n in range(20)]
    since = datetime.now(UTC) - timedelta(seconds=5)
    ami = AmiTestClient(hotline_setup.cfg)
    await ami.connect()
    try:
        async with mqtt_collector(hotline_setup.cfg) as mqtt:
            placed = dict(await place_callers(ami, mqtt, callers))
            order = await wait_waiting(a, len(callers), timeout=20)
            assert sorted(order) == sorted(placed), order
            # The standby keeps the leader's queue warm (read from Redis), before any failure.
            await asyncio.sleep(1.5)
            assert [w["call_id"] for w in b.status()["waiting"]] == order
            # It serves its status; the rest (API, desktop) is the leader's: 503 naming it.
            with pytest.raises(urllib.error.HTTPError) as refused:
                b.agent("1001", "login")
            assert refused.value.code == 503
            assert refused.value.headers["X-Hotline-Leader"] == a.base

            # The first caller is talking with agent 1001 when the leader dies.
            a.agent("1001", "login")
            a.agent("1001", "ready")
            await mqtt.wait_for(f"/calls/{order[0]}/answered", timeout=20)
            await asyncio.sleep(0.5)  # the answer saved in Redis (a later test drops a save)
            killed_at = time.time()
            a.stop(kill=True)
            status = wait_until(b, leads, timeout=10)
            took_over = first_at(b.log_path, "leading with fencing token")
            print(f"\nstandby leads {took_over - killed_at:.2f} s after kill -9")
            assert took_over - killed_at < 3.0, f"took {took_over - killed_at:.2f} s"
            assert status["cluster"]["token"] > 1
            waiting = await wait_waiting(b, len(order) - 1)
            assert waiting == order[1:], waiting
            agents = {x["agent_id"]: x["state"] for x in b.status()["agents"]}
            assert agents.get("1001") == "on_call", agents  # logged in still, on the same call

            # Both agents serve the rest through the new leader; each caller hangs up once
            # answered.
            b.agent("1002", "login", {"seat": SEAT_1002})
            b.agent("1002", "ready")
            await ami.hangup(placed[order[0]])
            done: set[str] = set()
            deadline = time.monotonic() + 90
            while len(done) < len(order) and time.monotonic() < deadline:
                for _t, p in [(t, p) for t, p in mqtt.messages if t.endswith("/answered")]:
                    call = p["call_id"]
                    if call not in done and call in placed:
                        done.add(call)
                        await ami.hangup(placed[call])
                await asyncio.sleep(0.1)
            assert done == set(order), f"not answered: {set(order) - done}\n{b.log_tail(40)}"
            for call in order:
                record = await wait_record(b, call)
                assert record.outcome is CallOutcome.ANSWERED, (call, record.outcome)

            offered = [c for c, _agent in offers_in_order(mqtt)]
            assert offered == order, f"offers out of queue order or repeated: {offered}"
            assert no_agent_rung_twice(ami) >= len(order) - 1
            for call in order:  # 'ended' goes out just after the record is stored
                await mqtt.wait_for(f"/calls/{call}/ended", timeout=10)
            ended = [p["call_id"] for t, p in mqtt.messages if t.endswith("/ended")]
            assert sorted(ended) == sorted(order), "one 'ended' event per call"
            per_call: dict[str, int] = {}
            for record in records_between(hotline_setup, since):
                per_call[record.unique_id] = per_call.get(record.unique_id, 0) + 1
            assert {c: per_call.get(c) for c in order} == dict.fromkeys(order, 1)
    finally:
        ami.close()


def stamp_agent_legs(ami: AmiTestClient) -> list[tuple[float, str]]:
    """(receive time, channel) of each agent leg Asterisk creates from now on (the ;1 half of
    Local/100x@test-phone): AMI events carry no clock of ours, so the test stamps them."""
    legs: list[tuple[float, str]] = []
    assert ami.manager is not None

    def on_new(_m: Any, ev: Any) -> None:
        channel = str(ev.get("Channel", ""))
        if "@test-phone" in channel and channel.endswith(";1"):
            legs.append((time.time(), channel))

    ami.manager.register_event("Newchannel", on_new)
    return legs


async def test_the_leader_cut_off_from_redis_stops_acting_before_the_standby_takes_over(
    centre: Centre, hotline_setup: HotlineSetup
) -> None:
    proxy = centre.proxy(REDIS_PROXY, PORTS["redis"])
    a = centre.engine("a", http_port=PORTS["http"], redis_port=REDIS_PROXY)
    b = centre.engine("b", http_port=HTTP_B)
    a.start(ready=leads)
    b.start(ready=stands_by)
    ami = AmiTestClient(hotline_setup.cfg)
    await ami.connect()
    legs = stamp_agent_legs(ami)
    try:
        async with mqtt_collector(hotline_setup.cfg) as mqtt:
            # Calls keep coming and short calls keep ending, so there is always something to
            # do (an agent to ring) across the cut: a leader that did not stop would act.
            a.agent("1001", "login")
            a.agent("1001", "ready")
            a.agent("1002", "login", {"seat": SEAT_1002})
            a.agent("1002", "ready")
            callers = [f"139333{n:05d}" for n in range(10)]

            async def stream() -> None:
                for caller in callers:
                    await ami.call_12345(caller, dtmf="1", dtmf_delay=1, hold=2)
                    await asyncio.sleep(0.6)

            feeder = asyncio.ensure_future(stream())
            await mqtt.wait_for("/answered", timeout=20)
            cut_at = proxy.set_mode("blackhole")
            await feeder
            wait_until(b, leads, timeout=10)
            assert a.proc is not None
            for _ in range(50):  # the fenced engine ends itself (its supervisor restarts it)
                if a.proc.poll() is not None:
                    break
                await asyncio.sleep(0.1)
            assert a.proc.poll() == 75, f"cut-off engine still running: {a.log_tail(30)}"

            fenced_at = first_at(a.log_path, "no longer leading")
            b_leads_at = first_at(b.log_path, "leading with fencing token")
            sent_by_a = [at for at, _ in log_lines(a.log_path, r"AMI action \w+ sent under")]
            assert sent_by_a, "the leader sent nothing before the cut: the test proves nothing"
            print(
                f"\ncut {0:.2f} · A fenced +{fenced_at - cut_at:.2f} s · A's last action "
                f"+{sent_by_a[-1] - cut_at:.2f} s · B leads +{b_leads_at - cut_at:.2f} s"
            )
            assert sent_by_a[-1] < fenced_at < b_leads_at, "A acted after its lease ended"
            # Asterisk's side: no agent leg was created between A's end and B's start (each
            # leg appears a few ms after its Originate; B's own legs come after B leads).
            gap = [(t, ch) for t, ch in legs if fenced_at <= t < b_leads_at]
            assert gap == [], f"agent legs created while nobody led: {gap}"

            # Everyone is served or ended, with one record per call, by the new leader.
            for caller in callers:
                _t, arrived = await mqtt.wait_for(
                    "/arrived", pred=lambda p, c=caller: p["caller"] == c
                )
                await wait_record(b, arrived["call_id"], timeout=30)
            assert no_agent_rung_twice(ami) > 0
            await asyncio.sleep(1.0)  # 'ended' goes out just after the record is stored
            ended = [p["call_id"] for t, p in mqtt.messages if t.endswith("/ended")]
            assert len(ended) == len(set(ended)) == len(callers), ended
    finally:
        ami.close()
