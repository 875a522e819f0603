"""LangGraph's checkpoint tables, beyond what its saver does: delete, prune, copy, roll back.

langstar's migrations create these tables from LangGraph's own migration list; this
module is the one place outside the saver that writes to them. A project's own
checkpointer does the same through `ThreadCheckpoints` (`db/custom.py`).
"""

from __future__ import annotations

import uuid
from typing import Protocol

from psycopg import AsyncConnection, sql
from psycopg.rows import DictRow

# Children first, though no foreign key ties them.
CHECKPOINT_TABLES = ("checkpoint_writes", "checkpoint_blobs", "checkpoints")


class ThreadCheckpoints(Protocol):
    """What is done to a thread's checkpoints beside the saver's reads and writes.

    Each change is made in the caller's transaction (`conn`) where the checkpoints live in
    langstar's own tables; a project's own checkpointer makes it itself.
    """

    def require(self, method: str, needed_for: str) -> None:
        """Raise `NotSupportedError` if `method` cannot be done, naming what needs it."""

    async def delete_thread(self, conn: AsyncConnection[DictRow], thread_id: uuid.UUID) -> None:
        """Every checkpoint of the thread."""

    async def delete_run(
        self, conn: AsyncConnection[DictRow], thread_id: uuid.UUID, run_id: uuid.UUID
    ) -> None:
        """The checkpoints a run wrote, rolling its thread back past it."""

    async def copy_thread(
        self, conn: AsyncConnection[DictRow], source: uuid.UUID, target: uuid.UUID
    ) -> None:
        """Every checkpoint of `source`, again under `target`."""

    async def keep_latest(self, conn: AsyncConnection[DictRow], thread_id: uuid.UUID) -> None:
        """Only the newest checkpoint of each namespace."""


class PostgresCheckpoints:
    """Checkpoints in langstar's own tables, changed in the caller's transaction."""

    def require(self, method: str, needed_for: str) -> None:
        return None

    async def delete_thread(self, conn: AsyncConnection[DictRow], thread_id: uuid.UUID) -> None:
        await delete_thread_checkpoints(conn, thread_id)

    async def delete_run(
        self, conn: AsyncConnection[DictRow], thread_id: uuid.UUID, run_id: uuid.UUID
    ) -> None:
        await delete_run_checkpoints(conn, thread_id, run_id)

    async def copy_thread(
        self, conn: AsyncConnection[DictRow], source: uuid.UUID, target: uuid.UUID
    ) -> None:
        await copy_thread_checkpoints(conn, source, target)

    async def keep_latest(self, conn: AsyncConnection[DictRow], thread_id: uuid.UUID) -> None:
        await keep_latest_checkpoint(conn, thread_id)


OWN_CHECKPOINTS = PostgresCheckpoints()


async def delete_thread_checkpoints(conn: AsyncConnection[DictRow], thread_id: uuid.UUID) -> None:
    """Every checkpoint, blob and pending write of the thread."""
    for table in CHECKPOINT_TABLES:
        await conn.execute(
            sql.SQL("DELETE FROM {} WHERE thread_id = %s").format(sql.Identifier(table)),
            (str(thread_id),),
        )


async def keep_latest_checkpoint(conn: AsyncConnection[DictRow], thread_id: uuid.UUID) -> None:
    """Keep only the newest checkpoint of each namespace, and the blobs it points to."""
    params = {"t": str(thread_id)}
    await conn.execute(
        "DELETE FROM checkpoints c WHERE thread_id = %(t)s AND checkpoint_id <> "
        "(SELECT max(checkpoint_id) FROM checkpoints l WHERE l.thread_id = %(t)s "
        "AND l.checkpoint_ns = c.checkpoint_ns)",
        params,
    )
    await conn.execute(
        "DELETE FROM checkpoint_writes w WHERE thread_id = %(t)s AND NOT EXISTS "
        "(SELECT 1 FROM checkpoints c WHERE c.thread_id = w.thread_id "
        "AND c.checkpoint_ns = w.checkpoint_ns AND c.checkpoint_id = w.checkpoint_id)",
        params,
    )
    await conn.execute(
        "DELETE FROM checkpoint_blobs b WHERE thread_id = %(t)s AND NOT EXISTS "
        "(SELECT 1 FROM checkpoints c WHERE c.thread_id = b.thread_id "
        "AND c.checkpoint_ns = b.checkpoint_ns "
        "AND c.checkpoint -> 'channel_versions' ->> b.channel = b.version)",
        params,
    )


async def copy_thread_checkpoints(
    conn: AsyncConnection[DictRow], source: uuid.UUID, target: uuid.UUID
) -> None:
    """Copy every row of the source thread to the target, every column included.

    The columns are read from the catalogue, so a column a LangGraph release adds is
    copied too rather than silently dropped. A checkpoint's metadata names the copy as
    its thread, as on LangGraph's server.
    """
    for table in CHECKPOINT_TABLES:
        columns = [c for c in await _columns(conn, table) if c != "thread_id"]
        names = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
        values = sql.SQL(", ").join(
            sql.SQL(_RENAMED_METADATA) if c == "metadata" and table == "checkpoints"
            else sql.Identifier(c)
            for c in columns
        )  # fmt: skip
        await conn.execute(
            sql.SQL(
                "INSERT INTO {table} (thread_id, {names}) SELECT %(target)s, {values} "
                "FROM {table} WHERE thread_id = %(source)s"
            ).format(table=sql.Identifier(table), names=names, values=values),
            {"target": str(target), "source": str(source)},
        )


# The metadata of a copied checkpoint, its `thread_id` (where it has one) the copy's.
_RENAMED_METADATA = (
    "CASE WHEN metadata ? 'thread_id' THEN jsonb_set(metadata, '{thread_id}', "
    "to_jsonb(%(target)s::text)) ELSE metadata END"
)


async def delete_run_checkpoints(
    conn: AsyncConnection[DictRow], thread_id: uuid.UUID, run_id: uuid.UUID
) -> None:
    """Roll a thread back past a run: the checkpoints it wrote, and their pending writes."""
    cur = await conn.execute(
        "DELETE FROM checkpoints WHERE thread_id = %s AND metadata->>'run_id' = %s "
        "RETURNING checkpoint_ns, checkpoint_id",
        (str(thread_id), str(run_id)),
    )
    for row in await cur.fetchall():
        await conn.execute(
            "DELETE FROM checkpoint_writes WHERE thread_id = %s AND checkpoint_ns = %s "
            "AND checkpoint_id = %s",
            (str(thread_id), row["checkpoint_ns"], row["checkpoint_id"]),
        )


async def _columns(conn: AsyncConnection[DictRow], table: str) -> list[str]:
    cur = await conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass "
        "AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        (table,),
    )
    return [str(row["attname"]) for row in await cur.fetchall()]
