"""Recordings through the web desktop: a supervisor plays an answered call's recording (HTTP
range), scores it against the checklist on the quality page, and sees the agent's figures; the
agent may hear their own call but not open the quality page; a handling unit hears nothing; every
playback is logged. The real Asterisk records the call (MixMonitor)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import pytest

from hotline.recordings.store import RecordingStore
from tests.calls.test_call_path import arrived_call_id
from tests.conftest import EngineProcess
from tests.recordings.test_call_recording import wait_finished
from tests.support.calls import AmiTestClient, mqtt_collector
from tests.support.desk import DeskClient, add_test_users, desk_client

pytestmark = pytest.mark.asterisk
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
async def ami(engine: EngineProcess) -> AsyncIterator[AmiTestClient]:
    client = AmiTestClient(engine.cfg)
    await client.connect()
    yield client
    client.close()


async def logged_in(engine: EngineProcess, name: str) -> DeskClient:
    client = desk_client(engine)
    assert (await client.login(name)).status == 303, name
    return client


async def test_supervisor_plays_and_scores_a_call_agent_and_unit_are_limited(
    engine: EngineProcess, ami: AmiTestClient
) -> None:
    add_test_users(engine)
    async with mqtt_collector(engine.cfg) as mqtt:
        engine.agent("1001", "login")
        engine.agent("1001", "ready")
        await ami.call_12345("13822220001", dtmf="1", variables={"TEST_PLAY": "hotline/menu"})
        call_id = await arrived_call_id(mqtt, "13822220001")
        _t, queued = await mqtt.wait_for(f"/calls/{call_id}/queued")
        await mqtt.wait_for(f"/calls/{call_id}/answered", timeout=30)
        await asyncio.sleep(2.0)
        await ami.hangup(queued["channel"])
        rec = await wait_finished(engine, call_id)
    audio = f"{engine.base}/desk/recordings/{rec.id}/audio"

    boss = await logged_in(engine, "super1")
    agent = await logged_in(engine, "agent1001")
    unit = await logged_in(engine, "unit1")
    try:
        page = await (await boss.http.get(f"{engine.base}/desk/quality")).text()
        assert f'id="rec-{rec.id}"' in page and call_id in page
        done_before, quota = plan_of(page, "1001")  # the week's sampling plan (抽检)
        assert quota >= 1 and done_before < quota, page[-1500:]
        async with boss.http.get(audio, headers={"Range": "bytes=0-99"}) as part:
            assert part.status == 206 and len(await part.read()) == 100
            assert part.headers["Content-Range"] == f"bytes 0-99/{rec.size_bytes}"
        token = _CSRF.search(page)
        assert token, "no CSRF token on the quality form"
        form = {"csrf_token": token.group(1), "comment": "好",
                "mark_greeting": "1", "mark_asked_contact_details": "0.5",
                "mark_correct_category": "1", "mark_polite_close": "1"}  # fmt: skip
        done = await boss.http.post(
            f"{engine.base}/desk/quality/{rec.id}/score", data=form, allow_redirects=False
        )
        assert done.status == 303 and "note=saved" in done.headers["Location"]
        forged = await boss.http.post(
            f"{engine.base}/desk/quality/{rec.id}/score",
            data={**form, "csrf_token": "forged"},
            allow_redirects=False,
        )
        assert forged.status == 403
        report = await (await boss.http.get(f"{engine.base}/desk/quality")).text()
        row = re.search(r'<td class="agent">1001</td><td class="reviews">(\d+)</td>'
                        r'<td class="mean">([\d.]+)</td>', report)  # fmt: skip
        assert row and row.group(1) == "1" and float(row.group(2)) == 87.5, report[-600:]
        # Any review of the agent's week counts toward the plan's quota.
        assert plan_of(report, "1001") == (done_before + 1, quota), report[-1500:]

        async with agent.http.get(audio) as own:  # an agent hears their own call
            assert own.status == 200 and (await own.read())[:4] == b"RIFF"
        qa = await agent.http.get(f"{engine.base}/desk/quality", allow_redirects=False)
        assert qa.status == 403
        async with unit.http.get(audio) as refused:
            assert refused.status == 403
        anonymous = desk_client(engine)
        try:
            async with anonymous.http.get(audio, allow_redirects=False) as nobody:
                assert nobody.status in (303, 401)
        finally:
            await anonymous.close()
    finally:
        for client in (boss, agent, unit):
            await client.close()
    store = RecordingStore(engine.cfg.database_url)
    try:
        logged = await asyncio.to_thread(store.playbacks, rec.id)
    finally:
        store.dispose()
    assert [(p.user_name, p.role) for p in logged] == [
        ("super1", "supervisor"),
        ("agent1001", "agent"),
    ]


def plan_of(page: str, agent_id: str) -> tuple[int, int]:
    """(done, quota) of the agent's row in the quality page's sampling plan."""
    row = re.search(rf'<tr data-agent="{agent_id}" data-done="(\d+)" data-quota="(\d+)">', page)
    assert row, f"no sampling-plan row for agent {agent_id}"
    return int(row.group(1)), int(row.group(2))
