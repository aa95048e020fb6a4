"""SQLAlchemy schema of the desktop's tables: user accounts (migration ``0004_users``) and the
steps of calls handled from the desktop and the knowledge base's articles (``0008_call_steps``).

Registered on the ticket store's metadata (``hotline.calls.models`` imports this module) so that one
Alembic history and one schema check cover every table.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, CheckConstraint, Date, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hotline.calls.models import Base, UTCDateTime

ROLE_CHECK = "role IN ('agent', 'supervisor', 'reviewer', 'unit', 'admin')"


class UserRow(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(ROLE_CHECK, name="role"),)

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    agent_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    unit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


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


class KbArticleRow(Base):
    """A knowledge-base article: what the agent reads out, who owns it, when it is next checked."""

    __tablename__ = "kb_articles"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    owner_unit: Mapped[str] = mapped_column(String(64))
    review_date: Mapped[date] = mapped_column(Date)
    """The owner unit checks the article by this day; after it the desktop flags it stale."""
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
