"""The desktop's call controls through the real Asterisk: hold and resume, blind transfer to a
department line, one-click emergency transfer, hang-up, and a supervisor listening (ChanSpy)
from its own phone. Every step lands on the call's record (call_steps) and on MQTT."""

from __future__ import annotations

import asyncio
import json
import urllib.error
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.conftest import EngineProcess
from tests.support.calls import AmiTestClient, mqtt_collector, user_event
from tests.support.desk import DeskClient, add_test_users, add_user, desk_client

pytestmark = pytest.mark.asterisk


@pytest.fixture
def lines(monkeypatch: pytest.MonkeyPatch) -> None:
    """Department and emergency lines answer as the test department; set before the engine
    starts (it inherits the environment)."""
    departments = [{"number": "12315", "name": "市场监管", "dial": "Local/12315@test-department"}]
    monkeypatch.setenv("HOTLINE_DEPARTMENTS__LINES", json.dumps(departments))
    monkeypatch.setenv("HOTLINE_DEPARTMENTS__RING_S", "3")
    monkeypatch.setenv("HOTLINE_EMERGENCY__DIAL", "Local/{number}@test-department")


@pytest.fixture
async def ami(engine: EngineProcess) -> AsyncIterator[AmiTestClient]:
    client = AmiTestClient(engine.cfg)
    await client.connect()
    yield client
    client.close()


@pytest.fixture
async def agent(lines: None, engine: EngineProcess) -> AsyncIterator[DeskClient]:
    add_test_users(engine)
    client = desk_client(engine)
    assert (await client.login("agent1001")).status == 303
    yield client
    await client.close()


async def answered_call(
    engine: EngineProcess, ami: AmiTestClient, caller: str, agent_id: str = "1001"
) -> tuple[str, str]:
    """A citizen's call answered by the agent: (call id, the citizen's channel)."""
    call_id, channel, _leg = await answered_call_leg(engine, ami, caller, agent_id)
    return call_id, channel


async def answered_call_leg(
    engine: EngineProcess, ami: AmiTestClient, caller: str, agent_id: str = "1001"
) -> tuple[str, str, str]:
    """A citizen's call answered by the agent: (call id, the citizen's channel, agent leg)."""
    if not [a for a in engine.status()["agents"] if a["agent_id"] == agent_id]:
        engine.agent(agent_id, "login", {"seat": f"Local/{agent_id}@test-phone"})
        engine.agent(agent_id, "ready")
    await ami.call_12345(caller, dtmf="1", hold=60)
    queued = await ami.wait_event(
        lambda ev: user_event("HotlineQueued")(ev) and ev.get("Caller") == caller, timeout=30
    )
    return str(queued["CallId"]), last(queued["Channel"]), await agent_leg(ami, queued["CallId"])


def last(header: Any) -> str:
    """A UserEvent repeats Channel (the channel's snapshot, then ours): ours is the last."""
    return str(header[-1] if isinstance(header, list) else header)


async def agent_leg(ami: AmiTestClient, call_id: Any) -> str:
    answered = await ami.wait_event(
        lambda ev: user_event("HotlineAgentAnswered")(ev) and ev.get("CallId") == call_id
    )
    return last(answered["Channel"])


async def steps_of(desk: DeskClient, call_id: str, count: int) -> list[str]:
    """The call's recorded steps once there are `count` (written in the background)."""
    names: list[str] = []
    for _ in range(50):
        async with desk.http.get(f"{desk.base}/desk/api/calls/{call_id}/steps") as resp:
            if resp.status == 200:
                names = [s["step"] for s in (await resp.json())["steps"]]
                if len(names) >= count:
                    break
        await asyncio.sleep(0.1)
    return names


async def channel_app(ami: AmiTestClient, channel: str) -> str:
    """The dialplan application the channel is running now ("" when it is gone)."""
    response = await ami.send({"Action": "Status", "Channel": channel, "AllVariables": "false"})
    messages = response if isinstance(response, list) else [response]
    return next((str(m.get("Application", "")) for m in messages if m.get("Event") == "Status"), "")


async def app_when(ami: AmiTestClient, channel: str, app: str) -> str:
    seen = ""
    for _ in range(40):
        seen = await channel_app(ami, channel)
        if seen == app:
            break
        await asyncio.sleep(0.1)
    return seen


async def test_hold_resume_then_blind_transfer_to_a_department(
    agent: DeskClient, engine: EngineProcess, ami: AmiTestClient
) -> None:
    async with mqtt_collector(engine.cfg) as mqtt:
        call_id, channel = await answered_call(engine, ami, "13700001111")
        resp = await agent.post_json("/desk/api/call/resume")
        assert resp.status == 409 and "talking" in (await resp.json())["error"]
        resp = await agent.post_json("/desk/api/call/hold")
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["state"] == "held"
        assert await app_when(ami, channel, "MusicOnHold") == "MusicOnHold"
        state = next(a for a in engine.status()["agents"] if a["agent_id"] == "1001")
        assert state["state"] == "on_call"  # on hold is still on the call
        resp = await agent.post_json("/desk/api/call/resume")
        assert resp.status == 200, await resp.text()
        assert await app_when(ami, channel, "ConfBridge") == "ConfBridge"

        resp = await agent.post_json("/desk/api/call/transfer", {"department": "99999"})
        assert resp.status == 409 and "directory" in (await resp.json())["error"]
        resp = await agent.post_json("/desk/api/call/transfer", {"department": "12315"})
        assert resp.status == 200, await resp.text()
        moved = await ami.wait_event(
            lambda ev: user_event("HotlineTransfer")(ev) and ev.get("CallId") == call_id
        )
        assert moved["Dial"] == "Local/12315@test-department"
        await ami.wait_event(
            lambda ev: (
                ev.get("Event") == "DialEnd"
                and "12315@test-department" in str(ev.get("DestChannel"))
                and ev.get("DialStatus") == "ANSWER"
            )
        )
        # The agent is free for the next call; the citizen talks to the department.
        for _ in range(50):
            me = next(a for a in engine.status()["agents"] if a["agent_id"] == "1001")
            if me["state"] in ("wrap_up", "ready"):
                break
            await asyncio.sleep(0.1)
        assert me["state"] in ("wrap_up", "ready"), me
        assert await channel_app(ami, channel) == "Dial"
        assert await steps_of(agent, call_id, 3) == ["hold", "resume", "blind_transfer"]
        _topic, published = await mqtt.wait_for(
            f"/calls/{call_id}/step", pred=lambda p: p["step"] == "blind_transfer"
        )
        assert published["detail"] == {"number": "12315"}
        # The steps are on the ticket of the call too.
        ticket = engine.api(
            "POST",
            "/api/v1/tickets",
            {"actor": "1001", "category": "consultation", "description": "转12315",
             "subject_code": "03", "caller_number": "13700001111", "calls": [call_id]},
        )  # fmt: skip
        async with agent.http.get(f"{agent.base}/desk/tickets/{ticket['number']}") as page:
            html = await page.text()
        assert page.status == 200
        assert 'id="t-steps"' in html and "blind_transfer" in html and "hold" in html, html[-800:]
        await ami.hangup(channel)


async def test_one_click_emergency_transfer_and_refused_numbers(
    agent: DeskClient, engine: EngineProcess, ami: AmiTestClient
) -> None:
    call_id, channel = await answered_call(engine, ami, "13700002222")
    resp = await agent.post_json("/desk/api/call/emergency", {"number": "12345"})
    assert resp.status == 409 and "not an emergency number" in (await resp.json())["error"]
    resp = await agent.post_json("/desk/api/call/emergency", {"number": "119"})
    assert resp.status == 200, await resp.text()
    moved = await ami.wait_event(
        lambda ev: user_event("HotlineTransfer")(ev) and ev.get("CallId") == call_id
    )
    assert moved["Dial"] == "Local/119@test-department"
    await ami.wait_event(
        lambda ev: (
            ev.get("Event") == "DialEnd"
            and "119@test-department" in str(ev.get("DestChannel"))
            and ev.get("DialStatus") == "ANSWER"
        )
    )
    assert await steps_of(agent, call_id, 1) == ["emergency_transfer"]
    await ami.hangup(channel)


async def test_supervisor_listens_from_its_own_phone_then_agent_hangs_up(
    lines: None, engine: EngineProcess, ami: AmiTestClient
) -> None:
    # Agent 1002 takes the call on a test phone; the supervisor's own phone is agent 1001's
    # seat (Local/1001@test-phone: rings 1 s, answers), 1001 itself stays logged out.
    add_user(engine, "agent1002", "agent", "--agent", "1002")
    add_user(engine, "super2", "supervisor", "--agent", "1001")
    agent, boss = desk_client(engine), desk_client(engine)
    try:
        assert (await agent.login("agent1002")).status == 303
        assert (await boss.login("super2")).status == 303
        resp = await boss.post_json("/desk/api/agents/1002/spy/listen")
        assert resp.status == 409 and "not on a call" in (await resp.json())["error"]
        call_id, channel = await answered_call(engine, ami, "13700003333", "1002")
        resp = await boss.post_json("/desk/api/agents/1002/spy/peek")
        assert resp.status == 409 and "mode" in (await resp.json())["error"]
        resp = await boss.post_json("/desk/api/agents/1002/spy/listen")
        assert resp.status == 200, await resp.text()
        spying = await ami.wait_event(lambda ev: ev.get("Event") == "ChanSpyStart", timeout=15)
        assert "1001@test-phone" in str(spying["SpyerChannel"])
        assert "1002@test-phone" in str(spying["SpyeeChannel"])
        # Whisper: a second call to the supervisor's phone, spying with the w option.
        resp = await boss.post_json("/desk/api/agents/1002/spy/whisper")
        assert resp.status == 200, await resp.text()
        whisper = await ami.wait_event(
            lambda ev: (
                ev.get("Event") == "ChanSpyStart"
                and ev.get("SpyerChannel") != spying["SpyerChannel"]
            ),
            timeout=15,
        )
        # Barge: a third call, spying with B (agent and citizen both hear the supervisor).
        resp = await boss.post_json("/desk/api/agents/1002/spy/barge")
        assert resp.status == 200, await resp.text()
        barge = await ami.wait_event(
            lambda ev: (
                ev.get("Event") == "ChanSpyStart"
                and ev.get("SpyerChannel") not in (spying["SpyerChannel"], whisper["SpyerChannel"])
            ),
            timeout=15,
        )
        status = await ami.send({"Action": "Status", "Channel": str(barge["SpyerChannel"])})
        found = status if isinstance(status, list) else [status]
        data = next((str(m.get("Data", "")) for m in found if m.get("Event") == "Status"), "")
        assert data.endswith(",qBE"), data
        # The agent's desktop hangs the call up: the spies end with the agent's leg (E).
        resp = await agent.post_json("/desk/api/call/hangup")
        assert resp.status == 200, await resp.text()
        await ami.wait_event(lambda ev: ev.get("Event") == "ChanSpyStop", timeout=10)
        assert await steps_of(boss, call_id, 4) == ["listen", "whisper", "barge", "hangup"]
        assert await channel_app(ami, channel) == ""
    finally:
        await agent.close()
        await boss.close()


async def test_attended_transfer_consults_the_department_then_hands_the_citizen_over(
    agent: DeskClient, engine: EngineProcess, ami: AmiTestClient
) -> None:
    call_id, channel = await answered_call(engine, ami, "13700004444")
    resp = await agent.post_json("/desk/api/threeway/complete")
    assert resp.status == 409  # nothing to complete yet
    resp = await agent.post_json("/desk/api/threeway/consult", {"department": "12315"})
    assert resp.status == 200, await resp.text()
    assert await steps_of(agent, call_id, 2) == ["consult_started", "consult_answered"]
    # The department answered: the agent talks to it while the citizen hears hold music.
    assert await channel_app(ami, channel) == "MusicOnHold"
    resp = await agent.post_json("/desk/api/call/hold")
    assert resp.status == 409 and "consulting" in (await resp.json())["error"]
    resp = await agent.post_json("/desk/api/threeway/complete")
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["stage"] == "transferred"
    assert await app_when(ami, channel, "ConfBridge") == "ConfBridge"
    members: list[str] = []
    for _ in range(40):
        response = await ami.send({"Action": "ConfbridgeList", "Conference": f"hl3-{call_id}"})
        messages = response if isinstance(response, list) else [response]
        members = [str(m.get("Channel")) for m in messages if m.get("Event") == "ConfbridgeList"]
        if len(members) == 2:
            break
        await asyncio.sleep(0.1)
    assert channel in members and any("12315@test-department" in m for m in members), members
    assert await steps_of(agent, call_id, 3) == [
        "consult_started", "consult_answered", "transfer_completed",
    ]  # fmt: skip
    await ami.hangup(channel)


async def gone(ami: AmiTestClient, channel: str) -> bool:
    for _ in range(50):
        if not await channel_app(ami, channel):
            return True
        await asyncio.sleep(0.1)
    return False


async def test_a_citizen_is_never_left_alone_when_the_agent_hangs_up_the_phone(
    agent: DeskClient, engine: EngineProcess, ami: AmiTestClient
) -> None:
    # On hold: the agent's phone hangs up; the citizen is hung up, not left on hold music.
    call_id, channel, leg = await answered_call_leg(engine, ami, "13700005555")
    assert (await agent.post_json("/desk/api/call/hold")).status == 200
    assert await app_when(ami, channel, "MusicOnHold") == "MusicOnHold"
    await ami.hangup(leg)
    assert await gone(ami, channel), "the citizen was left on hold"
    assert await steps_of(agent, call_id, 2) == ["hold", "hangup"]
    # After a resume both are in the conference: the citizen leaves with the agent.
    for _ in range(50):
        me = next(a for a in engine.status()["agents"] if a["agent_id"] == "1001")
        if me["state"] == "ready":
            break
        await asyncio.sleep(0.1)
    call_id, channel, leg = await answered_call_leg(engine, ami, "13700006666")
    assert (await agent.post_json("/desk/api/call/hold")).status == 200
    assert (await agent.post_json("/desk/api/call/resume")).status == 200
    assert await app_when(ami, channel, "ConfBridge") == "ConfBridge"
    await ami.hangup(leg)
    assert await gone(ami, channel), "the citizen was left alone in the conference"


async def test_a_call_transferred_to_another_agent_keeps_that_agent_out_of_routing(
    agent: DeskClient, engine: EngineProcess, ami: AmiTestClient
) -> None:
    """Agent 1001 passes the citizen to agent 1002's seat (outside the ACD): while 1002 talks
    the ACD offers it nothing, and it is ready again (after wrap-up) when that call ends."""

    def state_of(agent_id: str) -> tuple[str, str]:
        me = next(a for a in engine.status()["agents"] if a["agent_id"] == agent_id)
        return str(me["state"]), str(me.get("reason", ""))

    async with mqtt_collector(engine.cfg) as mqtt:
        _call, channel = await answered_call(engine, ami, "13700007777")
        engine.agent("1002", "login", {"seat": "Local/1002@test-phone"})
        engine.agent("1002", "ready")
        resp = await agent.post_json("/desk/api/call/transfer", {"department": "agent:1002"})
        assert resp.status == 200, await resp.text()
        await mqtt.wait_for(
            "/agents/1002/state",
            pred=lambda p: (p["state"], p["reason"]) == ("not_ready", "other_call"),
            timeout=15,
        )
        engine.agent("1001", "not-ready", {"reason": "break"})  # nobody else takes the next call
        # A second citizen waits: 1002 is on the transferred call and is not offered it.
        await ami.call_12345("13700008888", dtmf="1", hold=60)
        queued = await ami.wait_event(
            lambda ev: user_event("HotlineQueued")(ev) and ev.get("Caller") == "13700008888",
            timeout=30,
        )
        # The ACD decides on the queueing itself: once the engine lists the call, an offer to
        # 1002 would have been made already (no fixed sleep to hope long enough).
        waiting: dict[str, str] = {}
        for _ in range(100):
            waiting = {w["call_id"]: w["state"] for w in engine.status()["waiting"]}
            if str(queued["CallId"]) in waiting:
                break
            await asyncio.sleep(0.1)
        assert waiting.get(str(queued["CallId"])) == "waiting", (waiting, engine.log_tail())
        assert state_of("1002") == ("not_ready", "other_call")
        with pytest.raises(urllib.error.HTTPError) as refused:  # ready only when it ends
            engine.agent("1002", "ready")
        assert refused.value.code == 409 and "another call" in refused.value.read().decode()
        # The transferred call ends: 1002 wraps up, then takes the waiting citizen.
        await ami.hangup(channel)
        await mqtt.wait_for(
            f"/calls/{queued['CallId']}/offered", pred=lambda p: p["agent_id"] == "1002", timeout=20
        )
        assert state_of("1002")[0] in ("ringing", "on_call")


async def test_not_ready_pressed_during_a_call_takes_effect_when_it_ends(
    agent: DeskClient, engine: EngineProcess, ami: AmiTestClient
) -> None:
    """The agent asks for a break while talking: the call goes on; when it ends the agent is
    not ready with that reason (no wrap-up, so no next call), and the page was told at once."""
    async with mqtt_collector(engine.cfg) as mqtt:
        _call, channel = await answered_call(engine, ami, "13700009999")
        resp = await agent.post_json("/desk/api/seat/not-ready", {"reason": "break"})
        assert resp.status == 200, await resp.text()
        me = next(a for a in engine.status()["agents"] if a["agent_id"] == "1001")
        assert me["state"] == "on_call", me
        _t, talking = await mqtt.wait_for(
            "/agents/1001/state", pred=lambda p: p["state"] == "on_call"
        )
        await ami.hangup(channel)
        _t, state = await mqtt.wait_for(
            "/agents/1001/state", pred=lambda p: p["at"] > talking["at"], timeout=15
        )  # the first change after the call: straight to not ready, no wrap-up
        assert (state["state"], state["reason"]) == ("not_ready", "break"), state


async def test_an_agent_logging_in_at_a_phone_already_on_a_call_is_not_offered_calls(
    engine: EngineProcess, ami: AmiTestClient
) -> None:
    """A call the ACD did not place is going on at seat 1002 when agent 1002 logs in there:
    "ready" is refused until it ends."""
    await ami.send(
        {"Action": "Originate", "Channel": "Local/1002@test-phone", "Application": "Wait",
         "Data": "60", "Async": "true"}
    )  # fmt: skip
    await ami.wait_event(
        lambda ev: (
            ev.get("Event") == "Newstate"
            and str(ev.get("Channel", "")).startswith("Local/1002@test-phone")
            and ev.get("ChannelStateDesc") == "Up"
        ),
        timeout=10,
    )
    # The engine has seen the call on the seat (its AMI events come on its own connection):
    # from then on a log-in there is busy at once — no retries that would hide a window in
    # which the busy agent could go ready.
    for _ in range(100):
        if "Local/1002@test-phone" in engine.status()["seats_on_other_calls"]:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError(f"the engine never saw the seat busy: {engine.status()}")
    engine.agent("1002", "login", {"seat": "Local/1002@test-phone"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        engine.agent("1002", "ready")
    refused = caught.value
    assert refused is not None and refused.code == 409
    assert "another call" in refused.read().decode()
    await ami.send({"Action": "Hangup", "Channel": "/^Local\\/1002@test-phone-.*$/"})
    for _ in range(50):
        try:
            engine.agent("1002", "ready")
            break
        except urllib.error.HTTPError:
            await asyncio.sleep(0.1)
    me = next(a for a in engine.status()["agents"] if a["agent_id"] == "1002")
    assert me["state"] == "ready", me
