"""langstar threads: who owns each conversation, its status and its latest values.

Locks: creates a new table and its index; nothing existing is touched.
Reversible: yes; downgrade drops `threads` (the checkpoints stay in LangGraph's tables).
Recovery: the revision runs in one transaction; if it stops, nothing was applied.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    jsonb = postgresql.JSONB(astext_type=sa.Text())
    op.create_table(
        "threads",
        sa.Column("thread_id", sa.UUID(), primary_key=True),
        sa.Column("owner", sa.Text(), nullable=False),
        sa.Column("graph_id", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default=sa.text("'idle'"), nullable=False),
        sa.Column("metadata", jsonb, server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("config", jsonb, server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("values", jsonb, nullable=True),
        sa.Column("interrupts", jsonb, server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("error", jsonb, nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "status IN ('idle', 'busy', 'interrupted', 'error')", name="ck_threads_status"
        ),
    )
    op.create_index("ix_threads_owner_created_at", "threads", ["owner", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_threads_owner_created_at", table_name="threads")
    op.drop_table("threads")
