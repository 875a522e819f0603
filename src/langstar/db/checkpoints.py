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
        """Only the newest checkpoint of each namespace, and what its state is read from."""


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


# What keep_latest keeps: the newest checkpoint of each namespace, and the ancestors its
# `DeltaChannel`s are read from. Such a channel (named in the checkpoint's metadata,
# `counters_since_delta_snapshot`) stores its value only every `snapshot_frequency`
# updates; LangGraph rebuilds it by replaying the writes of each ancestor back to the
# nearest one that stores it (`get_delta_channel_history`), so without them it reads empty.
# The walk follows the parents as LangGraph's does while a channel has no value stored
# (a blob, or inline) at the checkpoint reached, and keeps each one it passes.
_KEPT_CHECKPOINTS = """
WITH RECURSIVE kept AS (
    SELECT h.checkpoint_ns, h.checkpoint_id, h.parent_checkpoint_id, h.checkpoint,
        ARRAY(
            SELECT k FROM jsonb_object_keys(CASE
                WHEN jsonb_typeof(h.metadata -> 'counters_since_delta_snapshot') = 'object'
                THEN h.metadata -> 'counters_since_delta_snapshot' ELSE '{}' END) AS k
            WHERE h.checkpoint -> 'channel_versions' ? k
        ) AS replayed
    FROM (
        SELECT DISTINCT ON (checkpoint_ns)
            checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata
        FROM checkpoints WHERE thread_id = %(t)s
        ORDER BY checkpoint_ns DESC, checkpoint_id DESC
    ) AS h
    UNION ALL
    SELECT p.checkpoint_ns, p.checkpoint_id, p.parent_checkpoint_id, p.checkpoint, unseeded.channels
    FROM kept c
    CROSS JOIN LATERAL (
        SELECT array_agg(k) AS channels FROM unnest(c.replayed) AS k
        WHERE coalesce(c.checkpoint -> 'channel_values' -> k, 'null') = 'null'
        AND NOT EXISTS (
            SELECT 1 FROM checkpoint_blobs b WHERE b.thread_id = %(t)s
            AND b.checkpoint_ns = c.checkpoint_ns AND b.channel = k
            AND b.version = c.checkpoint -> 'channel_versions' ->> k AND b.type <> 'empty'
        )
    ) AS unseeded
    JOIN checkpoints p ON p.thread_id = %(t)s AND p.checkpoint_ns = c.checkpoint_ns
        AND p.checkpoint_id = c.parent_checkpoint_id AND p.checkpoint_id < c.checkpoint_id
    WHERE unseeded.channels IS NOT NULL
)
"""


async def keep_latest_checkpoint(conn: AsyncConnection[DictRow], thread_id: uuid.UUID) -> None:
    """Keep only the newest checkpoint of each namespace, the ancestors its `DeltaChannel`
    values are rebuilt from (`_KEPT_CHECKPOINTS`), and the blobs and writes of those."""
    params = {"t": str(thread_id)}
    await conn.execute(
        _KEPT_CHECKPOINTS + "DELETE FROM checkpoints c WHERE thread_id = %(t)s AND NOT EXISTS "
        "(SELECT 1 FROM kept k WHERE k.checkpoint_ns = c.checkpoint_ns "
        "AND k.checkpoint_id = c.checkpoint_id)",
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
