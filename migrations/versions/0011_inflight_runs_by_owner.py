"""In-flight runs by owner: the per-user run cap without reading every run.

Creating a run counts the caller's pending and running runs. Without this index that
count visited every in-flight run of the server; with it, only the caller's, and only up
to the cap.

Locks: the partial index is built CONCURRENTLY, outside a transaction; writes continue.
Reversible: yes; downgrade drops the index.
Recovery: rerun `alembic upgrade head`; an INVALID index is rebuilt.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

from langstar.db import ddl

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    ddl.create_index_concurrently(
        "ix_runs_inflight_owner",
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_runs_inflight_owner ON runs "
        "(owner, thread_id) WHERE status IN ('pending', 'running')",
    )


def downgrade() -> None:
    ddl.drop_index_concurrently("ix_runs_inflight_owner")
