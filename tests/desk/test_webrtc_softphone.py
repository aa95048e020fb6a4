"""The browser as the agent's phone: Debian's Chromium (Playwright) with a fake microphone that
speaks an espeak-ng sentence registers the agent's browser seat PJSIP/webrtc-1002 over
Asterisk's SIP WebSocket; a citizen (a Local channel playing a prompt) calls 12345; the page
rings, the agent answers in the softphone panel, holds and resumes, hangs up. Audio flows both
ways over DTLS-SRTP: Asterisk records the agent's leg one direction per file (MixMonitor r()
and t()) and both files carry speech energy, as does the call's own recording; the browser's
WebRTC statistics show the citizen's audio arriving. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from hotline.base.i18n import translate
from hotline.base.settings import browser_seat
from hotline.calls.records import CallOutcome
from hotline.recordings.files import audio_roots
from tests.calls.test_call_path import arrived_call_id, wait_record
from tests.conftest import ARTIFACTS, RUN_ID, EngineProcess
from tests.recordings.test_call_recording import wait_finished
from tests.support.baresip import wav_rms
from tests.support.calls import AmiTestClient, mqtt_collector
from tests.support.desk import PASSWORDS, add_user, desk_client

pytestmark = pytest.mark.asterisk

CHROMIUM = "/usr/bin/chromium"
CALLER = "13612345678"
AGENT = "1002"
SEAT = browser_seat(AGENT)
SPEECH = "您好，这里是一二三四五政务服务热线，请问有什么可以帮您？"
SPEECH_RMS = 300  # espeak-ng's and the prompt's speech are far above; silence is near 0


def agent_voice(folder: Path) -> Path:
    """The agent's words as the fake microphone's WAV (Chromium loops it)."""
    raw, wav = folder / "agent-raw.wav", folder / "agent-voice.wav"
    subprocess.run(["espeak-ng", "-v", "cmn", "-s", "150", "-w", str(raw), SPEECH],
                   check=True, capture_output=True, timeout=60)  # fmt: skip
    subprocess.run(["sox", str(raw), "-r", "48000", "-c", "1", "-b", "16", str(wav)],
                   check=True, capture_output=True, timeout=60)  # fmt: skip
    assert wav_rms(wav) > SPEECH_RMS, "espeak-ng made a silent file"
    return wav


@pytest.fixture
async def ami(engine: EngineProcess) -> AsyncIterator[AmiTestClient]:
    client = AmiTestClient(engine.cfg)
    await client.connect()
    yield client
    client.close()


@pytest.fixture
async def chromium(tmp_path: Path) -> AsyncIterator[Any]:
    try:
        from playwright.async_api import async_playwright
    except ImportError as exc:
        pytest.fail(f"the Python package playwright is missing (pip install -e .[test]): {exc}")
    voice = agent_voice(tmp_path)
    async with async_playwright() as p:
        try:
            browser = await p.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                args=[
                    "--no-sandbox",
                    "--use-fake-device-for-media-stream",
                    "--use-fake-ui-for-media-stream",
                    f"--use-file-for-fake-audio-capture={voice}",
                    "--autoplay-policy=no-user-gesture-required",
                ],
            )
        except Exception as exc:
            pytest.fail(f"Debian's Chromium at {CHROMIUM} did not start: {exc}")
        yield browser
        await browser.close()


async def agent_channel(ami: AmiTestClient) -> str:
    event = await ami.wait_event(
        lambda ev: (
            ev.get("Event") == "Newchannel" and str(ev.get("Channel", "")).startswith(f"{SEAT}-")
        ),
        timeout=30,
    )
    return str(event["Channel"])


async def inbound_audio_energy(page: Any) -> float:
    """totalAudioEnergy of the audio the browser received (the citizen's)."""
    return float(
        await page.evaluate(
            """async () => {
              const s = window.hotlineSoftphone.session;
              const sdh = s && s.sessionDescriptionHandler;
              const pc = sdh && sdh.peerConnection;
              if (!pc) return -1;
              let energy = 0;
              (await pc.getStats()).forEach((r) => {
                if (r.type === "inbound-rtp" && r.kind === "audio") {
                  energy += r.totalAudioEnergy || 0;
                }
              });
              return energy;
            }"""
        )
    )


async def media_transport(page: Any) -> dict[str, Any]:
    """The call's transport as the browser reports it: DTLS state and the SRTP cipher."""
    found: dict[str, Any] = await page.evaluate(
        """async () => {
          const pc = window.hotlineSoftphone.session.sessionDescriptionHandler.peerConnection;
          let found = {};
          (await pc.getStats()).forEach((r) => {
            if (r.type === "transport") found = {dtls: r.dtlsState, srtp: r.srtpCipher || ""};
          });
          return found;
        }"""
    )
    return found


async def test_agent_answers_in_the_browser_audio_both_ways_hold_and_hang_up(
    engine: EngineProcess, ami: AmiTestClient, chromium: Any, asterisk: Any
) -> None:
    add_user(engine, "agent1002", "agent", "--agent", AGENT)
    ARTIFACTS.mkdir(exist_ok=True)
    context = await chromium.new_context(viewport={"width": 1366, "height": 900})
    await context.grant_permissions(["microphone"])
    page = await context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    await page.goto(engine.base + "/desk/login")
    await page.fill("#name", "agent1002")
    await page.fill("#password", PASSWORDS["agent1002"])
    await page.click("#login-submit")
    await page.wait_for_url("**/desk/agent")
    try:
        await page.wait_for_selector('#softphone[data-state="registered"]', timeout=20_000)
    except Exception:
        raise AssertionError(
            f"the softphone did not register: {await page.text_content('#softphone')} "
            f"{problems}\n{asterisk.log_tail()}"
        ) from None
    assert await page.text_content("#softphone-seat") == SEAT
    assert await page.is_hidden("#softphone-error")  # the fake microphone is fine

    # The agent's seat is the browser (a configured dial string like any other), chosen on the
    # page: "log in with this browser", then ready.
    elsewhere = translate("zh", "sp_registered_elsewhere")  # logged out: its seat is PJSIP/1002
    assert await page.text_content("#softphone-status") == elsewhere
    await page.click("#sp-seat-login")
    await page.wait_for_selector('#agent-state[data-state="not_ready"]', timeout=10_000)
    assert await page.text_content("#seat") == SEAT
    ringing_here = translate("zh", "sp_registered")
    await page.wait_for_selector(f'#softphone-status:text-is("{ringing_here}")', timeout=5_000)
    await page.click("#ready")
    await page.wait_for_selector('#agent-state[data-state="ready"]', timeout=10_000)
    inside = f"/tmp/webrtc-{RUN_ID}"
    async with mqtt_collector(engine.cfg) as mqtt:
        await ami.call_12345(CALLER, dtmf="2", variables={"TEST_PLAY": "hotline/greeting"})
        call_id = await arrived_call_id(mqtt, CALLER)
        await page.wait_for_selector('#softphone[data-state="ringing"]', timeout=30_000)
        assert await page.is_enabled("#sp-answer") and await page.is_disabled("#sp-hold")
        assert await page.evaluate("window.hotlineSoftphone.ring !== null")  # the ringing tone
        await page.screenshot(path=str(ARTIFACTS / "softphone-ringing.png"), full_page=True)
        channel = await agent_channel(ami)
        await page.click("#sp-answer")
        await page.wait_for_selector('#softphone[data-state="talking"]', timeout=15_000)
        await mqtt.wait_for(f"/calls/{call_id}/answered", timeout=15)
        assert await page.evaluate("window.hotlineSoftphone.ring === null")  # and it stopped
        # Each direction of the agent's leg in its own file: r() what the browser sent (the
        # agent's voice), t() what Asterisk sent the browser (the citizen's prompt).
        asterisk.cli(
            f"mixmonitor start {channel} {inside}-mix.wav,"
            f"r({inside}-agent.wav)t({inside}-citizen.wav)"
        )
        await asyncio.sleep(5.0)  # they talk
        await page.wait_for_selector("#pop:not([hidden])")
        await page.screenshot(path=str(ARTIFACTS / "softphone-in-call.png"), full_page=True)
        heard = await inbound_audio_energy(page)
        transport = await media_transport(page)
        assert transport.get("dtls") == "connected" and transport.get("srtp"), transport

        await page.click("#sp-hold")
        await page.wait_for_selector('#softphone[data-state="held"]', timeout=10_000)
        await page.wait_for_selector('#hold-state[data-state="held"]')
        await asyncio.sleep(1.0)
        await page.click("#sp-hold")  # resume
        await page.wait_for_selector('#softphone[data-state="talking"]', timeout=10_000)
        await page.click("#sp-mute")
        assert await page.get_attribute("#sp-mute", "aria-pressed") == "true"
        await page.click("#sp-mute")

        await page.click("#sp-hangup")
        await page.wait_for_selector('#softphone[data-state="registered"]', timeout=15_000)
        await mqtt.wait_for(f"/calls/{call_id}/ended", timeout=15)
        record = await wait_record(engine, call_id)
        rec = await wait_finished(engine, call_id)

    assert record.outcome is CallOutcome.ANSWERED and record.agent_id == AGENT
    assert heard > 0, "the browser received no audio energy (citizen -> agent)"
    agent_said = asterisk.host_path(f"{inside}-agent.wav")
    citizen_said = asterisk.host_path(f"{inside}-citizen.wav")
    for _ in range(40):  # MixMonitor closes its files as the channel goes
        if agent_said.exists() and citizen_said.exists():
            break
        await asyncio.sleep(0.25)
    try:
        agent_rms, citizen_rms = wav_rms(agent_said), wav_rms(citizen_said)
    finally:  # the root filesystem's /tmp is every test instance's
        for leg in ("agent", "citizen", "mix"):
            asterisk.host_path(f"{inside}-{leg}.wav").unlink(missing_ok=True)
    print(f"speech energy (RMS): agent->citizen {agent_rms:.0f}, citizen->agent {citizen_rms:.0f}")
    assert agent_rms > SPEECH_RMS, "no speech from the browser (agent -> citizen)"
    assert citizen_rms > SPEECH_RMS, "no speech to the browser (citizen -> agent)"
    call_rms = wav_rms(audio_roots(engine.cfg).resolve(rec.path))
    print(f"speech energy (RMS) of the call's own recording: {call_rms:.0f}")
    assert call_rms > SPEECH_RMS, "the call's own recording is silent"
    assert not [p for p in problems if "softphone" in p.lower()], problems


async def test_only_the_agent_gets_its_own_browser_seat_and_the_page_may_connect_there(
    engine: EngineProcess,
) -> None:
    add_user(engine, "agent1002", "agent", "--agent", AGENT)
    add_user(engine, "super1", "supervisor")
    agent, boss = desk_client(engine), desk_client(engine)
    try:
        assert (await agent.login("agent1002")).status == 303
        async with agent.http.get(f"{engine.base}/desk/api/softphone") as resp:
            assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"
            conf = await resp.json()
        assert conf["seat"] == SEAT and conf["user"] == f"webrtc-{AGENT}"
        state = engine.setup.state_dir
        assert conf["password"] == (state / f"sip-password-webrtc-{AGENT}").read_text().strip()
        desk_password = next(a for a in engine.cfg.agents if a.id == AGENT).sip_password
        assert conf["password"] != desk_password  # the desk phone's never reaches a browser
        ws = engine.cfg.webrtc.browser_url
        assert conf["ws_url"] == ws
        async with agent.http.get(f"{engine.base}/desk/agent") as page:
            csp = page.headers["Content-Security-Policy"]
        origin = ws.rsplit("/", 1)[0]
        assert f"connect-src 'self' {origin};" in csp, csp
        async with agent.http.get(f"{engine.base}{conf['library']}") as lib:
            assert lib.status == 200 and "LIBRARY_VERSION" in await lib.text()

        # Only "browser" chooses another seat from the page; anything else is a clear 400.
        bad = await agent.post_json("/desk/api/seat/login", {"seat": "PJSIP/1001"})
        assert bad.status == 400 and (await bad.json())["field"] == "seat"

        assert (await boss.login("super1")).status == 303
        async with boss.http.get(f"{engine.base}/desk/api/softphone") as resp:
            assert resp.status == 403  # a supervisor has no browser seat here
        anonymous = desk_client(engine)
        async with anonymous.http.get(f"{engine.base}/desk/api/softphone") as resp:
            assert resp.status == 401
        await anonymous.close()
    finally:
        await agent.close()
        await boss.close()


async def test_a_refused_microphone_is_said_plainly_in_chinese(
    engine: EngineProcess, tmp_path: Path
) -> None:
    """The agent blocked the microphone for the desktop (the browser's site permission)."""
    from playwright.async_api import async_playwright

    add_user(engine, "agent1002", "agent", "--agent", AGENT)
    async with async_playwright() as p:
        # A persistent context is the browser's default one, which Browser.setPermission sets.
        context = await p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--use-fake-device-for-media-stream"],
        )  # fmt: skip
        try:
            page = context.pages[0] if context.pages else await context.new_page()
            cdp = await context.new_cdp_session(page)
            await cdp.send(
                "Browser.setPermission",
                {"permission": {"name": "microphone"}, "setting": "denied",
                 "origin": engine.base},
            )  # fmt: skip
            await page.goto(engine.base + "/desk/login")
            await page.fill("#name", "agent1002")
            await page.fill("#password", PASSWORDS["agent1002"])
            await page.click("#login-submit")
            await page.wait_for_url("**/desk/agent")
            await page.wait_for_selector("#softphone-error:visible", timeout=20_000)
            said = await page.text_content("#softphone-error")
        finally:
            await context.close()
    assert said == translate("zh", "sp_mic_denied"), said
    assert "麦克风" in said and "允许" in said


def test_the_wss_listener_serves_the_certificate_made_at_setup(engine: EngineProcess) -> None:
    cert = (engine.setup.state_dir / "webrtc-tls" / "webrtc-cert.pem").read_text()
    served = ssl.get_server_certificate(("127.0.0.1", engine.cfg.webrtc.tls_port), timeout=5)
    assert ssl.PEM_cert_to_DER_cert(served) == ssl.PEM_cert_to_DER_cert(cert)
