"""LangGraph vector store for semantic search (its vector migrations 0-2, frozen).

Applies only when `store.embedding_dims` is set: enables pgvector, creates `store_vectors`
with that many dimensions, and builds the ANN index (`store.index_type`) CONCURRENTLY.
With embeddings off it does nothing; turning them on later and running
`alembic upgrade head` again applies what is missing (env.py checks on every run).

Locks: CREATE EXTENSION and CREATE TABLE touch new objects only; the index is built
CONCURRENTLY outside a transaction.
Reversible: yes; downgrade drops `store_vectors` (embeddings are recomputable from `store`)
but keeps the extension, which other schemas may use.
Recovery: rerun `alembic upgrade head`; an INVALID index is rebuilt. CREATE EXTENSION needs
a role allowed to create it (a superuser, or pgvector marked trusted).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from langstar.db import ddl, vectors

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

langgraph_versions = {"vector_migrations": range(3)}


def upgrade() -> None:
    apply_missing()


def apply_missing() -> None:
    """Apply the vector migrations that the settings want and the database lacks."""
    store = op.get_context().config.attributes["settings"].store
    if op.get_context().as_sql:
        missing = vectors.wanted_versions(store)
    else:
        missing = vectors.missing_versions(op.get_bind(), store)
    if not missing:
        return
    ddl.execute("CREATE TABLE IF NOT EXISTS vector_migrations (v INTEGER PRIMARY KEY)")
    sql = vectors.statements(store)
    for version in missing:
        if version == 2:
            ddl.create_index_concurrently("store_vectors_embedding_idx", sql[2])
        else:
            ddl.execute(sql[version])
        ddl.record_versions("vector_migrations", [version])


def downgrade() -> None:
    ddl.execute("DROP TABLE IF EXISTS store_vectors")
    ddl.execute("DROP TABLE IF EXISTS vector_migrations")
