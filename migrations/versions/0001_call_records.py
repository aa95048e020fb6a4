"""call records: one row per finished call

Revision ID: 0001
Revises:
Create Date: 2024-11-23 00:00:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# Frozen copy of CallOutcome as of this revision: a migration must keep meaning what it meant
# when it was written, whatever the enum becomes. A new outcome needs a new revision.
OUTCOMES = ("answered", "abandoned_queue", "abandoned_ivr", "voicemail", "transferred")


def upgrade() -> None:
    """Upgrade schema."""
    # DateTime(timezone=True) is timestamptz on PostgreSQL and plain DATETIME on SQLite, which
    # is what hotline.calls.models.UTCDateTime uses on each.
    op.create_table(
        "call_records",
        sa.Column("unique_id", sa.String(length=64), nullable=False),
        sa.Column("linked_id", sa.String(length=64), nullable=False),
        sa.Column("caller", sa.String(length=255), nullable=False),
        sa.Column("dialled", sa.String(length=255), nullable=False),
        sa.Column("arrived_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("ivr_exit_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("agent_id", sa.String(length=64), nullable=True),
        sa.Column("ivr_path", sa.Text(), nullable=False),
        sa.Column("skill", sa.String(length=64), nullable=False),
        sa.Column("hangup_cause", sa.String(length=255), nullable=False),
        sa.Column("wait_s", sa.Float(), nullable=True),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "outcome IN (" + ", ".join(f"'{o}'" for o in OUTCOMES) + ")",
            name=op.f("ck_call_records_outcome"),
        ),
        sa.PrimaryKeyConstraint("unique_id", name=op.f("pk_call_records")),
    )
    op.create_index(op.f("ix_call_records_linked_id"), "call_records", ["linked_id"])
    op.create_index(op.f("ix_call_records_arrived_at"), "call_records", ["arrived_at"])
    op.create_index(
        op.f("ix_call_records_outcome_arrived_at"), "call_records", ["outcome", "arrived_at"]
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f("ix_call_records_outcome_arrived_at"), table_name="call_records")
    op.drop_index(op.f("ix_call_records_arrived_at"), table_name="call_records")
    op.drop_index(op.f("ix_call_records_linked_id"), table_name="call_records")
    op.drop_table("call_records")
