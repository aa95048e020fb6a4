"""dispatch: disputes, merging, survey answers, areas, per-unit event columns, the catalogue

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 05:00:00

* tickets: the states disputed, merged and inform_pending; the survey outcome
  basically_satisfied; ``survey_solved``, ``dispute_until``, ``disputed``, ``merged_into``
  (the lead order's number) and ``area`` (from the address, by the dispatch catalogue).
* ticket_events: ``unit``, the lead unit an event concerns (the three rates per unit are
  counted on it), filled here for the existing log; ``respond_due_at``, the sign-for/return
  deadline in force when a unit answered a dispatch (响应率).
* dispatch_catalogues: every imported catalogue file, the newest in force (like
  calendar_years: the validated text itself, parsed again on load).
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: Union[str, Sequence[str], None] = "0010"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# Frozen copies (see 0002): the states and outcomes before and after this revision.
STATES_0005 = (
    "voicemail_review", "created", "closed_direct", "dispatched", "signed", "returned",
    "in_progress", "extension_requested", "closed_by_unit", "reviewed", "callback_done",
    "reopened", "archived",
)
STATES = (*STATES_0005, "disputed", "merged", "inform_pending")
SURVEY_0002 = ("satisfied", "unsatisfied", "unreachable")
SURVEY = ("satisfied", "basically_satisfied", "unsatisfied", "unreachable")
DISPATCHING = ("Dispatch", "Redispatch")


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _checks(batch: object, states: Sequence[str], survey: Sequence[str]) -> None:
    # SQLite cannot alter a CHECK: batch mode copies the table with the new constraints.
    for name, column, values in (("state", "state", states), ("survey_outcome", "survey_outcome", survey)):
        batch.drop_constraint(op.f(f"ck_tickets_{name}"), type_="check")  # type: ignore[attr-defined]
        batch.create_check_constraint(op.f(f"ck_tickets_{name}"), _in(column, values))  # type: ignore[attr-defined]


def _backfill_event_units() -> None:
    """The lead unit each logged event concerns: the new lead for a dispatch, else the lead
    before the event (the unit that returned it, was surveyed on it, ...)."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.text("SELECT id, ticket_id, action, data FROM ticket_events ORDER BY ticket_id, seq")
    ).all()
    lead: dict[int, str | None] = {}
    updates = []
    for event_id, ticket_id, action, data in rows:
        if isinstance(data, str):
            import json

            data = json.loads(data)
        before = lead.get(ticket_id)
        if action in DISPATCHING:
            lead[ticket_id] = str((data or {}).get("unit") or "") or None
            unit = lead[ticket_id]
        else:
            unit = before
            if action in ("Return", "MergeInto"):
                lead[ticket_id] = None
        if unit:
            updates.append({"id": event_id, "unit": unit})
    if updates:
        bind.execute(sa.text("UPDATE ticket_events SET unit = :unit WHERE id = :id"), updates)


def upgrade() -> None:
    with op.batch_alter_table("tickets", recreate="auto") as batch:
        batch.add_column(sa.Column("survey_solved", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("dispute_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("disputed", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("merged_into", sa.String(length=15), nullable=True))
        batch.add_column(sa.Column("area", sa.String(length=32), nullable=False, server_default=""))
        # "basically_satisfied" is 19 characters.
        batch.alter_column(
            "survey_outcome", type_=sa.String(length=24), existing_type=sa.String(length=16)
        )
        _checks(batch, STATES, SURVEY)
        batch.create_index(op.f("ix_tickets_merged_into"), ["merged_into"])
        batch.create_index(
            op.f("ix_tickets_subject_code_area_created_at"), ["subject_code", "area", "created_at"]
        )
    with op.batch_alter_table("ticket_events") as batch:
        batch.add_column(sa.Column("unit", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("respond_due_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index(op.f("ix_ticket_events_unit_action_at"), ["unit", "action", "at"])
    _backfill_event_units()
    op.create_table(
        "dispatch_catalogues",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("origin", sa.String(length=200), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("imported_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispatch_catalogues")),
    )


def downgrade() -> None:
    op.drop_table("dispatch_catalogues")
    with op.batch_alter_table("ticket_events") as batch:
        batch.drop_index(op.f("ix_ticket_events_unit_action_at"))
        batch.drop_column("respond_due_at")
        batch.drop_column("unit")
    # Orders in the new states cannot be described by the old schema: a disputed order goes
    # back to dispatched (the unit still holds it), a merged one to created (its own matter
    # again), one awaiting its caller's information is archived; basically satisfied counts
    # as satisfied, as the report did.
    op.execute("UPDATE tickets SET state = 'dispatched' WHERE state = 'disputed'")
    op.execute("UPDATE tickets SET state = 'created' WHERE state = 'merged'")
    op.execute("UPDATE tickets SET state = 'archived' WHERE state = 'inform_pending'")
    op.execute(
        "UPDATE tickets SET survey_outcome = 'satisfied' "
        "WHERE survey_outcome = 'basically_satisfied'"
    )
    with op.batch_alter_table("tickets", recreate="auto") as batch:
        batch.drop_index(op.f("ix_tickets_subject_code_area_created_at"))
        batch.drop_index(op.f("ix_tickets_merged_into"))
        _checks(batch, STATES_0005, SURVEY_0002)
        batch.alter_column(
            "survey_outcome", type_=sa.String(length=16), existing_type=sa.String(length=24)
        )
        batch.drop_column("area")
        batch.drop_column("merged_into")
        batch.drop_column("disputed")
        batch.drop_column("dispute_until")
        batch.drop_column("survey_solved")
