"""SQLAlchemy schema of the ticket store's call records, and CallRecord <-> row conversion.

The Alembic migrations in ``migrations/versions`` are the schema's source of truth for the
database; this module must describe the same schema (a test compares the two).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

from hotline.calls.records import CallOutcome, CallRecord

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


_OUTCOMES = ", ".join(f"'{o.value}'" for o in CallOutcome)


class CallRecordRow(Base):
    """One finished call; columns mirror :class:`hotline.calls.records.CallRecord` one to one."""

    __tablename__ = "call_records"
    __table_args__ = (
        CheckConstraint(f"outcome IN ({_OUTCOMES})", name="outcome"),
        Index("ix_call_records_arrived_at", "arrived_at"),
        Index("ix_call_records_outcome_arrived_at", "outcome", "arrived_at"),
    )

    unique_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    linked_id: Mapped[str] = mapped_column(String(64), index=True)
    caller: Mapped[str] = mapped_column(String(255))
    dialled: Mapped[str] = mapped_column(String(255))
    arrived_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime())
    outcome: Mapped[str] = mapped_column(String(32))
    ivr_exit_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    agent_id: Mapped[str | None] = mapped_column(String(64))
    ivr_path: Mapped[str] = mapped_column(Text)
    skill: Mapped[str] = mapped_column(String(64))
    hangup_cause: Mapped[str] = mapped_column(String(255))
    speech_text: Mapped[str] = mapped_column(Text, server_default="")
    """What the caller said to the IVR, as recognised (empty: no speech intake)."""
    # Derived, but stored so service-level reports (answered within 15 s, ...) are plain SQL.
    wait_s: Mapped[float | None] = mapped_column(Float)
    # When the row reached the database: later than ended_at if the record waited in the spool.
    written_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CallbackAttemptRow(Base):
    """One attempt to call a citizen back (an accepted callback or a missed call, 漏接回拨),
    under the call record of the call it answers (``call_id`` = that call's unique id)."""

    __tablename__ = "callback_attempts"
    __table_args__ = (UniqueConstraint("call_id", "attempt"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(64), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    agent_id: Mapped[str] = mapped_column(String(64))
    number: Mapped[str] = mapped_column(String(32))
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    outcome: Mapped[str] = mapped_column(String(24))
    """placed (in progress), connected, failed (the citizen did not answer), agent_no_answer."""
    reason: Mapped[str] = mapped_column(String(200))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


def row_values(record: CallRecord, written_at: datetime | None = None) -> dict[str, Any]:
    """Column values for an INSERT of ``record`` (``written_at`` defaults to now)."""
    return {
        "unique_id": record.unique_id,
        "linked_id": record.linked_id,
        "caller": record.caller,
        "dialled": record.dialled,
        "arrived_at": record.arrived_at,
        "ended_at": record.ended_at,
        "outcome": CallOutcome(record.outcome).value,
        "ivr_exit_at": record.ivr_exit_at,
        "queued_at": record.queued_at,
        "answered_at": record.answered_at,
        "agent_id": record.agent_id,
        "ivr_path": record.ivr_path,
        "skill": record.skill,
        "hangup_cause": record.hangup_cause,
        "speech_text": record.speech_text,
        "wait_s": record.wait_s,
        "written_at": written_at or datetime.now(UTC),
    }


def row_from_record(record: CallRecord, written_at: datetime | None = None) -> CallRecordRow:
    return CallRecordRow(**row_values(record, written_at))


def record_from_row(row: CallRecordRow) -> CallRecord:
    return CallRecord(
        unique_id=row.unique_id,
        linked_id=row.linked_id,
        caller=row.caller,
        dialled=row.dialled,
        arrived_at=row.arrived_at,
        ended_at=row.ended_at,
        outcome=CallOutcome(row.outcome),
        ivr_exit_at=row.ivr_exit_at,
        queued_at=row.queued_at,
        answered_at=row.answered_at,
        agent_id=row.agent_id,
        ivr_path=row.ivr_path,
        skill=row.skill,
        hangup_cause=row.hangup_cause,
        speech_text=row.speech_text,
    )


# The work-order tables share this metadata, so Alembic and schema checks always see them.
from hotline.desk import models as _user_models  # noqa: E402, F401  (desktop users, 0004)
from hotline.recordings import models as _recording_models  # noqa: E402, F401  (recordings, 0009)
from hotline.tickets import models as _ticket_models  # noqa: E402, F401
