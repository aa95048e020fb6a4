"""The centre's own Redis and Mosquitto, each asking for credentials generated at setup.

The machine may already run a Redis on 6379 and a Mosquitto on 1883 that let anyone in; the
centre does not use them. ``hotline up`` (and the test suite, on other ports) starts its own
instances with ``redis.managed`` / ``mqtt.managed`` (the default):

- Redis at the URL's loopback address: the ``default`` user off, one ACL user
  (``redis.username``) with a generated password, allowed only keys under ``redis.key_prefix``
  and no admin or dangerous commands. Configuration and data in ``<state_dir>/redis`` (0700).
- Mosquitto on ``mqtt.host:mqtt.port``: anonymous clients refused; the engine user writes
  ``<prefix>/#``; the display user reads only ``<prefix>/agents/#``, ``<prefix>/metrics/#``,
  ``<prefix>/calls/#`` and ``<prefix>/hotspots/#``, never ``<prefix>/private/#`` where the
  engine puts everything that carries personal data (hotline/base/bus.py). Files in
  ``<state_dir>/mosquitto`` (0700).

Passwords are written only into 0600 files (never onto a command line); Mosquitto's password
file is hashed in place by ``mosquitto_passwd -U``. Each server runs in the foreground of its
own session, its pid kept beside its configuration, so ``stop()`` works from another process.
"""

from __future__ import annotations

import contextlib
import getpass
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hotline.base.credentials import mqtt_display_password, mqtt_password, redis_password
from hotline.base.durable import write_private
from hotline.base.settings import Config

log = logging.getLogger(__name__)

LOOPBACK = ("127.0.0.1", "localhost", "::1")


class ServiceStartError(RuntimeError):
    """A managed service did not come up; the message says which, where and why."""


def redis_address(cfg: Config) -> tuple[str, int]:
    parts = urlsplit(cfg.redis.url)
    return parts.hostname or "127.0.0.1", parts.port or 6379


def redis_client_kwargs(cfg: Config) -> dict[str, Any]:
    """What redis.Redis.from_url needs besides the URL: the user and its password."""
    return {"username": cfg.redis.username, "password": redis_password(cfg)}


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1.0)
        return s.connect_ex((host, port)) == 0


class _ManagedServer:
    name = ""
    program = ""
    section = ""  # its configuration section

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.dir = cfg.paths.state_dir / self.name
        self._proc: subprocess.Popen[bytes] | None = None

    # what each server defines
    @property
    def address(self) -> tuple[str, int]:
        raise NotImplementedError

    def write_config(self) -> list[str]:
        """Write the configuration files; return the command line that runs the server."""
        raise NotImplementedError

    def ready(self) -> None:
        """Raise if the server does not answer an authenticated request yet."""
        raise NotImplementedError

    # shared life cycle
    @property
    def pid_file(self) -> Path:
        return self.dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.dir / f"{self.name}.log"

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except (OSError, ValueError):
            return None
        return pid if comm.startswith(self.program[:15]) else None

    def start(self, timeout_s: float = 15.0) -> None:
        host, port = self.address
        if host not in LOOPBACK:
            raise ServiceStartError(
                f"{self.name}: a managed {self.name} listens on loopback only, not {host}; "
                f"set {self.section}.managed = false to use one you run"
            )
        if shutil.which(self.program) is None:
            raise ServiceStartError(f"{self.name}: {self.program} is not installed")
        if self.pid() is not None:  # left over from a crashed run: its users may be stale
            log.warning("%s of this centre was running; restarting it", self.name)
            self.stop()
        if _port_open(host, port):
            raise ServiceStartError(
                f"{self.name}: {host}:{port} is in use by another process; stop it or choose "
                f"another port (the centre runs its own {self.name} with credentials)"
            )
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.dir.chmod(0o700)
        command = self.write_config()
        fd = os.open(self.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "ab") as out:
            self._proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches the engine, which stops it in order
                umask=0o077,  # its data (sessions, the ACD's state) readable by its user only
            )
        self.pid_file.write_text(f"{self._proc.pid}\n")
        deadline = time.monotonic() + timeout_s
        last = "not started"
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise ServiceStartError(
                    f"{self.name} exited with {self._proc.returncode} at start:\n{self.log_tail()}"
                )
            try:
                self.ready()
                log.info("%s of the centre is up on %s:%d", self.name, host, port)
                return
            except Exception as exc:
                last = str(exc)
            time.sleep(0.1)
        self.stop()
        raise ServiceStartError(f"{self.name} not ready within {timeout_s} s ({last})")

    def stop(self, timeout_s: float = 10.0) -> None:
        pid = self.pid()
        if pid is not None:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
                deadline = time.monotonic() + timeout_s
                while self.pid() is not None and time.monotonic() < deadline:
                    if self._proc is not None:
                        self._proc.poll()  # reap our own child so /proc forgets it
                    time.sleep(0.05)
                if self.pid() is None:
                    break
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(5)
            self._proc = None
        self.pid_file.unlink(missing_ok=True)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class ManagedRedis(_ManagedServer):
    name = "redis"
    program = "redis-server"
    section = "redis"

    @property
    def address(self) -> tuple[str, int]:
        return redis_address(self.cfg)

    def write_config(self) -> list[str]:
        host, port = self.address
        r = self.cfg.redis
        conf = "\n".join(
            [
                f"bind {host}",
                f"port {port}",
                "protected-mode yes",
                "daemonize no",
                f"dir {self.dir}",
                "dbfilename dump.rdb",
                "save 300 1",
                "appendonly no",
                # Nobody gets in without the generated password: the default user is off, the
                # engine's user sees only the centre's keys and pub/sub channels (`hotline
                # user` tells the engine on <prefix>desk:users) and no admin/dangerous commands.
                "user default off resetkeys resetchannels -@all",
                f"user {r.username} on >{redis_password(self.cfg)} resetkeys ~{r.key_prefix}* "
                f"resetchannels &{r.key_prefix}* +@all -@admin -@dangerous",
                "",
            ]
        )
        conf_path = self.dir / "redis.conf"
        write_private(conf_path, conf)
        return [self.program, str(conf_path)]

    def ready(self) -> None:
        import redis

        client = redis.Redis.from_url(
            self.cfg.redis.url, socket_connect_timeout=1, **redis_client_kwargs(self.cfg)
        )
        try:
            client.ping()
        finally:
            client.close()


class ManagedMosquitto(_ManagedServer):
    name = "mosquitto"
    program = "mosquitto"
    section = "mqtt"

    @property
    def address(self) -> tuple[str, int]:
        return self.cfg.mqtt.host, self.cfg.mqtt.port

    def write_config(self) -> list[str]:
        m = self.cfg.mqtt
        passwd = self.dir / "passwd"
        write_private(
            passwd,
            f"{m.username}:{mqtt_password(self.cfg)}\n"
            f"{m.display_username}:{mqtt_display_password(self.cfg)}\n",
        )
        hashed = subprocess.run(
            ["mosquitto_passwd", "-U", str(passwd)], capture_output=True, text=True, timeout=30
        )
        if hashed.returncode != 0:
            passwd.unlink(missing_ok=True)  # never leave the plain passwords behind
            raise ServiceStartError(f"mosquitto_passwd -U failed: {hashed.stderr.strip()}")
        write_private(self.dir / "acl", mqtt_acl(self.cfg))
        host, port = self.address
        conf = "\n".join(
            [
                "per_listener_settings false",
                "allow_anonymous false",
                f"password_file {passwd}",
                f"acl_file {self.dir / 'acl'}",
                "persistence false",
                "log_dest stdout",
                # Mosquitto reads its password file after dropping to the `mosquitto` user, which
                # cannot enter the 0700 state directory: it stays the engine's user.
                f"user {getpass.getuser()}",
                f"listener {port} {host}",
                "",
            ]
        )
        conf_path = self.dir / "mosquitto.conf"
        write_private(conf_path, conf)
        return [self.program, "-c", str(conf_path)]

    def ready(self) -> None:
        m = self.cfg.mqtt
        _mqtt_check(m.host, m.port, m.username, mqtt_password(self.cfg))


def mqtt_acl(cfg: Config) -> str:
    m = cfg.mqtt
    p = m.topic_prefix
    return (
        f"user {m.username}\n"
        f"topic readwrite {p}/#\n"
        "\n"
        f"user {m.display_username}\n"
        f"topic read {p}/agents/#\n"
        f"topic read {p}/metrics/#\n"
        f"topic read {p}/calls/#\n"
        # Hot spots (tickets.hotspots): subject and area codes and counts, no caller.
        f"topic read {p}/hotspots/#\n"
    )


def _mqtt_check(host: str, port: int, username: str, password: str) -> None:
    import asyncio

    import aiomqtt

    async def connect() -> None:
        async with aiomqtt.Client(
            hostname=host, port=port, username=username, password=password, timeout=2
        ):
            pass

    asyncio.run(connect())


def start_managed(cfg: Config) -> list[_ManagedServer]:
    """Start the services the configuration says the centre runs itself; return them."""
    started: list[_ManagedServer] = []
    try:
        kinds: list[tuple[bool, type[_ManagedServer]]] = [
            (cfg.redis.managed, ManagedRedis),
            (cfg.mqtt.managed, ManagedMosquitto),
        ]
        for wanted, kind in kinds:
            if wanted:
                server = kind(cfg)
                server.start()
                started.append(server)
    except BaseException:
        stop_all(started)
        raise
    return started


def stop_all(servers: list[_ManagedServer]) -> None:
    for server in reversed(servers):
        with contextlib.suppress(Exception):
            server.stop()
