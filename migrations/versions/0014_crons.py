"""Crons: schedules that start runs, on a thread of their own or a new one each time.

A due cron is claimed `FOR UPDATE SKIP LOCKED` by one server, which admits its run and
moves `next_run_date` on in the same transaction: it fires once, whatever the number of
servers. The partial index serves that claim.

Locks: creates a new table and its indexes; nothing existing is touched.
Reversible: yes; downgrade drops the table and every cron with it.
Recovery: runs in one transaction; if it stops, nothing was applied.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    now = sa.func.now()
    op.create_table(
        "crons",
        sa.Column("cron_id", sa.UUID(), primary_key=True),
        sa.Column(
            "assistant_id",
            sa.UUID(),
            sa.ForeignKey("assistants.assistant_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "thread_id",
            sa.UUID(),
            sa.ForeignKey("threads.thread_id", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column("owner", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("identity", JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("schedule", sa.Text(), nullable=False),
        sa.Column("timezone", sa.Text(), server_default=sa.text("'UTC'"), nullable=False),
        sa.Column("end_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("next_run_date", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("metadata", JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("on_run_completed", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.CheckConstraint(
            "on_run_completed IS NULL OR on_run_completed IN ('delete', 'keep')",
            name="ck_crons_on_run_completed",
        ),
    )
    op.create_index("ix_crons_due", "crons", ["next_run_date"], postgresql_where=sa.text("enabled"))
    op.create_index("ix_crons_owner_created", "crons", ["owner", "created_at"])
    op.create_index("ix_crons_thread", "crons", ["thread_id"])


def downgrade() -> None:
    op.drop_table("crons")
