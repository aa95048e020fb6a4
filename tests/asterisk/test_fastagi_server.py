"""The FastAGI server over a loopback socket (no Asterisk needed for protocol edge cases)."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest

from hotline.asterisk.agi import AgiChannel, AgiHangup
from hotline.asterisk.agiserver import FastAgiServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def converse(port: int, script: str, replies: int) -> list[str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"agi_network: yes\nagi_network_script: {script}\nagi_uniqueid: 1.1\n\n".encode())
    commands = []
    for _ in range(replies):
        line = await asyncio.wait_for(reader.readline(), 5)
        if not line:
            break
        commands.append(line.decode().strip())
        writer.write(b"200 result=1\n")
    rest = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    assert rest == b"", rest
    return commands


async def test_unknown_script_gets_the_default_queue() -> None:
    port = free_port()
    server = FastAgiServer({}, "general", "127.0.0.1", port)
    await server.start()
    try:
        commands = await converse(port, "nosuch", 3)
    finally:
        await server.stop()
    assert commands == [
        'SET VARIABLE HOTLINE_SKILL "general"',
        'SET VARIABLE HOTLINE_PRIORITY "0"',
        'SET VARIABLE HOTLINE_IVR_PATH "fallback:unknown-script:nosuch"',
    ]


async def test_exception_in_flow_gets_the_default_queue() -> None:
    async def boom(_channel: AgiChannel) -> None:
        raise RuntimeError("bug")

    port = free_port()
    server = FastAgiServer({"ivr": boom}, "general", "127.0.0.1", port)
    await server.start()
    try:
        commands = await converse(port, "ivr", 3)
    finally:
        await server.stop()
    assert commands[-1] == 'SET VARIABLE HOTLINE_IVR_PATH "fallback:ivr-error"'
    assert server.failures == 1


async def test_garbage_and_silent_clients_are_cut_off() -> None:
    port = free_port()
    server = FastAgiServer({}, "general", "127.0.0.1", port)
    await server.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert await asyncio.wait_for(reader.read(), 5) == b""
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"agi_network_script: ivr\n")
        writer.write_eof()  # closes before the blank line
        assert await asyncio.wait_for(reader.read(), 5) == b""
    finally:
        await server.stop()
    assert server.sessions == 0


async def test_in_the_ivr_counts_the_sessions_in_progress_not_a_running_total() -> None:
    inside = asyncio.Event()
    release = asyncio.Event()

    async def wait_in_ivr(_channel: AgiChannel) -> None:
        inside.set()
        await release.wait()

    port = free_port()
    server = FastAgiServer({"ivr": wait_in_ivr}, "general", "127.0.0.1", port)
    await server.start()
    try:
        for _ in range(3):  # three callers went through the IVR, one after the other
            release.clear()
            talk = asyncio.ensure_future(converse(port, "ivr", 0))
            await asyncio.wait_for(inside.wait(), 5)
            assert server.active == 1
            release.set()
            await talk
            inside.clear()
    finally:
        await server.stop()
    assert server.active == 0  # nobody in the IVR now
    assert server.sessions == 3


async def test_a_call_taken_by_an_agent_is_not_logged_as_a_hang_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def bridged_away(_channel: AgiChannel) -> None:
        raise AgiHangup("channel is down")  # what the IVR sees when Bridge() takes the caller

    port = free_port()
    legs = {"1.1": "1001"}
    server = FastAgiServer({"ivr": bridged_away}, "general", "127.0.0.1", port, agent_of=legs.get)
    await server.start()
    caplog.set_level(logging.DEBUG, logger="hotline.asterisk.agiserver")
    try:
        await converse(port, "ivr", 0)
        legs.clear()  # no agent was rung: this one did hang up
        await converse(port, "ivr", 0)
    finally:
        await server.stop()
    said = [r.getMessage() for r in caplog.records if r.name == "hotline.asterisk.agiserver"]
    assert "call 1.1 left the IVR for agent 1001" in said
    assert said.count("caller 1.1 hung up in the IVR") == 1
