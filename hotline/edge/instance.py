"""One managed Kamailio: the configuration rendered into <state_dir>/edge (0700, files 0600),
checked with ``kamailio -c`` before it starts, run in the foreground of its own session, its
log in edge/kamailio.log, and ready once it answers an OPTIONS request."""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

from hotline.asterisk.render import write_all
from hotline.base.settings import Config
from hotline.edge.render import render


class EdgeStartError(RuntimeError):
    """Kamailio's configuration was refused or it did not come up; the message says why."""


def _unprivileged() -> list[str]:
    """Kamailio reads its configuration as root, then runs as the package's own user (the
    Debian package creates ``kamailio``); as root only when that user does not exist."""
    try:
        pwd.getpwnam("kamailio")
        grp.getgrnam("kamailio")
    except KeyError:
        return []
    return ["-u", "kamailio", "-g", "kamailio"]


class ManagedKamailio:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.dir = cfg.paths.state_dir / "edge"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def config_file(self) -> Path:
        return self.dir / "kamailio.cfg"

    @property
    def log_file(self) -> Path:
        return self.dir / "kamailio.log"

    def install_config(self) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o700)  # the passwords are in kamailio.cfg
        write_all(render(self.cfg, self.dir), self.dir)
        return self.config_file

    def check(self) -> None:
        """``kamailio -c``: the configuration parses and every module loads."""
        binary = str(self.cfg.edge.kamailio)
        if not Path(binary).exists():
            raise EdgeStartError(
                f"edge.kamailio: {binary} not found (Debian package kamailio; "
                "scripts/setup-system.sh installs it)"
            )
        proc = subprocess.run(
            [binary, "-c", "-f", str(self.config_file)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if proc.returncode != 0:
            # Kamailio's own words about the line it refused (no secret is ever echoed by -c
            # except on the faulty line itself, which is ours, not the passwords' route).
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
            raise EdgeStartError(f"kamailio -c refused {self.config_file}:\n{tail}")

    def start(self, timeout_s: float = 15.0) -> None:
        if os.geteuid() != 0:
            raise EdgeStartError("a managed Kamailio needs root")
        self.install_config()
        self.check()
        with open(self.log_file, "ab") as out:
            os.fchmod(out.fileno(), 0o600)
            self._proc = subprocess.Popen(
                [
                    str(self.cfg.edge.kamailio),
                    "-f",
                    str(self.config_file),
                    "-DD",
                    "-E",
                    "-m",
                    "64",
                    "-M",
                    "8",
                    *_unprivileged(),
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise EdgeStartError(
                    f"kamailio exited with {self._proc.returncode} at start:\n{self.log_tail()}"
                )
            if self.answers():
                return
            time.sleep(0.2)
        self.stop()
        raise EdgeStartError(f"kamailio did not answer OPTIONS within {timeout_s} s")

    def answers(self, timeout_s: float = 0.5) -> bool:
        """True if the edge answers an OPTIONS request with 200."""
        e = self.cfg.edge
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((e.listen, 0))
            s.settimeout(timeout_s)
            port = s.getsockname()[1]
            branch = "z9hG4bK" + uuid.uuid4().hex[:16]
            msg = (
                f"OPTIONS sip:{e.listen}:{e.port} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP {e.listen}:{port};branch={branch};rport\r\n"
                "Max-Forwards: 5\r\n"
                f"From: <sip:probe@{e.listen}>;tag={uuid.uuid4().hex[:8]}\r\n"
                f"To: <sip:{e.listen}:{e.port}>\r\n"
                f"Call-ID: {uuid.uuid4().hex}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
            )
            try:
                s.sendto(msg.encode(), (e.listen, e.port))
                data = s.recv(4096)
            except OSError:
                return False
        return data.startswith(b"SIP/2.0 200")

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def pids(self) -> list[int]:
        """The main process and its children (its own session: they share its group)."""
        if not self.is_running() or self._proc is None:
            return []
        group = self._proc.pid
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # ended meanwhile
            if int(fields[2]) == group:  # pgrp
                found.append(int(stat.parent.name))
        return sorted(found)

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"
