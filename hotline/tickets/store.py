"""Ticket persistence: one transaction per change, on SQLite and PostgreSQL alike.

No business rules here (they are in ``hotline.tickets.service``, pure, passed in as functions);
this module owns locking and atomicity:

* A ticket's number takes the next daily sequence from ``ticket_day_counters`` with
  ``INSERT .. ON CONFLICT (day) DO UPDATE SET last_seq = last_seq + 1 RETURNING last_seq`` in the
  creating transaction: PostgreSQL locks the day's row until commit, so concurrent creators queue
  on it and a rolled-back creation gives its number back; no gaps from failed intakes.
* A transition locks the ticket row (``SELECT .. FOR UPDATE``), asks the planner for the step,
  then writes the event and the new row values together. A planner that raises (an illegal
  transition, a refused viewer) leaves the transaction empty: nothing is written.
* SQLite has no row locks and its deferred transactions fail, rather than wait, when two
  readers both try to become the writer; every transaction here therefore starts with
  ``BEGIN IMMEDIATE``, which takes the write lock up front and waits (busy timeout) for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, cast

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from hotline.base.db import READ_ONLY, lease_engine
from hotline.tickets.lifecycle import SurveyOutcome, TicketState, TransitionEvent
from hotline.tickets.models import (
    CalendarYearRow,
    CatalogueRow,
    DayCounterRow,
    NoticeRow,
    TicketCallRow,
    TicketEventRow,
    TicketRecordingRow,
    TicketRow,
    TicketUnitRow,
)
from hotline.tickets.numbers import make_ticket_number
from hotline.tickets.values import (
    UNIT_OPEN_STATES,
    Notice,
    Similar,
    TicketDraft,
    TicketNotFound,
    TicketRecord,
    TransitionPlan,
    address_key,
)
from hotline.tickets.workdays import local_date

Planner = Callable[[TicketRecord], TransitionPlan]
KeyRule = Callable[[list[Similar]], str | None]


def _insert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def _record(row: TicketRow) -> TicketRecord:
    return TicketRecord(
        id=row.id,
        number=row.number,
        created_at=row.created_at,
        created_by=row.created_by,
        updated_at=row.updated_at,
        category=row.category,
        handling_type=row.handling_type,
        subject_code=row.subject_code,
        description=row.description,
        channel=row.channel,
        caller_name=row.caller_name,
        caller_number=row.caller_number,
        contact=row.contact,
        address=row.address,
        about_unit=row.about_unit,
        confidential=row.confidential,
        key_item=row.key_item,
        key_group=row.key_group,
        state=TicketState(row.state),
        unit=row.unit,
        co_units=tuple(u.unit for u in row.units if u.role == "co"),
        extension_days=row.extension_days,
        pending_extension_days=row.pending_extension_days,
        survey_attempts=row.survey_attempts,
        survey_outcome=cast(SurveyOutcome | None, row.survey_outcome),
        reopen_count=row.reopen_count,
        last_event_seq=row.last_event_seq,
        last_contact_at=row.last_contact_at,
        dispatched_at=row.dispatched_at,
        return_due_at=row.return_due_at,
        reply_due_at=row.reply_due_at,
        onsite_due_at=row.onsite_due_at,
        closed_at=row.closed_at,
        callback_due_at=row.callback_due_at,
        deadline_provisional=row.deadline_provisional,
        survey_solved=row.survey_solved,
        dispute_until=row.dispute_until,
        disputed=row.disputed,
        merged_into=row.merged_into,
        area=row.area,
        calls=tuple(c.unique_id for c in row.calls),
        recordings=tuple(r.recording for r in row.recordings),
    )


def _event(row: TicketEventRow) -> TransitionEvent:
    return TransitionEvent(
        seq=row.seq,
        actor=row.actor,
        at=row.at,
        from_state=TicketState(row.from_state),
        to_state=TicketState(row.to_state),
        action=row.action,
        note=row.note,
        data=dict(row.data),
    )


def _notice(row: NoticeRow, number: str) -> Notice:
    return Notice(
        id=row.id,
        ticket_number=number,
        unit=row.unit,
        reason=row.reason,
        due_at=row.due_at,
        issued_at=row.issued_at,
        issued_by=row.issued_by,
        note=row.note,
    )


class TicketStore:
    def __init__(self, url: str) -> None:
        self.url = url
        # The process's one engine for the URL; on SQLite it enforces foreign keys and takes the
        # write lock at BEGIN (hotline.base.db._sqlite_rules), as this store needs.
        self._lease = lease_engine(url)
        self.engine = self._lease.engine
        self._reader = self.engine.execution_options(**{READ_ONLY: True})

    def dispose(self) -> None:
        self._lease.release()

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    @contextmanager
    def _read(self) -> Iterator[Session]:
        """A transaction that only reads (the screen pop's look-up, once per call)."""
        with Session(self._reader, expire_on_commit=False) as session, session.begin():
            yield session

    def _locked(self, session: Session, number: str) -> TicketRow:
        stmt = select(TicketRow).where(TicketRow.number == number).with_for_update()
        row = session.scalars(stmt).one_or_none()
        if row is None:
            raise TicketNotFound(number)
        return row

    # -- the calendar's imported arrangements --------------------------------------------------

    def arrangement_texts(self) -> list[tuple[str, str]]:
        """(file text, origin) of every imported year, oldest year first."""
        stmt = select(CalendarYearRow).order_by(CalendarYearRow.year)
        with self._tx() as session:
            return [(row.text, row.origin) for row in session.scalars(stmt)]

    def calendar_stamp(self) -> tuple[int, str]:
        """Changes whenever an arrangement is imported: what a running engine polls."""
        stmt = select(func.count(), func.max(CalendarYearRow.imported_at))
        with self._tx() as session:
            count, last = session.execute(stmt).one()
        return int(count), last.isoformat() if last is not None else ""

    def save_arrangement(
        self, year: int, text: str, origin: str, *, actor: str, at: datetime
    ) -> None:
        """Store (or replace) a year's validated arrangement file."""
        with self._tx() as session:
            row = session.get(CalendarYearRow, year, with_for_update=True)
            if row is None:
                row = CalendarYearRow(year=year)
                session.add(row)
            row.text, row.origin, row.imported_at, row.imported_by = text, origin, at, actor

    # -- the dispatch catalogue ----------------------------------------------------------------

    def catalogue_text(self) -> tuple[str, str, datetime] | None:
        """(file text, origin, imported at) of the catalogue in force: the newest import."""
        stmt = select(CatalogueRow).order_by(CatalogueRow.id.desc()).limit(1)
        with self._tx() as session:
            row = session.scalars(stmt).first()
            return None if row is None else (row.text, row.origin, row.imported_at)

    def save_catalogue(
        self, text: str, origin: str, entries: int, *, actor: str, at: datetime
    ) -> None:
        with self._tx() as session:
            session.add(
                CatalogueRow(
                    text=text, origin=origin, entries=entries, imported_at=at, imported_by=actor
                )
            )

    def count_similar(self, subject_code: str, area: str, since: datetime) -> int:
        """Tickets on one subject in one area created since ``since`` (hot spots)."""
        stmt = select(func.count()).where(
            TicketRow.subject_code == subject_code,
            TicketRow.area == area,
            TicketRow.created_at >= since,
        )
        with self._tx() as session:
            return int(session.scalar(stmt) or 0)

    # -- creation ----------------------------------------------------------------------------

    def create(
        self,
        draft: TicketDraft,
        *,
        actor: str,
        at: datetime,
        key_since: datetime,
        rule: KeyRule,
        state: TicketState = TicketState.CREATED,
    ) -> TicketRecord:
        """Insert a ticket with the next number of its (Shanghai) day; flag key items."""
        with self._tx() as session:
            counter = (
                _insert(session)(DayCounterRow)
                .values(day=local_date(at), last_seq=1)
                .on_conflict_do_update(
                    index_elements=["day"], set_={"last_seq": DayCounterRow.last_seq + 1}
                )
                .returning(DayCounterRow.last_seq)
            )
            seq = session.execute(counter).scalar_one()
            row = TicketRow(
                number=make_ticket_number(local_date(at), seq),
                created_at=at,
                created_by=actor,
                updated_at=at,
                last_contact_at=at,
                category=draft.category,
                handling_type=draft.handling_type,
                subject_code=draft.subject_code,
                description=draft.description,
                channel=draft.channel,
                caller_name=draft.caller_name,
                caller_number=draft.caller_number,
                contact=draft.contact,
                address=draft.address,
                address_key=address_key(draft.address),
                about_unit=draft.about_unit,
                confidential=draft.confidential,
                key_item=draft.handling_type == "key_item",
                key_group=None,
                state=state.value,
                unit=None,
                extension_days=0,
                pending_extension_days=0,
                survey_attempts=0,
                survey_outcome=None,
                reopen_count=0,
                last_event_seq=0,
                deadline_provisional=False,
                disputed=False,
                area=draft.area,
                units=[],
                calls=[TicketCallRow(unique_id=c, linked_at=at) for c in draft.calls],
                recordings=[TicketRecordingRow(recording=r) for r in draft.recordings],
            )
            session.add(row)
            session.flush()
            if row.address_key:
                self._mark_key_items(session, row, key_since, rule)
            return _record(row)

    def _mark_key_items(
        self, session: Session, row: TicketRow, since: datetime, rule: KeyRule
    ) -> None:
        # Runs under the day counter's lock, so two creations cannot both miss each other.
        stmt = select(
            TicketRow.id, TicketRow.number, TicketRow.caller_number, TicketRow.contact,
            TicketRow.key_group,
        ).where(
            TicketRow.address_key == row.address_key,
            TicketRow.subject_code == row.subject_code,
            TicketRow.created_at >= since,
        )  # fmt: skip
        found = session.execute(stmt).all()
        group = rule([Similar(r.number, r.caller_number or r.contact, r.key_group) for r in found])
        if group is not None:
            ids = [r.id for r in found]
            session.execute(
                update(TicketRow)
                .where(TicketRow.id.in_(ids))
                .values(key_item=True, key_group=group)
                .execution_options(synchronize_session="fetch")
            )

    # -- reading -----------------------------------------------------------------------------

    def get(self, number: str) -> TicketRecord:
        with self._tx() as session:
            row = session.scalars(select(TicketRow).where(TicketRow.number == number)).first()
            if row is None:
                raise TicketNotFound(number)
            return _record(row)

    def events(self, number: str) -> list[TransitionEvent]:
        stmt = (
            select(TicketEventRow)
            .join(TicketRow, TicketRow.id == TicketEventRow.ticket_id)
            .where(TicketRow.number == number)
            .order_by(TicketEventRow.seq)
        )
        with self._tx() as session:
            return [_event(row) for row in session.scalars(stmt)]

    def find(
        self,
        *,
        unit: str | None = None,
        states: Iterable[TicketState] | None = None,
        caller_number: str | None = None,
        contact_since: datetime | None = None,
        due_before: datetime | None = None,
        key_group: str | None = None,
        call_id: str | None = None,
        provisional: bool | None = None,
        merged_into: str | None = None,
        limit: int = 200,
    ) -> list[TicketRecord]:
        """Tickets matching every filter given, newest first; ``unit``: lead or co-unit."""
        stmt = select(TicketRow)
        if unit is not None:
            stmt = stmt.join(TicketUnitRow).where(TicketUnitRow.unit == unit)
        if states is not None:
            stmt = stmt.where(TicketRow.state.in_([s.value for s in states]))
        if caller_number is not None:
            stmt = stmt.where(TicketRow.caller_number == caller_number)
        if contact_since is not None:
            stmt = stmt.where(TicketRow.last_contact_at >= contact_since)
        if due_before is not None:
            stmt = stmt.where(TicketRow.reply_due_at < due_before)
        if key_group is not None:
            stmt = stmt.where(TicketRow.key_group == key_group)
        if call_id is not None:
            stmt = stmt.where(TicketRow.calls.any(TicketCallRow.unique_id == call_id))
        if provisional is not None:
            stmt = stmt.where(TicketRow.deadline_provisional.is_(provisional))
        if merged_into is not None:
            stmt = stmt.where(TicketRow.merged_into == merged_into)
        stmt = stmt.order_by(TicketRow.created_at.desc(), TicketRow.id.desc()).limit(limit)
        with self._read() as session:
            return [_record(row) for row in session.scalars(stmt)]

    # -- changes -----------------------------------------------------------------------------

    def transition(
        self,
        number: str,
        planner: Planner,
        *,
        lead: str | None = None,
        lead_check: Callable[[TicketRecord], None] | None = None,
    ) -> TicketRecord:
        """Apply one lifecycle step atomically; whatever the planner raises, nothing changes.

        ``lead`` (a merge): that ticket is locked first and shown to ``lead_check``, so it
        cannot close between the check and the merge (a lead's closing step locks it too, and
        then finds every ticket merged into it; locks are always taken lead first)."""
        with self._tx() as session:
            if lead is not None:
                lead_row = self._locked(session, lead)
                if lead_check is not None:
                    lead_check(_record(lead_row))
            row = self._locked(session, number)
            plan = planner(_record(row))
            self._write(session, row, plan)
            if plan.followers is not None:
                merged = select(TicketRow).where(
                    TicketRow.merged_into == row.number, TicketRow.state == TicketState.MERGED.value
                )
                for follower in session.scalars(merged.order_by(TicketRow.id).with_for_update()):
                    self._write(session, follower, plan.followers(_record(follower)))
            session.flush()
            return _record(row)

    def _write(self, session: Session, row: TicketRow, plan: TransitionPlan) -> None:
        """The event row and the ticket row's new values of one planned step."""
        ev, snap = plan.event, plan.snapshot
        session.add(
            TicketEventRow(
                ticket_id=row.id, seq=ev.seq, actor=ev.actor, at=ev.at,
                from_state=ev.from_state.value, to_state=ev.to_state.value,
                action=ev.action, note=ev.note, data=dict(ev.data), due_at=plan.due_at,
                unit=plan.event_unit, respond_due_at=plan.respond_due_at,
            )
        )  # fmt: skip
        row.state = snap.state.value
        row.unit = snap.unit
        row.extension_days = snap.extension_days
        row.pending_extension_days = snap.pending_extension_days
        row.survey_attempts = snap.survey_attempts
        row.survey_outcome = snap.survey_outcome
        row.reopen_count = snap.reopen_count
        row.last_event_seq = snap.last_event_seq
        row.survey_solved = snap.survey_solved
        row.dispute_until = snap.dispute_until
        row.disputed = snap.disputed
        row.merged_into = snap.merged_into
        row.updated_at = ev.at
        for column, value in plan.changes.items():
            setattr(row, column, value)
        units = ([snap.unit] if snap.unit else []) + list(snap.co_units)
        if [u.unit for u in row.units] != units:
            row.units = [
                TicketUnitRow(unit=u, role="co" if i else "lead", position=i)
                for i, u in enumerate(units)
            ]
        if plan.notice_reason and snap.unit and row.reply_due_at is not None:
            self._add_notice(
                session, row.id, snap.unit, plan.notice_reason, row.reply_due_at,
                ev.at, ev.actor, ev.note,
            )  # fmt: skip

    def link(
        self,
        number: str,
        *,
        calls: Iterable[str] = (),
        recordings: Iterable[str] = (),
        at: datetime,
    ) -> TicketRecord:
        """Attach calls and recordings (idempotent); a new call counts as the caller's contact,
        so it keeps the ticket within the repeat window."""
        with self._tx() as session:
            row = self._locked(session, number)
            have_calls = {c.unique_id for c in row.calls}
            for unique_id in calls:
                if unique_id not in have_calls:
                    row.calls.append(TicketCallRow(unique_id=unique_id, linked_at=at))
                    have_calls.add(unique_id)
                    row.last_contact_at = max(row.last_contact_at, at)
            have_recs = {r.recording for r in row.recordings}
            for recording in recordings:
                if recording not in have_recs:
                    row.recordings.append(TicketRecordingRow(recording=recording))
                    have_recs.add(recording)
            session.flush()
            return _record(row)

    # -- supervision notices -----------------------------------------------------------------

    def _add_notice(
        self, session: Session, ticket_id: int, unit: str, reason: str, due_at: datetime,
        at: datetime, actor: str, note: str,
    ) -> int | None:  # fmt: skip
        stmt = (
            _insert(session)(NoticeRow)
            .values(
                ticket_id=ticket_id,
                unit=unit,
                reason=reason,
                due_at=due_at,
                issued_at=at,
                issued_by=actor,
                note=note,
            )
            .on_conflict_do_nothing(index_elements=["ticket_id", "reason", "due_at"])
            .returning(NoticeRow.id)
        )
        return session.execute(stmt).scalar_one_or_none()

    def issue_overdue_notices(self, now: datetime, actor: str, note: str) -> list[Notice]:
        """A notice for every order past its reply deadline at a unit; none twice for the same
        deadline (a granted extension makes a new deadline, which may be missed again)."""
        stmt = select(TicketRow.id, TicketRow.number, TicketRow.unit, TicketRow.reply_due_at).where(
            TicketRow.state.in_([s.value for s in UNIT_OPEN_STATES]),
            TicketRow.reply_due_at < now,
        )
        issued: list[int] = []
        with self._tx() as session:
            for tid, _number, unit, due in session.execute(stmt).all():
                if unit is None or due is None:  # cannot happen in a unit-open state
                    continue
                new_id = self._add_notice(session, tid, unit, "overdue", due, now, actor, note)
                if new_id is not None:
                    issued.append(new_id)
        return self.notices(ids=issued) if issued else []

    def notices(
        self, *, unit: str | None = None, ids: list[int] | None = None, limit: int = 200
    ) -> list[Notice]:
        stmt = select(NoticeRow, TicketRow.number).join(TicketRow)
        if unit is not None:
            stmt = stmt.where(NoticeRow.unit == unit)
        if ids is not None:
            stmt = stmt.where(NoticeRow.id.in_(ids))
        stmt = stmt.order_by(NoticeRow.issued_at.desc(), NoticeRow.id.desc()).limit(limit)
        with self._tx() as session:
            return [_notice(row, number) for row, number in session.execute(stmt).all()]
