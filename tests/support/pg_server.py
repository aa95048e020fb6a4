"""A throwaway PostgreSQL server for fault tests: initdb into a temp dir, start, stop, start again.

The shared server on 127.0.0.1:5432 belongs to other people and must never be stopped by a
test, so a test that needs PostgreSQL to go away (and come back) gets its own: a fresh cluster
in a temporary directory, trust authentication, listening only on 127.0.0.1 at a free port, no
Unix socket. ``pg_ctl -w`` starts and stops it, so when ``stop()`` returns the server is really
gone (connections refused) and when ``start()`` returns it accepts connections.

PostgreSQL refuses to run as root; as root the server runs as the ``postgres`` user
(``runuser -u postgres --``), otherwise as the current user. The binaries come from
``HOTLINE_TEST_PG_BIN`` or the newest ``/usr/lib/postgresql/*/bin`` (Debian's layout), else
``pg_ctl`` on PATH. Anything that goes wrong raises :class:`PgServerError` with the reason and
the tail of the server log, so a test can FAIL saying why.

    with PgServer() as pg:          # initdb + start; stopped and deleted on exit, always
        url = pg.url("postgres")
        pg.stop()                   # the outage
        pg.start()                  # back, same data
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

DEFAULT_PORT = 25432  # away from the shared server's 5432
OWNER = "postgres"  # the account that runs the server when the tests run as root
TIMEOUT_S = 30


class PgServerError(RuntimeError):
    """The throwaway server could not be created, started or stopped; the message says why."""


def bin_dir() -> Path:
    """The directory holding initdb and pg_ctl."""
    env = os.environ.get("HOTLINE_TEST_PG_BIN")
    if env:
        return Path(env)

    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", path.parent.name))

    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=version)
    if debian:
        return debian[-1].parent
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    raise PgServerError(
        "PostgreSQL server binaries not found: no /usr/lib/postgresql/*/bin/pg_ctl and no "
        "pg_ctl on PATH (install postgresql, or set HOTLINE_TEST_PG_BIN)"
    )


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True if something accepts TCP connections at ``host:port``."""
    with socket.socket() as s:
        s.settimeout(1.0)
        return s.connect_ex((host, port)) == 0


def free_port(start: int = DEFAULT_PORT, tries: int = 200) -> int:
    """The first port from ``start`` on that nothing listens on and that can be bound."""
    for port in range(start, start + tries):
        if port_in_use(port):
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise PgServerError(f"no free TCP port in {start}..{start + tries - 1} on 127.0.0.1")


class PgServer:
    """One private PostgreSQL cluster; see the module docstring."""

    def __init__(self, port: int | None = None) -> None:
        self.bin = bin_dir()
        self.port = port if port is not None else free_port()
        self.base: Path | None = None
        self._as_owner = os.geteuid() == 0
        self._started = False  # at least once: the port is fixed from then on

    # -- paths and URLs ----------------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        return self._base() / "data"

    @property
    def log_file(self) -> Path:
        return self._base() / "server.log"

    def _base(self) -> Path:
        if self.base is None:
            raise PgServerError("the server has not been created (call create() or use `with`)")
        return self.base

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL of ``database`` on this server (the superuser, trust auth)."""
        return f"postgresql+psycopg://{OWNER}@127.0.0.1:{self.port}/{database}"

    # -- life cycle --------------------------------------------------------------------------

    def create(self) -> None:
        """initdb a new cluster in a new temporary directory, configured for this port."""
        if self.base is not None:
            raise PgServerError(f"already created at {self.base}")
        self.base = Path(tempfile.mkdtemp(prefix="hotline-pg-"))
        atexit.register(self.destroy)  # a test that dies without its finally still cleans up
        if self._as_owner:
            try:
                owner = pwd.getpwnam(OWNER)
            except KeyError:
                raise PgServerError(
                    f"running as root, but there is no {OWNER!r} user to run PostgreSQL as "
                    "(PostgreSQL refuses to run as root)"
                ) from None
            os.chown(self.base, owner.pw_uid, owner.pw_gid)
        self._run(
            "initdb",
            ["-D", str(self.data_dir), "-U", OWNER, "-A", "trust", "-E", "UTF8",
             "--locale=C", "--no-sync", "--no-instructions"],
        )  # fmt: skip
        self._configure()

    def _configure(self) -> None:
        # Throwaway data: no fsync (the client-side spool is what the fault tests are about).
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": "''",
            "fsync": "off",
            "full_page_writes": "off",
            "max_connections": "50",
            "shared_buffers": "32MB",
            "logging_collector": "off",
        }
        conf = "".join(f"{k} = {v}\n" for k, v in settings.items())
        (self.data_dir / "postgresql.auto.conf").write_text(conf, encoding="utf-8")

    def start(self) -> None:
        """Start the server and wait until it accepts connections.

        Before the first start the port may still change: other test runs on the machine pick
        free ports the same way, so a port taken meanwhile means trying the next free one.
        Once started, the server keeps its port (clients hold its URL).
        """
        lost_race = False
        for attempt in range(3):
            if lost_race or port_in_use(self.port):
                if self._started:
                    raise PgServerError(f"port {self.port} on 127.0.0.1 was taken meanwhile")
                self.port = free_port(self.port + 1)
                self._configure()
            try:
                self._pg_ctl("start", "-l", str(self.log_file))
                break
            except PgServerError as exc:
                lost_race = "could not bind" in str(exc) or "already in use" in str(exc)
                if self._started or not lost_race or attempt == 2:
                    raise
        self._started = True
        if not port_in_use(self.port):
            raise PgServerError(
                f"pg_ctl start returned but nothing listens on port {self.port}" + self._log_tail()
            )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: roll back open transactions, close connections) and
        wait until it is gone."""
        self._pg_ctl("stop", "-m", mode)

    def running(self) -> bool:
        if self.base is None or not self.data_dir.is_dir():
            return False
        done = self._exec("pg_ctl", ["status", "-D", str(self.data_dir)])
        return done.returncode == 0

    def destroy(self) -> None:
        """Stop the server if it runs and delete its directory. Safe to call twice."""
        if self.base is None:
            return
        atexit.unregister(self.destroy)
        try:
            if self.running():
                with contextlib.suppress(PgServerError):
                    self.stop("fast")
            if self.running():
                with contextlib.suppress(PgServerError):
                    self.stop("immediate")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)
            self.base = None

    def __enter__(self) -> PgServer:
        try:
            self.create()
            self.start()
        except BaseException:
            self.destroy()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.destroy()

    # -- helpers -----------------------------------------------------------------------------

    def _pg_ctl(self, action: str, *extra: str) -> None:
        args = [action, "-D", str(self.data_dir), "-w", "-t", str(TIMEOUT_S), *extra]
        self._run("pg_ctl", args)

    def _exec(self, program: str, args: list[str]) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bin / program), *args]
        if self._as_owner:
            cmd = ["runuser", "-u", OWNER, "--", *cmd]
        try:
            return subprocess.run(
                cmd,
                cwd=self._base(),  # the owner must be able to enter its working directory
                capture_output=True,
                text=True,
                timeout=TIMEOUT_S + 15,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PgServerError(f"{' '.join(cmd)}: {exc}{self._log_tail()}") from exc

    def _run(self, program: str, args: list[str]) -> None:
        done = self._exec(program, args)
        if done.returncode != 0:
            output = (done.stderr.strip() or done.stdout.strip() or "(no output)")[-2000:]
            what = f"{program} {args[0]}" if program == "pg_ctl" else program
            raise PgServerError(
                f"{what} failed (exit status {done.returncode}): {output}" + self._log_tail()
            )

    def _log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
        except (OSError, PgServerError):
            return ""
        tail = "\n".join(text.splitlines()[-lines:])
        return f"\n--- server log ({self.log_file}) ---\n{tail}" if tail else ""
