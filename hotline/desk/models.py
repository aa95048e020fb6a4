"""SQLAlchemy schema of the desktop's user accounts (migration ``0004_users``).

On the one metadata (``hotline.base.db.Base``); ``hotline.app.registry`` imports every feature's
models so that one Alembic history and one schema check cover every table.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from hotline.base.db import Base, UTCDateTime

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
