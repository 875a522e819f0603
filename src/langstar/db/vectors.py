"""LangGraph's vector-store migrations (frozen), which depend on the embedding settings."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

from langstar.settings import StoreSettings

_OPS = {
    ("vector", "cosine"): "vector_cosine_ops",
    ("vector", "l2"): "vector_l2_ops",
    ("vector", "inner_product"): "vector_ip_ops",
    ("halfvec", "cosine"): "halfvec_cosine_ops",
    ("halfvec", "l2"): "halfvec_l2_ops",
    ("halfvec", "inner_product"): "halfvec_ip_ops",
}


def wanted_versions(store: StoreSettings) -> list[int]:
    """LangGraph's VECTOR_MIGRATIONS that apply: none without embeddings, no index if flat."""
    if not store.embedding_dims:
        return []
    return [0, 1] if store.index_type == "flat" else [0, 1, 2]


def statements(store: StoreSettings) -> dict[int, str]:
    ops = _OPS[(store.vector_type, store.distance_type)]
    return {
        0: "CREATE EXTENSION IF NOT EXISTS vector",
        1: f"""
CREATE TABLE IF NOT EXISTS store_vectors (
    prefix text NOT NULL,
    key text NOT NULL,
    field_name text NOT NULL,
    embedding {store.vector_type}({int(store.embedding_dims)}),
    created_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (prefix, key, field_name),
    FOREIGN KEY (prefix, key) REFERENCES store(prefix, key) ON DELETE CASCADE
)
""",
        2: f"CREATE INDEX CONCURRENTLY IF NOT EXISTS store_vectors_embedding_idx "
        f"ON store_vectors USING {store.index_type} (embedding {ops})",
    }


def missing_versions(conn: Connection, store: StoreSettings) -> list[int]:
    wanted = wanted_versions(store)
    if not wanted:
        return []
    exists = conn.execute(text("SELECT to_regclass('vector_migrations')")).scalar()
    present: set[int] = set()
    if exists is not None:
        present = {int(v) for v in conn.execute(text("SELECT v FROM vector_migrations")).scalars()}
    return [v for v in wanted if v not in present]
