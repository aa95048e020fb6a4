"""SQLAlchemy schema of the call records, and CallRecord <-> row conversion.

The Alembic migrations in ``migrations/versions`` are the schema's source of truth for the
database; this module must describe the same schema (a test compares the two).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from hotline.base.db import Base, UTCDateTime
from hotline.calls.records import CallOutcome, CallRecord

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
    satisfaction: Mapped[str] = mapped_column(String(16), server_default="")
    """一次一评 (0012): satisfied, basic, unsatisfied, none, or empty (not asked)."""
    linkage: Mapped[str] = mapped_column(String(16), server_default="")
    double_non: Mapped[bool] = mapped_column(Boolean, server_default=false())
    node: Mapped[str] = mapped_column(String(16), server_default="")
    """The cluster node that held the call ("" with one Asterisk)."""
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
        "satisfaction": record.satisfaction,
        "linkage": record.linkage,
        "double_non": record.double_non,
        "node": record.node,
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
        satisfaction=row.satisfaction or "",
        linkage=row.linkage or "",
        double_non=bool(row.double_non),
        node=row.node,
    )
