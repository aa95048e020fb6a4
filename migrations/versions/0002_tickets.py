"""tickets: work orders, their event log, units, links, daily number counters, notices

Revision ID: 0002
Revises: 0001
Create Date: 2026-01-20 00:00:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: Union[str, Sequence[str], None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# Frozen copies of the value sets as of this revision (see 0001): a migration keeps meaning what
# it meant when written; a new category or state needs a new revision.
CATEGORIES = ("consultation", "help", "complaint", "report", "suggestion")
CHANNELS = ("phone", "voicemail", "web")
HANDLING = ("normal", "emergency", "key_item", "redirection")
STATES = (
    "created", "closed_direct", "dispatched", "signed", "returned", "in_progress",
    "extension_requested", "closed_by_unit", "reviewed", "callback_done", "reopened", "archived",
)
SURVEY = ("satisfied", "unsatisfied", "unreachable")


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _ts(name: str, nullable: bool = False) -> sa.Column:
    # timestamptz on PostgreSQL, DATETIME on SQLite: what hotline.calls.models.UTCDateTime uses.
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _ticket_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["ticket_id"], ["tickets.id"], name=op.f(f"fk_{table}_ticket_id_tickets")
    )


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "ticket_day_counters",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_ticket_day_counters")),
    )
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=15), nullable=False),
        _ts("created_at"),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        _ts("updated_at"),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("handling_type", sa.String(length=16), nullable=False),
        sa.Column("subject_code", sa.String(length=32), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("caller_name", sa.String(length=64), nullable=False),
        sa.Column("caller_number", sa.String(length=32), nullable=False),
        sa.Column("contact", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("address_key", sa.String(length=200), nullable=False),
        sa.Column("about_unit", sa.String(length=64), nullable=False),
        sa.Column("confidential", sa.Boolean(), nullable=False),
        sa.Column("key_item", sa.Boolean(), nullable=False),
        sa.Column("key_group", sa.String(length=15), nullable=True),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("unit", sa.String(length=64), nullable=True),
        sa.Column("extension_days", sa.Integer(), nullable=False),
        sa.Column("pending_extension_days", sa.Integer(), nullable=False),
        sa.Column("survey_attempts", sa.Integer(), nullable=False),
        sa.Column("survey_outcome", sa.String(length=16), nullable=True),
        sa.Column("reopen_count", sa.Integer(), nullable=False),
        sa.Column("last_event_seq", sa.Integer(), nullable=False),
        _ts("last_contact_at"),
        _ts("dispatched_at", nullable=True),
        _ts("return_due_at", nullable=True),
        _ts("reply_due_at", nullable=True),
        _ts("onsite_due_at", nullable=True),
        _ts("closed_at", nullable=True),
        _ts("callback_due_at", nullable=True),
        sa.CheckConstraint(_in("category", CATEGORIES), name=op.f("ck_tickets_category")),
        sa.CheckConstraint(_in("channel", CHANNELS), name=op.f("ck_tickets_channel")),
        sa.CheckConstraint(_in("handling_type", HANDLING), name=op.f("ck_tickets_handling_type")),
        sa.CheckConstraint(_in("state", STATES), name=op.f("ck_tickets_state")),
        sa.CheckConstraint(_in("survey_outcome", SURVEY), name=op.f("ck_tickets_survey_outcome")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
        sa.UniqueConstraint("number", name=op.f("uq_tickets_number")),
    )
    op.create_index(
        op.f("ix_tickets_address_key_subject_code"), "tickets", ["address_key", "subject_code"]
    )
    op.create_index(op.f("ix_tickets_caller_number"), "tickets", ["caller_number"])
    op.create_index(op.f("ix_tickets_created_at"), "tickets", ["created_at"])
    op.create_index(op.f("ix_tickets_key_group"), "tickets", ["key_group"])
    op.create_index(op.f("ix_tickets_state_reply_due_at"), "tickets", ["state", "reply_due_at"])

    op.create_table(
        "ticket_units",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=4), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.CheckConstraint("role IN ('lead', 'co')", name=op.f("ck_ticket_units_role")),
        _ticket_fk("ticket_units"),
        sa.PrimaryKeyConstraint("ticket_id", "unit", name=op.f("pk_ticket_units")),
    )
    op.create_index(op.f("ix_ticket_units_unit"), "ticket_units", ["unit"])

    op.create_table(
        "ticket_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        _ts("at"),
        sa.Column("from_state", sa.String(length=24), nullable=False),
        sa.Column("to_state", sa.String(length=24), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        _ts("due_at", nullable=True),
        _ticket_fk("ticket_events"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_events")),
        sa.UniqueConstraint("ticket_id", "seq", name=op.f("uq_ticket_events_ticket_id_seq")),
    )
    op.create_index(op.f("ix_ticket_events_action_at"), "ticket_events", ["action", "at"])

    op.create_table(
        "ticket_calls",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("unique_id", sa.String(length=64), nullable=False),
        _ts("linked_at"),
        _ticket_fk("ticket_calls"),
        sa.PrimaryKeyConstraint("ticket_id", "unique_id", name=op.f("pk_ticket_calls")),
    )
    op.create_index(op.f("ix_ticket_calls_unique_id"), "ticket_calls", ["unique_id"])

    op.create_table(
        "ticket_recordings",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("recording", sa.String(length=255), nullable=False),
        _ticket_fk("ticket_recordings"),
        sa.PrimaryKeyConstraint("ticket_id", "recording", name=op.f("pk_ticket_recordings")),
    )

    op.create_table(
        "supervision_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        _ts("due_at"),
        _ts("issued_at"),
        sa.Column("issued_by", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "reason IN ('overdue', 'reopened')", name=op.f("ck_supervision_notices_reason")
        ),
        _ticket_fk("supervision_notices"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_notices")),
        sa.UniqueConstraint(
            "ticket_id",
            "reason",
            "due_at",
            name=op.f("uq_supervision_notices_ticket_id_reason_due_at"),
        ),
    )
    op.create_index(op.f("ix_supervision_notices_unit"), "supervision_notices", ["unit"])


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f("ix_supervision_notices_unit"), table_name="supervision_notices")
    op.drop_table("supervision_notices")
    op.drop_table("ticket_recordings")
    op.drop_index(op.f("ix_ticket_calls_unique_id"), table_name="ticket_calls")
    op.drop_table("ticket_calls")
    op.drop_index(op.f("ix_ticket_events_action_at"), table_name="ticket_events")
    op.drop_table("ticket_events")
    op.drop_index(op.f("ix_ticket_units_unit"), table_name="ticket_units")
    op.drop_table("ticket_units")
    for index in ("state_reply_due_at", "key_group", "created_at", "caller_number"):
        op.drop_index(op.f(f"ix_tickets_{index}"), table_name="tickets")
    op.drop_index(op.f("ix_tickets_address_key_subject_code"), table_name="tickets")
    op.drop_table("tickets")
    op.drop_table("ticket_day_counters")
