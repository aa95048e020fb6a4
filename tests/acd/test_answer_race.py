"""Issue 15: a caller who hangs up at the very moment an agent answers, through the real Asterisk
(fixed: the caller's own channel dials the agent, [hotline-ring-agent]).

The probe at 200 concurrent calls left ``Surrogate/...`` channels behind, and a hang-up while the
caller was being moved into the agent's bridge was never heard: the engine kept the call (no
record) and the agent on it. Afterwards, in every test here: every call has exactly one record,
no agent is left ringing or on a call, no channel is left in Asterisk.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest

from hotline.calls.records import CallOutcome, CallRecord
from hotline.calls.store import CallRecordStore
from tests.conftest import EngineProcess, HotlineSetup, _flush_redis_prefix
from tests.support.calls import AmiTestClient, user_event

pytestmark = pytest.mark.asterisk

QUITS = {"1001": "Local/1001@test-phone-caller-quits", "1002": "Local/1002@test-phone-caller-quits"}
CALLS = 30
AGENT_SEAT = "Local/1001@test-phone"
HANGUP_BUSY_S = 20.0
"""How long the lost caller's channel is held hanging up: the agent must answer meanwhile."""


@pytest.fixture
def engine(
    asterisk: Any,
    hotline_setup: HotlineSetup,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[EngineProcess]:
    """The agents may sit at the phones whose callers quit (set before the engine starts)."""
    monkeypatch.setenv("HOTLINE_ACD__SEATS", json.dumps(list(QUITS.values())))
    if "rating" in request.node.name:  # the one-key rating after the call (一次一评) on
        monkeypatch.setenv("HOTLINE_SATISFACTION__AFTER_CALL", "true")
    _flush_redis_prefix(hotline_setup.cfg)
    proc = EngineProcess(hotline_setup, request.node.name)
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture
async def ami(engine: EngineProcess) -> AsyncIterator[AmiTestClient]:
    client = AmiTestClient(engine.cfg)
    await client.connect()
    yield client
    client.close()


def _last(header: Any) -> str:
    return str(header[-1] if isinstance(header, list) else header)


async def _until(check: Callable[[], Awaitable[Any]], timeout: float) -> Any:
    """Poll `check` until it returns something true or time is up; its last result."""
    deadline = time.monotonic() + timeout
    result = await check()
    while not result and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        result = await check()
    return result


async def _live_channels(ami: AmiTestClient) -> list[dict[str, Any]]:
    response = await ami.send({"Action": "CoreShowChannels"}, timeout=20)
    messages = response if isinstance(response, list) else [response]
    return [m for m in messages if str(m.get("Event", "")).lower() == "coreshowchannel"]


async def _busy_agents(engine: EngineProcess) -> list[dict[str, Any]]:
    agents = (await asyncio.to_thread(engine.status))["agents"]
    return [a for a in agents if a["state"] in ("ringing", "on_call")]


async def _queued(ami: AmiTestClient, caller: str) -> dict[str, Any]:
    return await ami.wait_event(
        lambda ev: user_event("HotlineQueued")(ev) and ev.get("Caller") == caller, timeout=60
    )


async def _assert_nothing_left(
    engine: EngineProcess, ami: AmiTestClient, call_ids: list[str], timeout: float
) -> dict[str, CallRecord]:
    """One record per call, no agent ringing or on a call, no channel left (within `timeout`)."""
    store = CallRecordStore(engine.cfg.database_url, engine.cfg.spool_dir)

    async def records() -> dict[str, CallRecord]:
        found = {c: await asyncio.to_thread(store.get, c) for c in call_ids}
        return {c: r for c, r in found.items() if r is not None}

    async def all_recorded() -> dict[str, CallRecord] | None:
        found = await records()
        return found if len(found) == len(call_ids) else None

    async def no_channels() -> bool:
        return not await _live_channels(ami)

    async def agents_free() -> bool:
        return not await _busy_agents(engine)

    found = await _until(all_recorded, timeout) or await records()
    channels_gone = await _until(no_channels, timeout)
    agents_gone = await _until(agents_free, 10)
    missing = sorted(set(call_ids) - set(found))
    channels = [] if channels_gone else await _live_channels(ami)
    assert not missing, f"calls without a record: {missing}\n{engine.log_tail(60)}"
    assert not channels, "channels left in Asterisk: " + ", ".join(
        f"{c.get('Channel')} ({c.get('Context')}/{c.get('Application')}, "
        f"{c.get('ChannelStateDesc')})"
        for c in channels
    )
    assert agents_gone, f"agents left on a call: {await _busy_agents(engine)}"
    return dict(found)


async def test_callers_hanging_up_around_the_answer_moment_leave_nothing_behind(
    engine: EngineProcess, ami: AmiTestClient
) -> None:
    """Each agent's phone hangs the caller up around the moment it answers (just before, or a
    random few dialplan steps after: before, as and after its leg bridges the caller)."""
    for agent_id, seat in QUITS.items():
        engine.agent(agent_id, "login", {"seat": seat})
        engine.agent(agent_id, "ready")
    call_ids: list[str] = []
    for pair in range(CALLS // 2):
        pending = []
        for n in range(2):  # one call per agent: each reaches a free agent at once
            caller = f"1371500{pair:02d}{n:02d}"
            await ami.call_12345(caller, dtmf="1", dtmf_delay=0.5, hold=60)
            pending.append(caller)
        for caller in pending:
            call_ids.append(str((await _queued(ami, caller))["CallId"]))

        async def both_done(ids: list[str] = call_ids[-2:]) -> bool:
            ended = [
                ev
                for ev in ami.events
                if ev.get("Event") == "Hangup" and str(ev.get("Uniqueid")) in ids
            ]
            return len(ended) == 2 and not await _busy_agents(engine)

        await _until(both_done, 30)
    records = await _assert_nothing_left(engine, ami, call_ids, 60)
    outcomes = {r.outcome for r in records.values()}
    assert outcomes <= {CallOutcome.ANSWERED, CallOutcome.ABANDONED_QUEUE}, outcomes


async def _caller_still_hanging_up_when_an_agent_is_free(
    engine: EngineProcess, ami: AmiTestClient
) -> str:
    """A waiting caller hangs up; while its channel is still taking the hang-up (held in its h
    extension, as a loaded machine holds it between taking a hang-up and finishing it) an
    agent becomes free and the ACD, which still holds the call (its Hangup has not come yet),
    offers it to the agent. Before the fix the agent's leg pulled that channel into its bridge
    and the hang-up was lost with the old channel object. Returns when the offer is settled;
    the call id."""
    caller = "13715009999"
    busy = {"TEST_HANGUP_BUSY_S": str(int(HANGUP_BUSY_S))}
    await ami.call_12345(caller, dtmf="1", dtmf_delay=0.5, hold=60, variables=busy)
    queued = await _queued(ami, caller)
    call_id, channel = str(queued["CallId"]), _last(queued["Channel"])
    await ami.send(
        {"Action": "Redirect", "Channel": channel, "Context": "test-queue-slow-hangup",
         "Exten": "s", "Priority": "1"}
    )  # fmt: skip

    async def app_of_caller() -> str:
        response = await ami.send({"Action": "Status", "Channel": channel})
        messages = response if isinstance(response, list) else [response]
        status = [m for m in messages if m.get("Event") == "Status"]
        return str(status[0].get("Application", "")) if status else ""

    async def waiting() -> bool:
        return await app_of_caller() == "WaitExten"

    async def hanging_up() -> bool:
        return await app_of_caller() == "System"

    assert await _until(waiting, 10), "the caller did not reach the test's waiting context"
    await ami.hangup(channel[:-2] + ";1")  # the citizen's phone hangs up
    assert await _until(hanging_up, 10), "the caller's channel is not in its h extension"
    held_since = time.monotonic()
    # Now an agent becomes free: the ACD still holds the call and offers it.
    engine.agent("1001", "login", {"seat": AGENT_SEAT})
    engine.agent("1001", "ready")

    def refused() -> bool:
        return "the caller is hanging up" in engine.log_tail(400)

    async def offer_refused() -> bool:
        return await asyncio.to_thread(refused)

    assert await _until(offer_refused, 30), (
        f"the engine did not see the caller's move refused\n{engine.log_tail(40)}"
    )
    if time.monotonic() - held_since > HANGUP_BUSY_S - 3:
        # Not an outcome: the scenario did not happen (RuntimeError, not an AssertionError),
        # so a slow machine cannot pass for a fixed race.
        raise RuntimeError("the offer was made after the caller had finished hanging up")
    assert await _agent_state(engine, "1001") == "ringing", (
        "the offer of a caller who is hanging up did not wait for the hang-up"
    )
    return call_id


async def _agent_state(engine: EngineProcess, agent_id: str) -> str:
    agents = (await asyncio.to_thread(engine.status))["agents"]
    return str(next(a["state"] for a in agents if a["agent_id"] == agent_id))


def _seat_channels(ami: AmiTestClient) -> list[str]:
    """Channels made on the agent's seat so far (the agent's phone rang)."""
    return [
        str(ev.get("Channel"))
        for ev in ami.events
        if ev.get("Event") == "Newchannel"
        and str(ev.get("Channel", "")).startswith(AGENT_SEAT + "-")
    ]


async def test_a_caller_still_hanging_up_when_an_agent_is_free_ends_the_call(
    engine: EngineProcess, ami: AmiTestClient
) -> None:
    """Issue 15, fixed: the caller's own channel dials the agent ([hotline-ring-agent]), so
    nothing pulls a channel that is hanging up; its hang-up alone ends the call."""
    call_id = await _caller_still_hanging_up_when_an_agent_is_free(engine, ami)
    # Nobody acts: the caller's hang-up alone ends the call within the time it takes.
    records = await _assert_nothing_left(engine, ami, [call_id], HANGUP_BUSY_S + 5)
    assert records[call_id].outcome is CallOutcome.ABANDONED_QUEUE
    assert not _seat_channels(ami), "the agent's phone rang for a caller who had hung up"
    # The phone never rang: no ring-no-answer; the caller's hang-up made the agent ready.
    assert await _agent_state(engine, "1001") == "ready"


@pytest.mark.parametrize("after_call", ["plain", "rating"])
async def test_an_agent_offered_a_caller_who_hung_up_serves_the_next_caller(
    engine: EngineProcess, ami: AmiTestClient, after_call: str
) -> None:
    """After such an offer (the caller could not be sent to ring the agent; the offer ended
    with the caller's hang-up) the agent, ready again by itself, takes the next call, which
    ends with its one record (with the one-key rating after the call on too); nothing is
    left."""
    lost = await _caller_still_hanging_up_when_an_agent_is_free(engine, ami)
    await _assert_nothing_left(engine, ami, [lost], HANGUP_BUSY_S + 5)
    assert await _agent_state(engine, "1001") == "ready"
    caller = "13715009998"
    await ami.call_12345(caller, dtmf="1", dtmf_delay=0.5, hold=60)
    queued = await _queued(ami, caller)
    call_id, channel = str(queued["CallId"]), _last(queued["Channel"])
    await ami.wait_event(
        lambda ev: user_event("HotlineAgentAnswered")(ev) and ev.get("CallId") == call_id,
        timeout=30,
    )
    await ami.hangup(channel[:-2] + ";1")  # the citizen hangs up
    records = await _assert_nothing_left(engine, ami, [call_id], 30)
    assert records[call_id].outcome is CallOutcome.ANSWERED
    assert records[call_id].agent_id == "1001"
