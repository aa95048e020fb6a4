"""The call-record store: idempotent inserts, and a durable spool for when the database is away.

A finished call must never be lost: when the database cannot take a record it goes to a JSON
file in the spool directory (written atomically and fsynced), and ``flush_spool`` moves it into
the database later. Inserts are idempotent on ``unique_id``, so a record written twice (a retry,
a replayed event, a spool flushed after the row already arrived) leaves exactly one row.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import threading
import weakref
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, unquote

from sqlalchemy import Engine, create_engine, event, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, SQLAlchemyError, StatementError
from sqlalchemy.orm import Session

from hotline.base.durable import fsync_dir, keep_aside, write_durably
from hotline.calls.models import CallbackAttemptRow, CallRecordRow, record_from_row, row_values
from hotline.calls.records import CallRecord

log = logging.getLogger(__name__)

WriteResult = Literal["written", "duplicate", "spooled"]

_BACKENDS = ("postgresql", "sqlite")
_MAX_NAME = 200  # below the usual 255-byte file name limit, with room for the suffixes


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
    return create_engine(parsed, pool_pre_ping=True, connect_args=connect_args, **kwargs)


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
        conn.exec_driver_sql("BEGIN IMMEDIATE")


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


def spool_name(unique_id: str) -> str:
    """File name for ``unique_id``: injective, no path separators, never hidden, never too long."""
    name = quote(unique_id, safe="-_.")
    if name.startswith("."):  # ".", ".." and hidden files
        name = "%2E" + name[1:]
    if len(name) > _MAX_NAME:
        # "%H" never comes out of quote() (it emits % plus two hex digits), so no clash.
        name = "%H" + hashlib.sha256(unique_id.encode()).hexdigest()
    return name + ".json"


def _permanent(exc: Exception) -> bool:
    """True when retrying cannot help: the record itself is bad, not the database."""
    if isinstance(exc, IntegrityError | DataError):
        return True
    # A StatementError that is not a DBAPIError failed before reaching the database: a value
    # the column type refused (for example a naive datetime).
    return isinstance(exc, StatementError) and not isinstance(exc, DBAPIError)


class CallRecordStore:
    def __init__(self, url: str, spool_dir: Path | str) -> None:
        self.url = url
        self.spool_dir = Path(spool_dir)
        self.bad_dir = self.spool_dir / "bad"
        self._lease = lease_engine(url)
        self._engine = self._lease.engine
        # The flusher task and an explicit flush() may overlap; one pass at a time.
        self._flush_lock = threading.Lock()
        # Built once: compiling the statement per call cost more than the write itself.
        dialect_insert = (
            postgresql.insert if self._engine.dialect.name == "postgresql" else sqlite.insert
        )
        self._insert = (
            dialect_insert(CallRecordRow)
            .on_conflict_do_nothing(index_elements=["unique_id"])
            .returning(CallRecordRow.unique_id)
        )
        if self._engine.dialect.name == "sqlite":
            self._writer = self._engine
        else:
            # One INSERT is its own transaction: autocommit saves the BEGIN/COMMIT round trips.
            self._writer = self._engine.execution_options(isolation_level="AUTOCOMMIT")

    def write(self, record: CallRecord) -> WriteResult:
        try:
            with self._writer.begin() as conn:
                inserted = self._insert_one(conn, record)
        except Exception as exc:
            # Whatever went wrong, keep the record: a database outage is retried by
            # flush_spool, a record the database refuses ends up in bad/ for a person to see.
            log.warning("call record %s spooled: %s", record.unique_id, exc)
            self._spool(record)
            return "spooled"
        return "written" if inserted else "duplicate"

    def _insert_one(self, conn: Connection, record: CallRecord) -> bool:
        """INSERT ... ON CONFLICT DO NOTHING; True if a row was inserted, False if it was there.

        RETURNING tells the two apart; rowcount does not (psycopg reports -1 for INSERT unless
        SQLAlchemy is asked to preserve it).
        """
        return conn.execute(self._insert, row_values(record)).first() is not None

    # -- callback attempts (each on the call record of the call it answers) ----------------
    def attempt_placed(
        self, call_id: str, attempt: int, agent_id: str, number: str, at: datetime
    ) -> None:
        dialect_insert = (
            postgresql.insert if self._engine.dialect.name == "postgresql" else sqlite.insert
        )
        stmt = (
            dialect_insert(CallbackAttemptRow)
            .values(
                call_id=call_id,
                attempt=attempt,
                agent_id=agent_id,
                number=number,
                placed_at=at,
                outcome="placed",
                reason="",
            )
            .on_conflict_do_nothing(index_elements=["call_id", "attempt"])
        )
        with self._writer.begin() as conn:
            conn.execute(stmt)

    def attempt_result(
        self, call_id: str, attempt: int, outcome: str, reason: str, at: datetime
    ) -> None:
        stmt = (
            update(CallbackAttemptRow)
            .where(CallbackAttemptRow.call_id == call_id, CallbackAttemptRow.attempt == attempt)
            .values(outcome=outcome, reason=reason[:200], ended_at=at)
        )
        with self._writer.begin() as conn:
            conn.execute(stmt)

    def attempts(self, call_id: str) -> list[dict[str, Any]]:
        stmt = (
            select(CallbackAttemptRow)
            .where(CallbackAttemptRow.call_id == call_id)
            .order_by(CallbackAttemptRow.attempt)
        )
        with Session(self._engine) as session:
            return [
                {
                    "attempt": r.attempt,
                    "agent_id": r.agent_id,
                    "number": r.number,
                    "placed_at": r.placed_at,
                    "outcome": r.outcome,
                    "reason": r.reason,
                    "ended_at": r.ended_at,
                }
                for r in session.scalars(stmt)
            ]

    def get(self, unique_id: str) -> CallRecord | None:
        with Session(self._engine) as session:
            row = session.get(CallRecordRow, unique_id)
            return None if row is None else record_from_row(row)

    def list_between(self, start: datetime, end: datetime) -> list[CallRecord]:
        """Calls that arrived in ``[start, end)`` (aware datetimes), oldest first."""
        stmt = (
            select(CallRecordRow)
            .where(CallRecordRow.arrived_at >= start, CallRecordRow.arrived_at < end)
            .order_by(CallRecordRow.arrived_at, CallRecordRow.unique_id)
        )
        with Session(self._engine) as session:
            return [record_from_row(row) for row in session.scalars(stmt)]

    def dispose(self) -> None:
        self._lease.release()

    # -- spool -------------------------------------------------------------------------------

    def _spool(self, record: CallRecord) -> None:
        if not self.spool_dir.is_dir():
            self.spool_dir.mkdir(parents=True, exist_ok=True)
            fsync_dir(self.spool_dir.parent)
        data = json.dumps(record.to_json(), ensure_ascii=False, indent=1).encode()
        # After a crash the spool holds either the whole record or no file for it.
        write_durably(self.spool_dir / spool_name(record.unique_id), data)

    def _spool_files(self) -> list[Path]:
        # Hidden names are temp files still being written (or left by a crash): not records yet.
        if not self.spool_dir.is_dir():
            return []
        return sorted(
            p
            for p in self.spool_dir.iterdir()
            if p.suffix == ".json" and not p.name.startswith(".") and p.is_file()
        )

    def spooled(self) -> list[str]:
        """Unique ids of the records waiting in the spool."""
        ids = []
        for path in self._spool_files():
            if path.name.startswith("%H"):  # hashed long id: the file holds the real one
                try:
                    ids.append(str(json.loads(path.read_bytes())["unique_id"]))
                    continue
                except (OSError, ValueError, KeyError, TypeError):
                    pass
            ids.append(unquote(path.stem))
        return ids

    def flush_spool(self) -> int:
        """Write spooled records to the database; returns how many left the spool that way.

        A file is deleted only after its row is committed (a duplicate counts: the row is
        there). A file that cannot be a record goes to ``bad/``. A database outage ends the
        pass early; the remaining files wait for the next one.
        """
        with self._flush_lock:
            files = self._spool_files()
            if not files:  # nothing to do: do not even knock on a database that may be down
                return 0
            flushed = 0
            try:
                with self._engine.connect() as conn:
                    for path in files:
                        if self._flush_one(conn, path):
                            flushed += 1
            except SQLAlchemyError as exc:
                left = len(self._spool_files())
                log.warning("ticket store unavailable, %d records stay spooled: %s", left, exc)
            return flushed

    def _flush_one(self, conn: Connection, path: Path) -> bool:
        try:
            record = CallRecord.from_json(json.loads(path.read_bytes()))
        except FileNotFoundError:  # flushed or moved meanwhile
            return False
        except OSError as exc:  # unreadable (permissions?): leave it, go on with the others
            log.error("spooled call record %s cannot be read: %s", path, exc)
            return False
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            self._move_to_bad(path, f"not a call record: {exc!r}")
            return False
        try:
            with conn.begin():
                self._insert_one(conn, record)
        except SQLAlchemyError as exc:
            if not _permanent(exc):
                raise
            self._move_to_bad(path, f"refused by the store: {exc}")
            return False
        path.unlink(missing_ok=True)
        return True

    def _move_to_bad(self, path: Path, reason: str) -> None:
        target = keep_aside(path, self.bad_dir)
        fsync_dir(self.spool_dir)
        log.error("spooled call record %s moved to %s: %s", path.name, target, reason)
