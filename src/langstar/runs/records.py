"""The `runs` table as its owner reads it, and the events a resumable run keeps.

Every change of a run's status is in `langstar.lifecycle`.
"""

from __future__ import annotations

import uuid
from typing import Any

from langstar.access import Filter, filter_sql
from langstar.db.json_encryption import RUN_FIELDS, JsonCipher
from langstar.db.pool import Pool
from langstar.errors import ConflictError, NotFoundError
from langstar.lifecycle import INFLIGHT_SQL, RUN_COLUMNS, CancelAction, Run, request_cancel


class RunRecords:
    """Run rows of one owner; every statement takes its own pooled connection."""

    def __init__(self, pool: Pool, owner: str, cipher: JsonCipher | None = None) -> None:
        self._pool = pool
        self._owner = owner
        self._cipher = cipher or JsonCipher()

    async def opened(self, run: Run) -> Run:
        """`run` (changed in place) with its metadata and kwargs as they were given, for a
        row the project's JSON handlers sealed."""
        for field in RUN_FIELDS:
            setattr(run, field, await self._cipher.open("run", field, getattr(run, field)))
        return run

    async def get(self, thread_id: uuid.UUID, run_id: uuid.UUID) -> Run:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = %s AND thread_id = %s "
                "AND owner = %s",
                (run_id, thread_id, self._owner),
            )
            row = await cur.fetchone()
        if row is None:
            raise NotFoundError("run", run_id)
        return await self.opened(Run(**row))

    async def get_by_id(self, run_id: uuid.UUID) -> Run | None:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = %s AND owner = %s",
                (run_id, self._owner),
            )
            row = await cur.fetchone()
        return None if row is None else await self.opened(Run(**row))

    async def error_of(self, run_id: uuid.UUID) -> dict[str, Any] | None:
        async with self._pool.connection() as conn:
            cur = await conn.execute("SELECT error FROM runs WHERE run_id = %s", (run_id,))
            row = await cur.fetchone()
        return None if row is None else row["error"]

    async def list_runs(
        self, thread_id: uuid.UUID, *, limit: int, offset: int, status: str | None
    ) -> list[Run]:
        sql = f"SELECT {RUN_COLUMNS} FROM runs WHERE thread_id = %s AND owner = %s"
        params: list[Any] = [thread_id, self._owner]
        if status is not None:
            sql += " AND status = %s"
            params.append(status)
        sql += " ORDER BY created_at DESC, run_id LIMIT %s OFFSET %s"
        async with self._pool.connection() as conn:
            cur = await conn.execute(sql, [*params, limit, offset])
            return [await self.opened(Run(**row)) for row in await cur.fetchall()]

    async def ids_with_status(
        self,
        statuses: list[str],
        thread_id: uuid.UUID | None,
        run_ids: list[uuid.UUID] | None,
        thread_filter: Filter,
    ) -> list[uuid.UUID]:
        """The owner's runs in these statuses, optionally only these runs of one thread, on
        threads whose metadata matches `thread_filter`."""
        visible, visible_params = filter_sql(thread_filter)
        sql = (
            "SELECT run_id FROM runs WHERE owner = %s AND status = ANY(%s) AND thread_id IN "
            f"(SELECT thread_id FROM threads WHERE {visible})"
        )
        params: list[Any] = [self._owner, statuses, *visible_params]
        if run_ids is not None:
            sql += " AND thread_id = %s AND run_id = ANY(%s)"
            params += [thread_id, run_ids]
        async with self._pool.connection() as conn:
            cur = await conn.execute(sql, params)
            return [row["run_id"] for row in await cur.fetchall()]

    async def delete(self, thread_id: uuid.UUID, run_id: uuid.UUID) -> None:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "DELETE FROM runs WHERE run_id = %s AND thread_id = %s AND owner = %s "
                f"AND status NOT IN {INFLIGHT_SQL} RETURNING 1",
                (run_id, thread_id, self._owner),
            )
            if await cur.fetchone() is None:
                await self.get(thread_id, run_id)  # 404 when it is not ours
                raise ConflictError(f"Run {run_id} is still in flight; cancel it first")

    async def request_cancel(
        self, run_ids: list[uuid.UUID], action: CancelAction
    ) -> list[uuid.UUID]:
        """Flag in-flight runs for cancellation; returns those that were in flight."""
        return await request_cancel(self._pool, run_ids, self._owner, action)


async def save_event(
    pool: Pool,
    run_id: uuid.UUID,
    seq: int,
    event: str,
    data: bytes,
    fence: tuple[str, int] | None = None,
) -> None:
    """Store a resumable run's event; with `fence` (the server and attempt executing it),
    only while that server holds that attempt, so a server that lost the run stores none."""
    if fence is None:
        sql, params = "VALUES (%s, %s, %s, %s)", [run_id, seq, event, data.decode()]
    else:
        sql = (
            "SELECT %s, %s, %s, %s WHERE EXISTS (SELECT 1 FROM runs WHERE run_id = %s "
            "AND worker = %s AND attempt = %s)"
        )
        params = [run_id, seq, event, data.decode(), run_id, *fence]
    async with pool.connection() as conn:
        await conn.execute(f"INSERT INTO run_events (run_id, seq, event, data) {sql}", params)


async def saved_events(pool: Pool, run_id: uuid.UUID, after: int) -> list[tuple[int, str, bytes]]:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT seq, event, data FROM run_events WHERE run_id = %s AND seq > %s ORDER BY seq",
            (run_id, after),
        )
        return [(r["seq"], r["event"], r["data"].encode()) for r in await cur.fetchall()]


async def last_seq(pool: Pool, run_id: uuid.UUID) -> int:
    """The sequence number of the run's last stored event (0: none)."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT coalesce(max(seq), 0) AS seq FROM run_events WHERE run_id = %s", (run_id,)
        )
        row = await cur.fetchone()
    return int(row["seq"]) if row else 0
