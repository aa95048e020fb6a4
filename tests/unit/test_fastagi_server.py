"""The FastAGI server over a loopback socket (no Asterisk needed for protocol edge cases)."""

from __future__ import annotations

import asyncio
import socket

from ivr.agi import AgiChannel
from ivr.server import FastAgiServer


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
