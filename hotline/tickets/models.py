"""SQLAlchemy schema of the work orders (工单), on the same metadata as the call records.

Migration ``0002_tickets`` creates exactly this (a test compares them on SQLite and PostgreSQL).

* ``tickets``: one row per order, holding its current lifecycle snapshot and deadlines; updated
  in the same transaction that appends the event that changed it.
* ``ticket_events``: the append-only history, one row per transition (``UNIQUE(ticket_id,
  seq)`` also refuses a second writer appending the same step). ``due_at`` is the reply
  deadline in force when the event happened: closures are judged on time against it.
* ``ticket_units``: the current lead unit (主办) and co-units (协办), queried for "tickets
  dispatched to unit X".
* ``ticket_calls`` / ``ticket_recordings``: linked call records (by Asterisk unique id; no
  foreign key, because a ticket is created during the call and its record is written at
  hang-up) and recordings.
* ``ticket_day_counters``: the daily sequence of ticket numbers, one row per day, bumped with an
  upsert inside the creating transaction (safe under concurrent creation on both databases).
* ``dispatch_catalogues``: imported dispatch catalogues (0011), the newest in force.
* ``supervision_notices``: 督办 notices; ``UNIQUE(ticket_id, reason, due_at)`` makes issuing
  them again for the same missed deadline a no-op.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.calls.models import Base, UTCDateTime
from hotline.tickets.lifecycle import SURVEY_OUTCOMES, TicketState
from hotline.tickets.values import TICKET_CATEGORIES, Channel, HandlingType


def _in(column: str, values: Any) -> str:
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


class TicketRow(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        CheckConstraint(_in("category", TICKET_CATEGORIES), name="category"),
        CheckConstraint(_in("channel", Channel), name="channel"),
        CheckConstraint(_in("handling_type", HandlingType), name="handling_type"),
        CheckConstraint(_in("state", TicketState), name="state"),
        CheckConstraint(_in("survey_outcome", SURVEY_OUTCOMES), name="survey_outcome"),
        Index("ix_tickets_address_key_subject_code", "address_key", "subject_code"),
        Index("ix_tickets_state_reply_due_at", "state", "reply_due_at"),
        Index("ix_tickets_subject_code_area_created_at", "subject_code", "area", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(15), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    created_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    category: Mapped[str] = mapped_column(String(16))
    handling_type: Mapped[str] = mapped_column(String(16))
    subject_code: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(16))
    caller_name: Mapped[str] = mapped_column(String(64))
    caller_number: Mapped[str] = mapped_column(String(32), index=True)
    contact: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(200))
    address_key: Mapped[str] = mapped_column(String(200))
    about_unit: Mapped[str] = mapped_column(String(64))
    confidential: Mapped[bool] = mapped_column(Boolean)
    key_item: Mapped[bool] = mapped_column(Boolean)
    key_group: Mapped[str | None] = mapped_column(String(15), index=True)
    # The lifecycle snapshot (hotline.tickets.lifecycle.TicketSnapshot), co_units in ticket_units.
    state: Mapped[str] = mapped_column(String(24))
    unit: Mapped[str | None] = mapped_column(String(64))
    extension_days: Mapped[int] = mapped_column(Integer)
    pending_extension_days: Mapped[int] = mapped_column(Integer)
    survey_attempts: Mapped[int] = mapped_column(Integer)
    survey_outcome: Mapped[str | None] = mapped_column(String(24))  # 16 before 0011
    reopen_count: Mapped[int] = mapped_column(Integer)
    last_event_seq: Mapped[int] = mapped_column(Integer)
    # Deadlines, set by the service from the DeadlinePolicy when the order moves.
    last_contact_at: Mapped[datetime] = mapped_column(UTCDateTime())
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    return_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reply_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    onsite_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    callback_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A deadline above was counted across a day of a provisional calendar year (0010).
    deadline_provisional: Mapped[bool] = mapped_column(Boolean, server_default=false())
    # Disputes, merging, survey answers and the catalogue's area (0011).
    survey_solved: Mapped[bool | None] = mapped_column(Boolean)
    dispute_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    disputed: Mapped[bool] = mapped_column(Boolean, server_default=false())
    merged_into: Mapped[str | None] = mapped_column(String(15), index=True)
    area: Mapped[str] = mapped_column(String(32), server_default="")

    units: Mapped[list[TicketUnitRow]] = relationship(
        lazy="selectin", order_by="TicketUnitRow.position", cascade="all, delete-orphan"
    )
    calls: Mapped[list[TicketCallRow]] = relationship(
        lazy="selectin", order_by="TicketCallRow.linked_at", cascade="all, delete-orphan"
    )
    recordings: Mapped[list[TicketRecordingRow]] = relationship(
        lazy="selectin", order_by="TicketRecordingRow.recording", cascade="all, delete-orphan"
    )


class TicketUnitRow(Base):
    __tablename__ = "ticket_units"
    __table_args__ = (CheckConstraint("role IN ('lead', 'co')", name="role"),)

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), primary_key=True)
    unit: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(4))
    position: Mapped[int] = mapped_column(Integer)  # 0 lead, then co-units in dispatch order


class TicketEventRow(Base):
    __tablename__ = "ticket_events"
    __table_args__ = (
        UniqueConstraint("ticket_id", "seq"),
        Index("ix_ticket_events_action_at", "action", "at"),
        Index("ix_ticket_events_unit_action_at", "unit", "action", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    seq: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    from_state: Mapped[str] = mapped_column(String(24))
    to_state: Mapped[str] = mapped_column(String(24))
    action: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The lead unit the event concerns (the new one for a dispatch), for per-unit figures.
    unit: Mapped[str | None] = mapped_column(String(64))
    # The sign-for/return deadline in force when the event happened (响应率).
    respond_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class TicketCallRow(Base):
    __tablename__ = "ticket_calls"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), primary_key=True)
    unique_id: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TicketRecordingRow(Base):
    __tablename__ = "ticket_recordings"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), primary_key=True)
    recording: Mapped[str] = mapped_column(String(255), primary_key=True)


class DayCounterRow(Base):
    __tablename__ = "ticket_day_counters"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer)


class NoticeRow(Base):
    __tablename__ = "supervision_notices"
    __table_args__ = (
        UniqueConstraint("ticket_id", "reason", "due_at"),
        CheckConstraint("reason IN ('overdue', 'reopened')", name="reason"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    unit: Mapped[str] = mapped_column(String(64), index=True)
    reason: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    issued_by: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text)


class CalendarYearRow(Base):
    """A year's official holiday arrangement imported by an operator (``hotline calendar
    import``): the validated file itself, parsed again on load (hotline.calendar.file)."""

    __tablename__ = "calendar_years"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    text: Mapped[str] = mapped_column(Text)
    origin: Mapped[str] = mapped_column(String(200))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    imported_by: Mapped[str] = mapped_column(String(64))


class CatalogueRow(Base):
    """An imported dispatch catalogue (派单目录, ``hotline catalogue import``): the validated
    file itself, parsed again on load (tickets.catalogue); the newest row is in force."""

    __tablename__ = "dispatch_catalogues"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    origin: Mapped[str] = mapped_column(String(200))
    entries: Mapped[int] = mapped_column(Integer)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    imported_by: Mapped[str] = mapped_column(String(64))
