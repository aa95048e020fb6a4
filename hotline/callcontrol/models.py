"""SQLAlchemy schema of the steps of calls taken from the desktop (migration ``0008_call_steps``).

On the one metadata (``hotline.base.db.Base``); ``hotline.app.registry`` registers it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hotline.base.db import Base, UTCDateTime


class CallStepRow(Base):
    """One step of a call taken from the desktop (hold, transfer, three-way ...), in order."""

    __tablename__ = "call_steps"
    __table_args__ = (Index("ix_call_steps_call_id", "call_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    agent_id: Mapped[str] = mapped_column(String(64))
    step: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text)
    """JSON object: the step's particulars (department number, emergency number, spy mode ...)."""
