"""The recordings tables (``hotline.recordings.models``) on SQLite or PostgreSQL: plain, blocking
calls.

Call these from a worker thread in the engine (``asyncio.to_thread``). Adding a recording is
idempotent on its path: a replayed AMI event or a retried voicemail leaves one row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, Engine, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hotline.base.db import EngineLease, lease_engine
from hotline.recordings.models import KINDS, PlaybackRow, QualityScoreRow, RecordingRow
from hotline.recordings.retention import Held


class RecordingNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Recording:
    id: int
    kind: str
    path: str
    call_id: str
    agent_id: str | None
    ticket_number: str | None
    started_at: datetime
    ended_at: datetime | None
    size_bytes: int | None
    deleted_at: datetime | None
    delete_reason: str | None

    def to_json(self) -> dict[str, Any]:
        def iso(t: datetime | None) -> str | None:
            return t.isoformat() if t is not None else None

        return {
            "id": self.id,
            "kind": self.kind,
            "path": self.path,
            "call_id": self.call_id,
            "agent_id": self.agent_id,
            "ticket_number": self.ticket_number,
            "started_at": iso(self.started_at),
            "ended_at": iso(self.ended_at),
            "size_bytes": self.size_bytes,
            "deleted_at": iso(self.deleted_at),
            "delete_reason": self.delete_reason,
        }


@dataclass(frozen=True)
class Playback:
    recording_id: int
    user_name: str
    role: str
    played_at: datetime
    byte_range: str


def _recording(row: RecordingRow) -> Recording:
    return Recording(
        id=row.id,
        kind=row.kind,
        path=row.path,
        call_id=row.call_id,
        agent_id=row.agent_id,
        ticket_number=row.ticket_number,
        started_at=row.started_at,
        ended_at=row.ended_at,
        size_bytes=row.size_bytes,
        deleted_at=row.deleted_at,
        delete_reason=row.delete_reason,
    )


class RecordingStore:
    def __init__(self, url: str | Engine) -> None:
        # A URL: the process's one engine for it (hotline.base.db.lease_engine).
        self._lease: EngineLease | None = None
        if isinstance(url, str):
            self._lease = lease_engine(url)
            url = self._lease.engine
        self.engine = url

    def dispose(self) -> None:
        if self._lease is not None:
            self._lease.release()
        else:
            self.engine.dispose()

    # -- recordings -------------------------------------------------------------------------

    def add(
        self,
        kind: str,
        path: str,
        call_id: str,
        started_at: datetime,
        *,
        agent_id: str | None = None,
        ticket_number: str | None = None,
        ended_at: datetime | None = None,
        size_bytes: int | None = None,
    ) -> Recording:
        if kind not in KINDS:
            raise ValueError(f"recording kind {kind!r} is not one of {', '.join(KINDS)}")
        existing = self.by_path(path)
        if existing is not None:
            return existing
        row = RecordingRow(
            kind=kind,
            path=path,
            call_id=call_id,
            agent_id=agent_id,
            ticket_number=ticket_number,
            started_at=started_at,
            ended_at=ended_at,
            size_bytes=size_bytes,
        )
        try:
            with Session(self.engine) as session, session.begin():
                session.add(row)
                session.flush()
                return _recording(row)
        except IntegrityError:  # a concurrent add of the same path won
            found = self.by_path(path)
            if found is None:
                raise
            return found

    def by_path(self, path: str) -> Recording | None:
        with Session(self.engine) as session:
            row = session.scalar(select(RecordingRow).where(RecordingRow.path == path))
            return _recording(row) if row is not None else None

    def get(self, recording_id: int) -> Recording:
        with Session(self.engine) as session:
            row = session.get(RecordingRow, recording_id)
            if row is None:
                raise RecordingNotFound(f"no recording {recording_id}")
            return _recording(row)

    def for_call(self, call_id: str) -> list[Recording]:
        with Session(self.engine) as session:
            rows = session.scalars(
                select(RecordingRow).where(RecordingRow.call_id == call_id).order_by("id")
            )
            return [_recording(r) for r in rows]

    def between(
        self,
        start: datetime,
        end: datetime,
        *,
        kind: str | None = None,
        agent_id: str | None = None,
        limit: int = 500,
    ) -> list[Recording]:
        """Recordings started in [start, end), newest first (removed ones included)."""
        query = select(RecordingRow).where(
            RecordingRow.started_at >= start, RecordingRow.started_at < end
        )
        if kind is not None:
            query = query.where(RecordingRow.kind == kind)
        if agent_id is not None:
            query = query.where(RecordingRow.agent_id == agent_id)
        query = query.order_by(RecordingRow.started_at.desc(), RecordingRow.id.desc()).limit(limit)
        with Session(self.engine) as session:
            return [_recording(r) for r in session.scalars(query)]

    def known_paths(self, prefix: str) -> set[str]:
        with Session(self.engine) as session:
            rows = session.scalars(
                select(RecordingRow.path).where(RecordingRow.path.startswith(prefix))
            )
            return set(rows)

    def unended(self, kinds: Iterable[str]) -> list[Recording]:
        """Recordings still on disk whose end was never written."""
        with Session(self.engine) as session:
            rows = session.scalars(
                select(RecordingRow).where(
                    RecordingRow.kind.in_(list(kinds)),
                    RecordingRow.ended_at.is_(None),
                    RecordingRow.deleted_at.is_(None),
                )
            )
            return [_recording(r) for r in rows]

    def finish(self, recording_id: int, ended_at: datetime | None, size_bytes: int | None) -> None:
        values: dict[str, Any] = {"size_bytes": size_bytes}
        if ended_at is not None:
            values["ended_at"] = ended_at
        with Session(self.engine) as session, session.begin():
            session.execute(
                update(RecordingRow).where(RecordingRow.id == recording_id).values(**values)
            )

    def held_before(self, kind: str, before: datetime) -> list[Held]:
        """Recordings of ``kind`` still on disk that started before ``before``."""
        with Session(self.engine) as session:
            rows = session.execute(
                select(
                    RecordingRow.id, RecordingRow.kind, RecordingRow.started_at, RecordingRow.path
                ).where(
                    RecordingRow.kind == kind,
                    RecordingRow.deleted_at.is_(None),
                    RecordingRow.started_at < before,
                )
            )
            return [Held(r.id, r.kind, r.started_at, path=r.path) for r in rows]

    def replace_audio(self, recording_id: int, old_path: str, new_path: str, size: int) -> bool:
        """The audio was re-encoded: the row names the new file (if it still named the old)."""
        with Session(self.engine) as session, session.begin():
            done: CursorResult[Any] = session.execute(  # type: ignore[assignment]
                update(RecordingRow)
                .where(
                    RecordingRow.id == recording_id,
                    RecordingRow.path == old_path,
                    RecordingRow.deleted_at.is_(None),
                )
                .values(path=new_path, size_bytes=size)
            )
            return bool(done.rowcount)

    def mark_deleted(self, recording_id: int, at: datetime, reason: str) -> None:
        with Session(self.engine) as session, session.begin():
            session.execute(
                update(RecordingRow)
                .where(RecordingRow.id == recording_id, RecordingRow.deleted_at.is_(None))
                .values(deleted_at=at, delete_reason=reason[:200])
            )

    # -- playbacks --------------------------------------------------------------------------

    def log_playback(
        self, recording_id: int, user_name: str, role: str, at: datetime, byte_range: str
    ) -> None:
        with Session(self.engine) as session, session.begin():
            session.add(
                PlaybackRow(
                    recording_id=recording_id,
                    user_name=user_name[:64],
                    role=role[:16],
                    played_at=at,
                    byte_range=byte_range[:64],
                )
            )

    def playbacks(self, recording_id: int) -> list[Playback]:
        with Session(self.engine) as session:
            rows = session.scalars(
                select(PlaybackRow)
                .where(PlaybackRow.recording_id == recording_id)
                .order_by(PlaybackRow.id)
            )
            return [
                Playback(r.recording_id, r.user_name, r.role, r.played_at, r.byte_range)
                for r in rows
            ]

    # -- quality scores ---------------------------------------------------------------------

    def save_score(
        self,
        recording_id: int,
        agent_id: str,
        reviewer: str,
        at: datetime,
        score: float,
        items: dict[str, float],
        comment: str,
    ) -> None:
        """One score per reviewer and recording: scoring again replaces the earlier one."""
        with Session(self.engine) as session, session.begin():
            row = session.scalar(
                select(QualityScoreRow).where(
                    QualityScoreRow.recording_id == recording_id,
                    QualityScoreRow.reviewer == reviewer,
                )
            )
            if row is None:
                row = QualityScoreRow(recording_id=recording_id, reviewer=reviewer)
                session.add(row)
            row.agent_id = agent_id
            row.scored_at = at
            row.score = score
            row.items = dict(items)
            row.comment = comment

    def reviewed_among(self, recording_ids: Iterable[int]) -> set[int]:
        """Which of these recordings have been scored (by anyone, at any time)."""
        ids = list(recording_ids)
        found: set[int] = set()
        with Session(self.engine) as session:
            for at in range(0, len(ids), 500):  # bounded IN lists
                chunk = ids[at : at + 500]
                rows = session.scalars(
                    select(QualityScoreRow.recording_id)
                    .where(QualityScoreRow.recording_id.in_(chunk))
                    .distinct()
                )
                found.update(int(r) for r in rows)
        return found

    def scores_between(self, start: datetime, end: datetime) -> list[tuple[str, float]]:
        """(agent id, score) of the reviews made in [start, end)."""
        with Session(self.engine) as session:
            rows = session.execute(
                select(QualityScoreRow.agent_id, QualityScoreRow.score).where(
                    QualityScoreRow.scored_at >= start, QualityScoreRow.scored_at < end
                )
            )
            return [(r.agent_id, float(r.score)) for r in rows]

    def count(self) -> int:
        with Session(self.engine) as session:
            return int(session.scalar(select(func.count()).select_from(RecordingRow)) or 0)
