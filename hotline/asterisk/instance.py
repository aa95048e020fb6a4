"""One managed Asterisk 22 instance running in the chroot with our configuration.

Each instance (e.g. "main" for `make run`, "test" for the suite) has its own directories under
<rootfs>/srv/hotline/<instance>/ — etc, run, log, spool, lib, cache — so instances share the
500 MB root filesystem and nothing else. The audio folders in its spool are bind mounts of the
state directory while it runs (hotline/asterisk/audio.py): the root filesystem holds no audio.
Asterisk runs in the foreground of its own session (`asterisk -f`), its console output in
log/console.log; the engine talks to it over AMI only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from hotline.asterisk.agiscripts import ensure_agi_scripts
from hotline.asterisk.audio import audio_binds, migrate_old_audio, mount_audio, unmount_audio
from hotline.asterisk.prompts import ensure_prompts
from hotline.asterisk.render import (
    recordings_dir,
    render_all,
    utterance_dir,
    voicemail_dir,
    write_all,
)
from hotline.asterisk.rootfs import _remove_stale, ensure_rootfs, mounts_under
from hotline.asterisk.webrtc import chroot_tls_files
from hotline.base.secrets import stored_secret
from hotline.base.settings import Config

log = logging.getLogger(__name__)

SUBDIRS = ("etc", "run", "log", "spool", "lib", "cache")


class AsteriskStartError(RuntimeError):
    """Asterisk did not come up; the message carries the reason and its console output."""


class ManagedAsterisk:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self._root: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    # -- paths -----------------------------------------------------------
    @property
    def root(self) -> Path:
        if self._root is None:
            self._root = ensure_rootfs(self.cfg)
        return self._root

    @property
    def inside(self) -> Path:
        """The instance directory as Asterisk sees it (inside the chroot)."""
        return Path("/srv/hotline") / self.cfg.asterisk.instance

    def host_path(self, inside: Path | str) -> Path:
        return self.root / str(inside).lstrip("/")

    @property
    def conf_inside(self) -> str:
        return str(self.inside / "etc" / "asterisk.conf")

    @property
    def console_log(self) -> Path:
        return self.host_path(self.inside / "log" / "console.log")

    def _mod_dir(self) -> str:
        found = sorted(self.root.glob("usr/lib/*/asterisk/modules"))
        if not found:
            raise AsteriskStartError(f"no Asterisk modules directory in {self.root}")
        return "/" + str(found[0].relative_to(self.root))

    # -- configuration ---------------------------------------------------
    def install_config(self) -> Path:
        dirs = {f"{name}_dir": str(self.inside / name) for name in SUBDIRS}
        dirs["mod_dir"] = self._mod_dir()
        for name in SUBDIRS:
            self.host_path(self.inside / name).mkdir(parents=True, exist_ok=True)
        self.host_path(voicemail_dir(dirs)).mkdir(parents=True, exist_ok=True)
        self.host_path(utterance_dir(dirs)).mkdir(parents=True, exist_ok=True)
        self.host_path(recordings_dir(dirs)).mkdir(parents=True, exist_ok=True)
        etc = self.host_path(self.inside / "etc")
        write_all(render_all(self.cfg, dirs, managed=True), etc)
        if self.cfg.webrtc.enabled:  # the wss:// certificate and key, 0600 like the rest
            write_all(chroot_tls_files(self.cfg), etc)
        return etc

    # -- lifecycle -------------------------------------------------------
    def _chroot(self, *args: str) -> list[str]:
        return ["chroot", str(self.root), *args]

    def _mount_proc(self) -> None:
        proc_dir = self.root / "proc"
        if proc_dir.resolve() not in mounts_under(proc_dir):
            subprocess.run(["mount", "-t", "proc", "proc", str(proc_dir)], check=True)

    def pid(self) -> int | None:
        pid_file = self.host_path(self.inside / "run" / "asterisk.pid")
        try:
            pid = int(pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            return None
        return pid if comm.startswith("asterisk") else None

    def is_running(self) -> bool:
        return self.pid() is not None

    def start(self) -> None:
        if os.geteuid() != 0:
            raise AsteriskStartError("a managed Asterisk needs root (chroot, mount)")
        if self.is_running():  # left over from a crashed run: its config may be stale
            log.warning(
                "Asterisk instance %s was running; restarting it", self.cfg.asterisk.instance
            )
            self.stop()
        self._check_ports_free()
        config_dir = Path(__file__).resolve().parents[2] / "asterisk-config"
        ensure_prompts(self.root, config_dir / "sounds")
        ensure_agi_scripts(self.root, config_dir / "agi-bin")
        self._move_old_audio()
        self.install_config()
        mount_audio(self.root, audio_binds(self.cfg))
        self._mount_proc()
        self.console_log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.console_log, "ab") as out:
            self._proc = subprocess.Popen(
                self._chroot("/usr/sbin/asterisk", "-C", self.conf_inside, "-f", "-n", "-q"),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # survives `hotline asterisk start` exiting
                umask=0o077,  # recordings and voicemail: readable by root only
            )
        self._wait_ready()

    def _move_old_audio(self) -> None:
        """Audio an older version left inside a root filesystem (this one or a stale one) goes
        to the state directory; then stale roots it kept alive can be removed."""
        cache = self.cfg.paths.cache_dir
        roots = sorted(p for p in cache.glob("asterisk-rootfs-*") if p.is_dir())
        report = migrate_old_audio(self.cfg, roots)
        if report.moved:
            _remove_stale(cache, keep=self.root)

    def _check_ports_free(self) -> None:
        """Another process on our AMI port would answer our login: say so instead of timing out."""
        with socket.socket() as s:
            s.settimeout(1)
            if s.connect_ex((self.cfg.ami.host, self.cfg.ami.port)) == 0:
                raise AsteriskStartError(
                    f"ami.port: {self.cfg.ami.host}:{self.cfg.ami.port} is in use by another "
                    "process (another Asterisk?); stop it or choose another port"
                )
        w = self.cfg.webrtc
        for key, host, port in (("webrtc.ws_port", "127.0.0.1", w.ws_port),
                                ("webrtc.tls_port", w.tls_bind, w.tls_port)):  # fmt: skip
            with socket.socket() as s:
                s.settimeout(1)
                if w.enabled and s.connect_ex((host, port)) == 0:
                    raise AsteriskStartError(
                        f"{key}: {host}:{port} is in use by another process; choose another port"
                    )
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind((self.cfg.asterisk.sip_bind, self.cfg.asterisk.sip_port))
            except OSError as exc:
                raise AsteriskStartError(
                    f"asterisk.sip_port: cannot use {self.cfg.asterisk.sip_bind}:"
                    f"{self.cfg.asterisk.sip_port} for SIP: {exc}"
                ) from None

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.cfg.asterisk.start_timeout_s
        last = "not started"
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise AsteriskStartError(
                    f"asterisk exited with {self._proc.returncode} at start:\n{self.log_tail()}"
                )
            try:
                self.cli("core waitfullybooted", timeout=5)
                self.ami_login_check()
                log.info("Asterisk instance %s is up", self.cfg.asterisk.instance)
                return
            except (OSError, subprocess.SubprocessError, RuntimeError) as exc:
                last = str(exc)
            time.sleep(0.3)
        self.stop()
        raise AsteriskStartError(
            f"Asterisk not ready within {self.cfg.asterisk.start_timeout_s} s ({last}):\n"
            f"{self.log_tail()}"
        )

    def ami_login_check(self) -> None:
        secret = stored_secret(self.cfg.paths.state_dir, "ami-secret", self.cfg.ami.secret)
        with socket.create_connection((self.cfg.ami.host, self.cfg.ami.port), timeout=3) as s:
            s.settimeout(3)
            buf = b""
            while b"\r\n" not in buf:
                buf += s.recv(1024)
            login = (
                f"Action: Login\r\nUsername: {self.cfg.ami.username}\r\nSecret: {secret}\r\n\r\n"
            )
            s.sendall(login.encode())
            while b"\r\n\r\n" not in buf.split(b"\r\n", 1)[1]:
                chunk = s.recv(4096)
                if not chunk:
                    break
                buf += chunk
            if b"Response: Success" not in buf:
                raise RuntimeError(f"AMI login refused: {buf.decode(errors='replace').strip()}")
            s.sendall(b"Action: Logoff\r\n\r\n")

    def cli(self, command: str, timeout: float = 10) -> str:
        proc = subprocess.run(
            self._chroot("/usr/sbin/asterisk", "-C", self.conf_inside, "-rx", command),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"asterisk -rx {command!r}: {(proc.stderr or proc.stdout).strip()}")
        return proc.stdout

    def stop(self, timeout: float = 15) -> None:
        pid = self.pid()
        if pid is not None:
            with contextlib.suppress(RuntimeError, subprocess.SubprocessError):
                self.cli("core stop now", timeout=5)
            deadline = time.monotonic() + timeout
            while self.pid() is not None and time.monotonic() < deadline:
                time.sleep(0.1)
            for sig in (signal.SIGTERM, signal.SIGKILL):
                if self.pid() is None:
                    break
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
                time.sleep(1)
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(5)
            self._proc = None
        unmount_audio(self.root, audio_binds(self.cfg))

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.console_log.read_text(errors="replace")
        except FileNotFoundError:
            return "(no console log)"
        return "\n".join(text.splitlines()[-lines:])
