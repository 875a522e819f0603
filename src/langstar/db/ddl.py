"""Operations that langstar's Alembic revisions use to replay LangGraph's DDL safely."""

from __future__ import annotations

from collections.abc import Iterable

from alembic import op
from sqlalchemy import text


def execute(sql: str) -> None:
    """Run frozen SQL exactly as written: no bind-parameter parsing of `:` or `%`."""
    if op.get_context().as_sql:
        op.execute(sql)
    else:
        op.get_bind().exec_driver_sql(sql)


def create_index_concurrently(name: str, create_sql: str) -> None:
    """Build an index without blocking writes, repairing an INVALID leftover first.

    CREATE INDEX CONCURRENTLY cannot run in a transaction, and when one is interrupted it
    leaves an INVALID index behind that `IF NOT EXISTS` would then skip forever.
    """
    with op.get_context().autocommit_block():
        if not op.get_context().as_sql:
            invalid = op.get_bind().execute(
                text(
                    "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                    "WHERE c.relname = :name AND NOT i.indisvalid"
                ),
                {"name": name},
            )
            if invalid.first() is not None:
                execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
        execute(create_sql)


def drop_index_concurrently(name: str) -> None:
    with op.get_context().autocommit_block():
        execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


def record_versions(table: str, versions: Iterable[int]) -> None:
    """Insert LangGraph's own version rows, so that its `setup()` finds nothing left to do."""
    values = ", ".join(f"({v})" for v in versions)
    execute(f"INSERT INTO {table} (v) VALUES {values} ON CONFLICT (v) DO NOTHING")
