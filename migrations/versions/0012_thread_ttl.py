"""Thread expiry: each thread's TTL, its strategy, and when it next expires.

The sweeper finds expired threads through the partial index on `expires_at`, which
holds only threads that have a TTL.

Locks: ADD COLUMN without a default is metadata-only (a brief ACCESS EXCLUSIVE on
`threads`); the check constraint is added NOT VALID and validated without blocking
writes; the index is built CONCURRENTLY, outside a transaction.
Reversible: yes; downgrade drops the index, the constraint and the columns.
Recovery: rerun `alembic upgrade head`; an INVALID index left by an interrupted build is
rebuilt.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from langstar.db import ddl

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("threads", sa.Column("ttl_minutes", sa.Float(), nullable=True))
    op.add_column("threads", sa.Column("ttl_strategy", sa.Text(), nullable=True))
    op.add_column("threads", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "ALTER TABLE threads ADD CONSTRAINT ck_threads_ttl_strategy CHECK "
        "(ttl_strategy IS NULL OR ttl_strategy IN ('delete', 'keep_latest')) NOT VALID"
    )
    op.execute("ALTER TABLE threads VALIDATE CONSTRAINT ck_threads_ttl_strategy")
    ddl.create_index_concurrently(
        "ix_threads_expires_at",
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_threads_expires_at ON threads "
        "(expires_at) WHERE expires_at IS NOT NULL",
    )


def downgrade() -> None:
    ddl.drop_index_concurrently("ix_threads_expires_at")
    op.drop_constraint("ck_threads_ttl_strategy", "threads")
    op.drop_column("threads", "expires_at")
    op.drop_column("threads", "ttl_strategy")
    op.drop_column("threads", "ttl_minutes")
