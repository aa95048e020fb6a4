"""callback attempts: each attempt to call a citizen back, under the call it answers

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 09:30:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: Union[str, Sequence[str], None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "callback_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_attempts")),
        sa.UniqueConstraint("call_id", "attempt", name=op.f("uq_callback_attempts_call_id_attempt")),
    )
    op.create_index(
        op.f("ix_callback_attempts_call_id"), "callback_attempts", ["call_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_callback_attempts_call_id"), table_name="callback_attempts")
    op.drop_table("callback_attempts")
