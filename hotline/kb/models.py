"""SQLAlchemy schema of the knowledge base's articles (migration ``0008_call_steps``).

On the one metadata (``hotline.base.db.Base``); ``hotline.app.registry`` registers it.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hotline.base.db import Base, UTCDateTime


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
