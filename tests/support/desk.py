"""Test-side helpers for the web desktop: users made with the real CLI, logged-in HTTP clients."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from tests.conftest import EngineProcess

PASSWORDS = {
    "agent1001": "agent-1001-secret-pw",
    "agent1002": "agent-1002-secret-pw",
    "super1": "supervisor-secret-pw",
    "super2": "supervisor-2-secret-pw",
    "unit1": "unit-water-secret-pw",
    "review1": "night-reviewer-secret-pw",
}
_CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]*)"')


def add_user(engine: EngineProcess, name: str, role: str, *extra: str) -> None:
    """`hotline user add` with the password on stdin (never on the command line)."""
    done = subprocess.run(
        [sys.executable, "-m", "hotline", "-c", str(engine.setup.path), "user", "add", name,
         "--role", role, "--password-stdin", *extra],
        input=PASSWORDS[name] + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    if done.returncode != 0 and "exists already" not in done.stderr:
        raise AssertionError(f"hotline user add {name} failed: {done.stderr[-2000:]}")


def hotline_user(
    engine: EngineProcess, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """`hotline user ARGS...` against the engine's configuration (a password on stdin)."""
    return subprocess.run(
        [sys.executable, "-m", "hotline", "-c", str(engine.setup.path), "user", *args],
        input=stdin, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def kb_import(engine: EngineProcess, path: Path) -> None:
    """`hotline kb import FILE.json` into the engine's database."""
    done = subprocess.run(
        [sys.executable, "-m", "hotline", "-c", str(engine.setup.path), "kb", "import", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode != 0:
        raise AssertionError(f"hotline kb import {path} failed: {done.stderr[-2000:]}")


def add_test_users(engine: EngineProcess) -> None:
    add_user(engine, "agent1001", "agent", "--agent", "1001")
    add_user(engine, "super1", "supervisor")
    add_user(engine, "unit1", "unit", "--unit", "water-co")


@dataclass
class DeskClient:
    http: aiohttp.ClientSession
    base: str
    csrf: str = ""

    async def close(self) -> None:
        await self.http.close()

    async def login(self, name: str, password: str | None = None) -> aiohttp.ClientResponse:
        async with self.http.get(f"{self.base}/desk/login") as page:
            token = _CSRF_INPUT.search(await page.text())
        assert token, "no CSRF field on the login page"
        resp = await self.http.post(
            f"{self.base}/desk/login",
            data={"csrf_token": token.group(1), "name": name,
                  "password": PASSWORDS.get(name, "") if password is None else password},
            allow_redirects=False,
        )  # fmt: skip
        if resp.status == 303:
            async with self.http.get(f"{self.base}/desk/") as landing:
                found = _CSRF_META.search(await landing.text())
                self.csrf = found.group(1) if found else ""
        return resp

    async def post_json(
        self, path: str, body: object = None, *, csrf: str | None = None, **headers: str
    ) -> aiohttp.ClientResponse:
        token = self.csrf if csrf is None else csrf
        sent = {"X-CSRF-Token": token, **headers} if token else dict(headers)
        return await self.http.post(
            f"{self.base}{path}", json={} if body is None else body, headers=sent,
            allow_redirects=False,
        )  # fmt: skip


def desk_client(engine: EngineProcess, source: str | None = None) -> DeskClient:
    """A desktop client; ``source`` another loopback address (127.0.0.2 ...) to come from, so a
    test can be two machines for the log-in limits."""
    # unsafe=True: the engine is on 127.0.0.1 and aiohttp keeps no cookies for IP hosts otherwise.
    connector = aiohttp.TCPConnector(local_addr=(source, 0)) if source else None
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True), connector=connector)
    return DeskClient(http, engine.base)
