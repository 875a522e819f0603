"""LangGraph checkpointer tables (its migrations 0-9, frozen).

Replays the library's own DDL for `checkpoints`, `checkpoint_blobs`, `checkpoint_writes`
and records versions 0-9 in `checkpoint_migrations`, so its `setup()` is a no-op after this.
Every statement is idempotent, so a database that LangGraph's `setup()` already built is
adopted as it is.

Locks: the CREATE TABLEs take ACCESS EXCLUSIVE on new tables only; the ALTER on
checkpoint_blobs takes ACCESS EXCLUSIVE briefly (metadata only); the indexes are built
CONCURRENTLY, outside any transaction, and do not block writes.
Reversible: yes; downgrade drops the tables and every checkpoint in them.
Recovery: rerun `alembic upgrade head`; an index left INVALID by an interruption is dropped
and rebuilt.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

from langstar.db import ddl

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Which of LangGraph's append-only migration lists this revision covers.
langgraph_versions = {"checkpoint_migrations": range(10)}

_TABLES = [
    "CREATE TABLE IF NOT EXISTS checkpoint_migrations (v INTEGER PRIMARY KEY)",
    """
    CREATE TABLE IF NOT EXISTS checkpoints (
        thread_id TEXT NOT NULL,
        checkpoint_ns TEXT NOT NULL DEFAULT '',
        checkpoint_id TEXT NOT NULL,
        parent_checkpoint_id TEXT,
        type TEXT,
        checkpoint JSONB NOT NULL,
        metadata JSONB NOT NULL DEFAULT '{}',
        PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS checkpoint_blobs (
        thread_id TEXT NOT NULL,
        checkpoint_ns TEXT NOT NULL DEFAULT '',
        channel TEXT NOT NULL,
        version TEXT NOT NULL,
        type TEXT NOT NULL,
        blob BYTEA,
        PRIMARY KEY (thread_id, checkpoint_ns, channel, version)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS checkpoint_writes (
        thread_id TEXT NOT NULL,
        checkpoint_ns TEXT NOT NULL DEFAULT '',
        checkpoint_id TEXT NOT NULL,
        task_id TEXT NOT NULL,
        idx INTEGER NOT NULL,
        channel TEXT NOT NULL,
        type TEXT,
        blob BYTEA NOT NULL,
        PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id, task_id, idx)
    )
    """,
    # LangGraph's version 4; its version 5 is a deliberate no-op.
    "ALTER TABLE checkpoint_blobs ALTER COLUMN blob DROP NOT NULL",
]

_INDEXES = {
    "checkpoints_thread_id_idx": "CREATE INDEX CONCURRENTLY IF NOT EXISTS "
    "checkpoints_thread_id_idx ON checkpoints(thread_id)",
    "checkpoint_blobs_thread_id_idx": "CREATE INDEX CONCURRENTLY IF NOT EXISTS "
    "checkpoint_blobs_thread_id_idx ON checkpoint_blobs(thread_id)",
    "checkpoint_writes_thread_id_idx": "CREATE INDEX CONCURRENTLY IF NOT EXISTS "
    "checkpoint_writes_thread_id_idx ON checkpoint_writes(thread_id)",
}

_TASK_PATH = (
    "ALTER TABLE checkpoint_writes ADD COLUMN IF NOT EXISTS task_path TEXT NOT NULL DEFAULT ''"
)


def upgrade() -> None:
    for sql in _TABLES:
        ddl.execute(sql)
    ddl.record_versions("checkpoint_migrations", range(6))
    for name, sql in _INDEXES.items():
        ddl.create_index_concurrently(name, sql)
    ddl.execute(_TASK_PATH)
    ddl.record_versions("checkpoint_migrations", range(6, 10))


def downgrade() -> None:
    for table in ("checkpoint_writes", "checkpoint_blobs", "checkpoints", "checkpoint_migrations"):
        ddl.execute(f"DROP TABLE IF EXISTS {table}")
