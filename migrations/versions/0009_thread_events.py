"""Thread events: the protocol events of a thread's runs, in one order per thread.

Clients of the thread-centric streaming protocol (`POST /threads/{id}/stream/events`)
read a thread's events by sequence number and resume after the last one they saw. The
sequence is an identity column, so it grows across runs and across server replicas.

Locks: creates a new table and its index; nothing existing is touched.
Reversible: yes; downgrade drops the table (threads, runs and checkpoints are kept).
Recovery: runs in one transaction; if it stops, nothing was applied.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "thread_events",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=True), primary_key=True),
        sa.Column(
            "thread_id",
            sa.UUID(),
            sa.ForeignKey("threads.thread_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "run_id",
            sa.UUID(),
            sa.ForeignKey("runs.run_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
    )
    op.create_index("ix_thread_events_thread_seq", "thread_events", ["thread_id", "seq"])
    op.create_index("ix_thread_events_run", "thread_events", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_thread_events_run", table_name="thread_events")
    op.drop_index("ix_thread_events_thread_seq", table_name="thread_events")
    op.drop_table("thread_events")
