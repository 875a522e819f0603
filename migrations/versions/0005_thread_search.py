"""Thread search: when the state last changed, and an index for metadata filters.

Locks: ADD COLUMN with a constant default is metadata-only in PostgreSQL 11+ (a brief
ACCESS EXCLUSIVE on `threads`); the GIN index is built CONCURRENTLY, without blocking
writes, outside a transaction.
Reversible: yes; downgrade drops the column and the index.
Recovery: rerun `alembic upgrade head`; an INVALID index left by an interrupted build is
rebuilt.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from langstar.db import ddl

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "threads",
        sa.Column(
            "state_updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
    )
    ddl.create_index_concurrently(
        "ix_threads_metadata",
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_threads_metadata "
        "ON threads USING gin (metadata jsonb_path_ops)",
    )


def downgrade() -> None:
    ddl.drop_index_concurrently("ix_threads_metadata")
    op.drop_column("threads", "state_updated_at")
