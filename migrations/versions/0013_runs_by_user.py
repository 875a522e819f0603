"""Runs by the user they act for: the per-user run cap, when objects share one owner.

With a project's own langgraph_sdk.Auth, threads and runs are kept under one shared
owner and the project's handlers decide access; the per-user cap then counts runs by
`user_id`, the user each run acts for.

Locks: ADD COLUMN without a default is metadata-only (a brief ACCESS EXCLUSIVE on
`runs`); the backfill updates only runs in flight; the index is built CONCURRENTLY,
outside a transaction.
Reversible: yes; downgrade drops the index and the column.
Recovery: rerun `alembic upgrade head`; an INVALID index is rebuilt.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from langstar.db import ddl

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("user_id", sa.Text(), nullable=True))
    op.execute(
        "UPDATE runs SET user_id = owner WHERE user_id IS NULL AND status IN ('pending', 'running')"
    )
    ddl.create_index_concurrently(
        "ix_runs_inflight_user",
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_runs_inflight_user ON runs (user_id) "
        "WHERE status IN ('pending', 'running')",
    )


def downgrade() -> None:
    ddl.drop_index_concurrently("ix_runs_inflight_user")
    op.drop_column("runs", "user_id")
