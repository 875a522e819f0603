"""Runs and their stream events.

`runs` records every run; a partial unique index lets at most one run per thread be
`running`, so two runs can never fork the same checkpoint. `run_events` keeps the events
of resumable streams so a reconnect with Last-Event-ID can replay what it missed.

Locks: creates new tables and their indexes; nothing existing is touched.
Reversible: yes; downgrade drops both tables and all run history (threads and their
checkpoints are kept).
Recovery: runs in one transaction; if it stops, nothing was applied.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    jsonb = postgresql.JSONB(astext_type=sa.Text())
    now = sa.func.now()
    op.create_table(
        "runs",
        sa.Column("run_id", sa.UUID(), primary_key=True),
        sa.Column(
            "thread_id",
            sa.UUID(),
            sa.ForeignKey("threads.thread_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("assistant_id", sa.UUID(), nullable=False),
        sa.Column("graph_id", sa.Text(), nullable=False),
        sa.Column("owner", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("metadata", jsonb, server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("kwargs", jsonb, server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("multitask_strategy", sa.Text(), nullable=False),
        sa.Column("error", jsonb, nullable=True),
        sa.Column("cancel_action", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'success', 'error', 'timeout', 'interrupted')",
            name="ck_runs_status",
        ),
        sa.CheckConstraint(
            "cancel_action IS NULL OR cancel_action IN ('interrupt', 'rollback')",
            name="ck_runs_cancel_action",
        ),
    )
    op.create_index("ix_runs_thread_created_at", "runs", ["thread_id", "created_at"])
    op.create_index(
        "ux_runs_one_running_per_thread",
        "runs",
        ["thread_id"],
        unique=True,
        postgresql_where=sa.text("status = 'running'"),
    )
    op.create_table(
        "run_events",
        sa.Column(
            "run_id",
            sa.UUID(),
            sa.ForeignKey("runs.run_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("seq", sa.Integer(), primary_key=True),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("run_events")
    op.drop_index("ux_runs_one_running_per_thread", table_name="runs")
    op.drop_index("ix_runs_thread_created_at", table_name="runs")
    op.drop_table("runs")
