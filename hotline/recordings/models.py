"""SQLAlchemy schema of the recordings store (migration ``0009_recordings`` creates exactly this).

* ``recordings``: one row per audio file (an answered call's agent leg, a voicemail message, a
  three-way leg), linked to its call by Asterisk unique id (no foreign key: the row is written
  while the call is live, its call record at hang-up). A purged file keeps its row, with
  ``deleted_at`` and ``delete_reason``: the record that it existed and when it went.
* ``playbacks``: every time someone was served (part of) a recording: who, in which role,
  when, which bytes.
* ``quality_scores`` (质检): one reviewer's scores of one recording against the checklist;
  ``items`` holds each item's score, ``score`` the weighted result in percent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from hotline.calls.models import Base, UTCDateTime

KINDS = ("call", "voicemail", "threeway")


class RecordingRow(Base):
    __tablename__ = "recordings"
    __table_args__ = (
        CheckConstraint("kind IN ('call', 'voicemail', 'threeway')", name="kind"),
        UniqueConstraint("path"),
        Index("ix_recordings_started_at", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(String(512))
    """Relative to the store's roots: ``calls/YYYY/MM/DD/<call>-<agent>.wav``,
    ``voicemail/<file>.wav`` (see ``hotline.recordings.files``)."""
    call_id: Mapped[str] = mapped_column(String(64), index=True)
    agent_id: Mapped[str | None] = mapped_column(String(64))
    ticket_number: Mapped[str | None] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delete_reason: Mapped[str | None] = mapped_column(String(200))


class PlaybackRow(Base):
    __tablename__ = "playbacks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id"), index=True)
    user_name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    played_at: Mapped[datetime] = mapped_column(UTCDateTime())
    byte_range: Mapped[str] = mapped_column(String(64))
    """``bytes=a-b`` as served (``all`` for the whole file)."""


class QualityScoreRow(Base):
    __tablename__ = "quality_scores"
    __table_args__ = (
        UniqueConstraint("recording_id", "reviewer"),
        Index("ix_quality_scores_agent_id_scored_at", "agent_id", "scored_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id"))
    agent_id: Mapped[str] = mapped_column(String(64))
    reviewer: Mapped[str] = mapped_column(String(64))
    scored_at: Mapped[datetime] = mapped_column(UTCDateTime())
    score: Mapped[float] = mapped_column(Float)
    items: Mapped[dict[str, Any]] = mapped_column(JSON)
    comment: Mapped[str] = mapped_column(Text)
