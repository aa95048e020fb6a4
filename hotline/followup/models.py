"""Tables of the follow-up work around a call (migration 0012): emergency handoffs (110/119/120/122
linkage, both ways) and automated survey calls (回访) of tickets.

Registered on the ticket store's metadata (``tickets.models`` imports this module) so that one
schema check covers them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hotline.base.db import Base, UTCDateTime


class HandoffRow(Base):
    """One handoff with an emergency service: out (the IVR's or an agent's transfer, a three-way
    call with the service) or in (a call 110 transferred to 12345)."""

    __tablename__ = "handoffs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(64), index=True)
    direction: Mapped[str] = mapped_column(String(3))
    """out: 12345 handed the caller to the service; in: the service handed the caller to 12345."""
    service: Mapped[str] = mapped_column(String(8))
    """110, 119, 120 or 122."""
    kind: Mapped[str] = mapped_column(String(24))
    """ivr_emergency, emergency_transfer, threeway, from_110."""
    agent_id: Mapped[str] = mapped_column(String(64))
    """Who handed over (an agent id; "ivr" when the IVR did)."""
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    reason: Mapped[str] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(24))
    """pending until the leg ends; then answered, no_answer, busy, failed, cancelled."""
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    double_non: Mapped[bool] = mapped_column(Boolean, default=False)
    """Calls in from 110: 双非 (neither an emergency nor a police matter)."""


class SurveyCallRow(Base):
    """One automated survey call of a ticket (一事一评 by phone)."""

    __tablename__ = "survey_calls"
    __table_args__ = (UniqueConstraint("ticket", "attempt"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket: Mapped[str] = mapped_column(String(32), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(32))
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    outcome: Mapped[str] = mapped_column(String(24))
    """placed, answered (keys given), incomplete (hung up or no keys), no_answer, busy, failed."""
    satisfaction: Mapped[str] = mapped_column(String(16), default="")
    solved: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
