"""Run leases: which server process holds each in-flight run, and until when.

A process renews the lease of every run it holds; a run whose lease lapsed belongs to a
process that died, and is marked failed so its thread is free again.

Locks: ADD COLUMN without a default is metadata-only (a brief ACCESS EXCLUSIVE on `runs`);
the partial index is built CONCURRENTLY, outside a transaction.
Reversible: yes; downgrade drops the columns and the index.
Recovery: rerun `alembic upgrade head`; an INVALID index is rebuilt.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from langstar.db import ddl

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("worker", sa.Text(), nullable=True))
    op.add_column("runs", sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True))
    ddl.create_index_concurrently(
        "ix_runs_inflight_lease",
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_runs_inflight_lease ON runs "
        "(lease_expires_at) WHERE status IN ('pending', 'running')",
    )


def downgrade() -> None:
    ddl.drop_index_concurrently("ix_runs_inflight_lease")
    op.drop_column("runs", "lease_expires_at")
    op.drop_column("runs", "worker")
