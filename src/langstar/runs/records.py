"""The `runs` table: what every run is, who owns it, and how it ended."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

import msgspec
from litestar.exceptions import NotFoundException
from psycopg import AsyncConnection
from psycopg.errors import UniqueViolation
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from langstar.db.pool import Pool
from langstar.errors import Conflict
from langstar.threads.service import jsonb

RunStatus = Literal["pending", "running", "success", "error", "timeout", "interrupted"]
INFLIGHT = ("pending", "running")
_COLUMNS = (
    "run_id, thread_id, assistant_id, status, metadata, multitask_strategy, kwargs, "
    "created_at, updated_at"
)


class Run(msgspec.Struct, kw_only=True):
    run_id: uuid.UUID
    thread_id: uuid.UUID
    assistant_id: uuid.UUID
    status: RunStatus
    metadata: dict[str, Any]
    multitask_strategy: str
    kwargs: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class RunRecords:
    """Run rows of one owner; every statement takes its own pooled connection."""

    def __init__(self, pool: Pool, owner: str) -> None:
        self._pool = pool
        self._owner = owner

    async def insert(
        self,
        conn: AsyncConnection[DictRow],
        *,
        run_id: uuid.UUID,
        thread_id: uuid.UUID,
        assistant_id: uuid.UUID,
        graph_id: str,
        metadata: dict[str, Any],
        kwargs: dict[str, Any],
        multitask_strategy: str,
        worker: str,
        lease_seconds: float,
        status: RunStatus = "pending",
    ) -> Run:
        cur = await conn.execute(
            f"INSERT INTO runs (run_id, thread_id, assistant_id, graph_id, owner, metadata, "
            f"kwargs, multitask_strategy, worker, lease_expires_at, status) "
            f"VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, now() + make_interval(secs => %s), %s) "
            f"RETURNING {_COLUMNS}",
            (
                run_id,
                thread_id,
                assistant_id,
                graph_id,
                self._owner,
                jsonb(metadata),
                jsonb(kwargs),
                multitask_strategy,
                worker,
                lease_seconds,
                status,
            ),
        )
        row = await cur.fetchone()
        assert row is not None
        return Run(**row)

    async def get(self, thread_id: uuid.UUID, run_id: uuid.UUID) -> Run:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {_COLUMNS} FROM runs WHERE run_id = %s AND thread_id = %s AND owner = %s",
                (run_id, thread_id, self._owner),
            )
            row = await cur.fetchone()
        if row is None:
            raise NotFoundException(f"Run {run_id} not found")
        return Run(**row)

    async def get_by_id(self, run_id: uuid.UUID) -> Run | None:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {_COLUMNS} FROM runs WHERE run_id = %s AND owner = %s",
                (run_id, self._owner),
            )
            row = await cur.fetchone()
        return None if row is None else Run(**row)

    async def error_of(self, run_id: uuid.UUID) -> dict[str, Any] | None:
        async with self._pool.connection() as conn:
            cur = await conn.execute("SELECT error FROM runs WHERE run_id = %s", (run_id,))
            row = await cur.fetchone()
        return None if row is None else row["error"]

    async def list_runs(
        self, thread_id: uuid.UUID, *, limit: int, offset: int, status: str | None
    ) -> list[Run]:
        sql = f"SELECT {_COLUMNS} FROM runs WHERE thread_id = %s AND owner = %s"
        params: list[Any] = [thread_id, self._owner]
        if status is not None:
            sql += " AND status = %s"
            params.append(status)
        sql += " ORDER BY created_at DESC, run_id LIMIT %s OFFSET %s"
        async with self._pool.connection() as conn:
            cur = await conn.execute(sql, [*params, limit, offset])
            return [Run(**row) for row in await cur.fetchall()]

    async def delete(self, thread_id: uuid.UUID, run_id: uuid.UUID) -> None:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "DELETE FROM runs WHERE run_id = %s AND thread_id = %s AND owner = %s "
                "AND status NOT IN ('pending', 'running') RETURNING 1",
                (run_id, thread_id, self._owner),
            )
            if await cur.fetchone() is None:
                await self.get(thread_id, run_id)  # 404 when it is not ours
                raise Conflict(f"Run {run_id} is still in flight; cancel it first")

    async def request_cancel(self, run_ids: list[uuid.UUID], action: str) -> list[uuid.UUID]:
        """Flag in-flight runs for cancellation; returns those that were in flight."""
        async with self._pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "UPDATE runs SET cancel_action = %s, updated_at = now() "
                "WHERE run_id = ANY(%s) AND owner = %s AND status IN ('pending', 'running') "
                "RETURNING run_id",
                (action, run_ids, self._owner),
            )
            flagged = [row["run_id"] for row in await cur.fetchall()]
            await announce_cancel(conn, flagged, action)
        return flagged


CANCEL_CHANNEL = "langstar_cancel"


async def announce_cancel(
    conn: AsyncConnection[DictRow], run_ids: list[uuid.UUID], action: str
) -> None:
    """Tell every server process, on commit, that these runs are to stop.

    The flag in `runs.cancel_action` is the durable record; the notification only makes
    the process that runs them act at once.
    """
    for run_id in run_ids:
        await conn.execute("SELECT pg_notify(%s, %s)", (CANCEL_CHANNEL, f"{run_id}:{action}"))


LOST = {
    "error": "RunLost",
    "message": "the server process running it stopped before it finished",
}


async def renew(
    conn: AsyncConnection[DictRow], worker: str, run_ids: list[uuid.UUID], lease_seconds: float
) -> None:
    """Extend this process's hold on the runs it executes."""
    if run_ids:
        await conn.execute(
            "UPDATE runs SET lease_expires_at = now() + make_interval(secs => %s) "
            "WHERE run_id = ANY(%s) AND worker = %s AND status IN ('pending', 'running')",
            (lease_seconds, run_ids, worker),
        )


async def reap(
    conn: AsyncConnection[DictRow],
    thread_id: uuid.UUID | None = None,
    *,
    alive: list[uuid.UUID],
) -> int:
    """Fail the in-flight runs whose process died (their lease lapsed), freeing their threads.

    `alive` names runs the caller itself is executing: their lease may have lapsed while
    the database was out of reach, but they are not lost, and never failed here.
    """
    async with conn.transaction():
        # Threads first, in a fixed order, as run creation locks them: no deadlock.
        await conn.execute(
            "SELECT 1 FROM threads WHERE thread_id IN (SELECT thread_id FROM runs "
            "WHERE status IN ('pending', 'running') AND lease_expires_at < now() "
            "AND run_id <> ALL(%s)"
            + (" AND thread_id = %s" if thread_id is not None else "")
            + ") ORDER BY thread_id FOR UPDATE",
            [alive] if thread_id is None else [alive, thread_id],
        )
        sql = (
            "UPDATE runs SET status = 'error', error = %s, updated_at = now() "
            "WHERE status IN ('pending', 'running') AND lease_expires_at < now() "
            "AND run_id <> ALL(%s)"
        )
        params: list[Any] = [jsonb(LOST), alive]
        if thread_id is not None:
            sql += " AND thread_id = %s"
            params.append(thread_id)
        cur = await conn.execute(sql + " RETURNING thread_id", params)
        threads = list({row["thread_id"] for row in await cur.fetchall()})
        if threads:
            await conn.execute(
                "UPDATE threads t SET status = CASE WHEN EXISTS (SELECT 1 FROM runs r "
                "WHERE r.thread_id = t.thread_id AND r.status IN ('pending', 'running')) "
                "THEN 'busy' ELSE 'error' END, error = %s, updated_at = now() "
                "WHERE t.thread_id = ANY(%s)",
                (jsonb(LOST), threads),
            )
        return len(threads)


async def claim(pool: Pool, run: Run) -> str | None:
    """Start the run if it is its thread's turn; returns why not, or None once running.

    The partial unique index on running runs is what guarantees one run per thread,
    even across server processes; the ordering clause keeps queued runs first-in first-out.
    """
    async with pool.connection() as conn:
        try:
            cur = await conn.execute(
                "UPDATE runs SET status = 'running', updated_at = now() "
                "WHERE run_id = %(run)s AND status = 'pending' AND cancel_action IS NULL "
                "AND NOT EXISTS (SELECT 1 FROM runs o WHERE o.thread_id = %(thread)s "
                "AND o.status = 'pending' AND o.run_id <> %(run)s "
                "AND (o.created_at, o.run_id) < (%(created)s, %(run)s)) "
                "RETURNING 1",
                {"run": run.run_id, "thread": run.thread_id, "created": run.created_at},
            )
            if await cur.fetchone() is not None:
                return None
        except UniqueViolation:
            return "busy"
        cur = await conn.execute(
            "SELECT status, cancel_action FROM runs WHERE run_id = %s", (run.run_id,)
        )
        row = await cur.fetchone()
    if row is None:
        return "gone"
    if row["cancel_action"] is not None:
        return "cancelled"
    return "waiting" if row["status"] == "pending" else "gone"


async def finish(
    pool: Pool,
    run: Run,
    *,
    status: RunStatus,
    thread_status: str,
    values: bytes | None,
    interrupts: dict[str, Any],
    error: dict[str, str] | None,
) -> None:
    """Record how the run ended and what the thread now holds: one transaction, one trip.

    `values` is the thread's new values as JSON; `None` keeps the old ones.
    """
    async with pool.connection() as conn, conn.transaction(), conn.pipeline():
        await lock_thread(conn, run.thread_id)
        # A run already failed as lost keeps that verdict: its thread may have moved on.
        await conn.execute(
            "UPDATE runs SET status = %s, error = %s, updated_at = now() "
            "WHERE run_id = %s AND status IN ('pending', 'running')",
            (status, None if error is None else jsonb(error), run.run_id),
        )
        await conn.execute(
            "UPDATE threads SET status = CASE WHEN EXISTS (SELECT 1 FROM runs "
            "WHERE thread_id = %(thread)s AND status IN ('pending', 'running')) THEN 'busy' "
            "ELSE %(status)s END, values = coalesce(%(values)s, values), "
            "interrupts = %(interrupts)s, error = %(error)s, "
            "updated_at = now(), state_updated_at = now() WHERE thread_id = %(thread)s",
            {
                "thread": run.thread_id,
                "status": thread_status,
                "values": None if values is None else Jsonb(values, dumps=_as_is),
                "interrupts": jsonb(interrupts),
                "error": None if error is None else jsonb(error),
            },
        )


def _as_is(encoded: bytes) -> bytes:
    return encoded


async def lock_thread(conn: AsyncConnection[DictRow], thread_id: uuid.UUID) -> None:
    """Take the thread's row lock first, as run creation does, so the two never deadlock."""
    await conn.execute("SELECT 1 FROM threads WHERE thread_id = %s FOR UPDATE", (thread_id,))


async def discard(pool: Pool, run: Run) -> None:
    """Roll a run back: its row and every checkpoint it wrote go away."""
    async with pool.connection() as conn, conn.transaction():
        await lock_thread(conn, run.thread_id)
        run_id = str(run.run_id)
        thread_id = str(run.thread_id)
        cur = await conn.execute(
            "DELETE FROM checkpoints WHERE thread_id = %s AND metadata->>'run_id' = %s "
            "RETURNING checkpoint_ns, checkpoint_id",
            (thread_id, run_id),
        )
        removed = await cur.fetchall()
        for row in removed:
            await conn.execute(
                "DELETE FROM checkpoint_writes WHERE thread_id = %s AND checkpoint_ns = %s "
                "AND checkpoint_id = %s",
                (thread_id, row["checkpoint_ns"], row["checkpoint_id"]),
            )
        await conn.execute("DELETE FROM runs WHERE run_id = %s", (run.run_id,))
        await conn.execute(
            "UPDATE threads SET status = CASE WHEN EXISTS (SELECT 1 FROM runs "
            "WHERE thread_id = %(thread)s AND status IN ('pending', 'running')) THEN 'busy' "
            "ELSE 'idle' END, updated_at = now() WHERE thread_id = %(thread)s",
            {"thread": run.thread_id},
        )


async def save_event(pool: Pool, run_id: uuid.UUID, seq: int, event: str, data: bytes) -> None:
    async with pool.connection() as conn:
        await conn.execute(
            "INSERT INTO run_events (run_id, seq, event, data) VALUES (%s, %s, %s, %s)",
            (run_id, seq, event, data.decode()),
        )


async def saved_events(pool: Pool, run_id: uuid.UUID, after: int) -> list[tuple[int, str, bytes]]:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT seq, event, data FROM run_events WHERE run_id = %s AND seq > %s ORDER BY seq",
            (run_id, after),
        )
        return [(r["seq"], r["event"], r["data"].encode()) for r in await cur.fetchall()]


def encode_error(exc: BaseException) -> dict[str, str]:
    """How a failure is reported to clients: its type and its message."""
    return {"error": type(exc).__name__, "message": str(exc)}
