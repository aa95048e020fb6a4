"""The database: one SQLAlchemy engine per URL in a process, the declarative base of every model.

Every store leases the process's engine for its URL (``lease_engine``), so one process holds one
connection pool per database, whatever number of stores it builds. ``Base`` carries the naming
convention and ``UTCDateTime`` the one way an instant is stored; each feature declares its own
tables on it (``<feature>/models.py``), and ``hotline.app.registry`` imports them all for Alembic.
The call-record store that lived here is ``hotline.calls.store``.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import weakref
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect, Engine, MetaData, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator, TypeEngine

log = logging.getLogger(__name__)

_BACKENDS = ("postgresql", "sqlite")


_engine_numbers = itertools.count(1)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine that notices a dead database quickly instead of hanging a call's write.

    Stores do not call this: they lease the process's one engine for their URL
    (``lease_engine``). It is for short-lived engines of their own (migrations, tests, tools).
    On PostgreSQL every engine names its connections ``hotline[<pid>]#<n>`` (n counts the
    engines this process made), so ``pg_stat_activity`` shows which process and which pool each
    connection belongs to, and a second pool in one process stands out."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in _BACKENDS:
        raise ValueError(f"database.url: {backend!r} is not supported (use sqlite or postgresql)")
    if parsed.drivername == "postgresql":
        # psycopg 3 is the driver we ship; SQLAlchemy's default for plain postgresql:// is
        # psycopg2, which is not installed.
        parsed = parsed.set(drivername="postgresql+psycopg")
    connect_args: dict[str, Any] = {"timeout": 5}
    if backend == "postgresql":
        connect_args = {"connect_timeout": 3}
        if "application_name" not in parsed.query:  # the operator's own name wins
            connect_args["application_name"] = f"hotline[{os.getpid()}]#{next(_engine_numbers)}"
    # A SQLite file has no connection to lose: a ping per checkout is a query per query
    # (3 % of the engine's CPU at 300 calls up, py-spy).
    ping = backend != "sqlite"
    return create_engine(parsed, pool_pre_ping=ping, connect_args=connect_args, **kwargs)


READ_ONLY = "hotline_read_only"
"""Execution option: this transaction only reads (``engine.execution_options(**{READ_ONLY:
True})``); on SQLite it begins deferred instead of taking the write lock."""


def _sqlite_rules(engine: Engine) -> None:
    """SQLite in WAL mode (one fsync per commit, readers never block the writer), foreign keys
    enforced as PostgreSQL does, and every transaction taking the write lock at BEGIN, so two
    writers queue on the busy timeout instead of failing with "database is locked" halfway
    through (a deferred transaction that reads, then writes, cannot wait for the lock).

    Registered once per engine: the listeners apply to every connection of its pool."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # A transaction that only reads never upgrades to a writer: it need not queue for the
        # write lock behind every recording row and call record (WAL readers see the last
        # commit). At 300 calls up the ticket look-ups per call waited there (issue 15).
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


class _Shared:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.leases = 0


_shared_lock = threading.Lock()
# Weak: the leases hold their _Shared. A store dropped without dispose() lets its engine go with
# it, as an engine of its own did; the registry never keeps a forgotten pool alive.
_shared: weakref.WeakValueDictionary[str, _Shared] = weakref.WeakValueDictionary()


def _url_key(url: str) -> str:
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)  # a key in memory, never shown


class EngineLease:
    """A store's share of the process's one engine for a URL. ``release`` (idempotent) gives it
    back; the engine and its pool close when the last store of the URL has released it, so one
    store's ``dispose`` never pulls the connections from under another."""

    def __init__(self, key: str, shared: _Shared) -> None:
        self._key = key
        self._shared = shared
        self.engine = shared.engine
        self._released = False

    def release(self) -> None:
        shared = self._shared
        with _shared_lock:
            if self._released:
                return
            self._released = True
            shared.leases -= 1
            if shared.leases:
                return
            if _shared.get(self._key) is shared:
                del _shared[self._key]
        shared.engine.dispose()


def lease_engine(url: str) -> EngineLease:
    """The one engine (one connection pool) this process keeps for ``url``, made on first use.

    Every store of the process goes through here: seven stores on one PostgreSQL URL used to
    open seven pools. On SQLite the connection rules (``_sqlite_rules``) come with the engine,
    the same for every store sharing the file."""
    key = _url_key(url)
    with _shared_lock:
        shared = _shared.get(key)
        if shared is None:
            engine = make_engine(url)
            if engine.dialect.name == "sqlite":
                _sqlite_rules(engine)
            shared = _Shared(engine)
            _shared[key] = shared
        shared.leases += 1
        return EngineLease(key, shared)


def shared_engine_count() -> int:
    """How many shared engines the process holds now (one per database URL in use)."""
    with _shared_lock:
        return len(_shared)


# Deterministic constraint names: SQLite batch migrations can only drop or alter a constraint
# that has a name, and the same name on both back ends keeps one migration valid for both.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware instant, always read back as UTC, on SQLite and PostgreSQL alike.

    PostgreSQL stores ``timestamptz`` (an absolute instant, so reports run in psql under any
    session time zone stay right). SQLite has no time zone type and silently drops tzinfo, so
    values go in as naive UTC and get UTC attached on the way out. Naive input is refused:
    "10:00" without a zone is ambiguous (UTC or Beijing time) and guessing corrupts reports.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(DateTime(timezone=True))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} refused: attach a time zone")
        utc = value.astimezone(UTC)
        return utc if dialect.name == "postgresql" else utc.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
