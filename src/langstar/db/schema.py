"""Is the database at the schema this build of langstar expects?"""

from __future__ import annotations

from dataclasses import dataclass

from langgraph.checkpoint.postgres.base import BasePostgresSaver
from langgraph.store.postgres.base import BasePostgresStore
from psycopg import AsyncConnection

from langstar.db.migrations import head_revisions
from langstar.settings import Settings

UPGRADE_HINT = "run `alembic upgrade head` (or `langstar db upgrade`) against this database"


class SchemaNotAtHeadError(RuntimeError):
    """The database must be migrated before langstar can serve it."""


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    ok: bool
    reason: str = ""


def expected_langgraph_versions(settings: Settings) -> dict[str, set[int]]:
    """The LangGraph version rows that the installed library expects to find."""
    expected = {
        "checkpoint_migrations": set(range(len(BasePostgresSaver.MIGRATIONS))),
        "store_migrations": set(range(len(BasePostgresStore.MIGRATIONS))),
    }
    if settings.store.embedding_dims:
        vector = set(range(len(BasePostgresStore.VECTOR_MIGRATIONS)))
        if settings.store.index_type == "flat":
            vector.discard(2)  # the ANN index migration, which LangGraph skips for "flat"
        expected["vector_migrations"] = vector
    return expected


async def schema_status(
    conn: AsyncConnection[dict[str, object]], settings: Settings
) -> SchemaStatus:
    """Compare the database with Alembic's head and with the installed LangGraph library."""
    heads = set(head_revisions())
    row = await (await conn.execute("SELECT to_regclass('alembic_version') AS t")).fetchone()
    if row is None or row["t"] is None:
        return SchemaStatus(False, f"the database has no langstar schema; {UPGRADE_HINT}")
    rows = await (await conn.execute("SELECT version_num FROM alembic_version")).fetchall()
    current = {str(r["version_num"]) for r in rows}
    if current != heads:
        return SchemaStatus(
            False,
            f"the database schema is at {', '.join(sorted(current)) or 'nothing'}, "
            f"not at head {', '.join(sorted(heads))}; {UPGRADE_HINT}",
        )
    for table, wanted in expected_langgraph_versions(settings).items():
        present: set[int] = set()
        found = await (await conn.execute("SELECT to_regclass(%s) AS t", (table,))).fetchone()
        if found is not None and found["t"] is not None:
            cur = await conn.execute(f"SELECT v FROM {table}")
            present = {int(str(r["v"])) for r in await cur.fetchall()}
        missing = sorted(wanted - present)
        if missing:
            return SchemaStatus(
                False,
                f"{table} lacks LangGraph migration(s) {missing} that the installed library "
                f"needs; {UPGRADE_HINT}",
            )
    return SchemaStatus(True)


async def require_schema_at_head(url: str, settings: Settings) -> None:
    """Raise `SchemaNotAtHeadError`, naming the command to run, unless the schema is current."""
    from psycopg.rows import dict_row

    # Never prepared: `url` may go through a transaction pooler.
    async with await AsyncConnection.connect(
        url, autocommit=True, row_factory=dict_row, prepare_threshold=None
    ) as conn:
        status = await schema_status(conn, settings)
    if not status.ok:
        raise SchemaNotAtHeadError(status.reason)
