"""LangGraph store table (its store migrations 0-3, frozen).

Replays the library's DDL for `store` (long-term memory) and records versions 0-3 in
`store_migrations`. Idempotent, so a store that LangGraph's `setup()` built is adopted.

Locks: CREATE TABLE on a new table; ADD COLUMN without defaults is metadata-only (brief
ACCESS EXCLUSIVE); store_prefix_idx is built CONCURRENTLY outside a transaction; the small
partial index on expires_at is built in a transaction (SHARE lock on `store`, as LangGraph
does) since it covers only rows with a TTL.
Reversible: yes; downgrade drops `store` and every memory in it.
Recovery: rerun `alembic upgrade head`; an INVALID store_prefix_idx is rebuilt.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

from langstar.db import ddl

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

langgraph_versions = {"store_migrations": range(4)}

_VERSION_TABLE = "CREATE TABLE IF NOT EXISTS store_migrations (v INTEGER PRIMARY KEY)"

_STORE = """
CREATE TABLE IF NOT EXISTS store (
    prefix text NOT NULL,
    key text NOT NULL,
    value jsonb NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (prefix, key)
)
"""

_PREFIX_INDEX = (
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS store_prefix_idx "
    "ON store USING btree (prefix text_pattern_ops)"
)

_TTL_COLUMNS = """
ALTER TABLE store
ADD COLUMN IF NOT EXISTS expires_at TIMESTAMP WITH TIME ZONE,
ADD COLUMN IF NOT EXISTS ttl_minutes INT
"""

_TTL_INDEX = (
    "CREATE INDEX IF NOT EXISTS idx_store_expires_at ON store (expires_at) "
    "WHERE expires_at IS NOT NULL"
)


def upgrade() -> None:
    ddl.execute(_VERSION_TABLE)
    ddl.execute(_STORE)
    ddl.record_versions("store_migrations", [0])
    ddl.create_index_concurrently("store_prefix_idx", _PREFIX_INDEX)
    ddl.execute(_TTL_COLUMNS)
    ddl.execute(_TTL_INDEX)
    ddl.record_versions("store_migrations", range(1, 4))


def downgrade() -> None:
    ddl.execute("DROP TABLE IF EXISTS store_vectors")
    ddl.execute("DROP TABLE IF EXISTS store")
    ddl.execute("DROP TABLE IF EXISTS store_migrations")
