"""Runs and threads: every status they take, and every statement that changes one.

A run is admitted `pending`, or `running` when nothing is ahead of it on its thread; a
pending run is claimed `running` when its turn comes. It ends `success`, `error`,
`timeout` or `interrupted`, or is deleted when it is rolled back or its thread is
deleted. A run goes back to `pending`, held by no server, when its server hands it off
at shutdown, or when its server died (its lease lapsed: a new attempt, up to
`runs.max_attempts`; past that it fails `error`, `RunLost`); any server then takes it
and resumes it from its last checkpoint. Every write a run's executor makes is fenced by
its server and attempt, so a server that lost a run cannot write after another took it.

A thread is `busy` exactly while a run is in flight on it (or a state update holds it);
otherwise it shows how its last run ended: `idle`, `interrupted` (waiting for input) or
`error`. One run per thread runs at a time: the partial unique index on running runs
enforces it, even across server processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import msgspec
import psycopg
from psycopg import AsyncConnection, AsyncCursor, OperationalError
from psycopg.errors import UniqueViolation
from psycopg.pq import PipelineStatus, TransactionStatus
from psycopg.rows import DictRow

from langstar.access import Filter, filter_sql
from langstar.db.checkpoints import OWN_CHECKPOINTS, ThreadCheckpoints
from langstar.db.fencing import FENCED
from langstar.db.jsonb import jsonb, jsonb_encoded
from langstar.db.pool import Pool
from langstar.errors import ConflictError, NotFoundError, NotSupportedError, TooManyError

RunStatus = Literal["pending", "running", "success", "error", "timeout", "interrupted"]
ThreadStatus = Literal["idle", "busy", "interrupted", "error"]
CancelAction = Literal["interrupt", "rollback"]

# Every move a status may make; the statements below move only from a status listed here.
RUN_MOVES: dict[RunStatus, frozenset[RunStatus]] = {
    "pending": frozenset({"running", "error", "interrupted"}),
    "running": frozenset({"success", "error", "timeout", "interrupted", "pending"}),
    "success": frozenset(),
    "error": frozenset(),
    "timeout": frozenset(),
    "interrupted": frozenset(),
}
THREAD_MOVES: dict[ThreadStatus, frozenset[ThreadStatus]] = {
    "idle": frozenset({"busy"}),
    "busy": frozenset({"idle", "interrupted", "error"}),
    "interrupted": frozenset({"busy"}),
    "error": frozenset({"busy"}),
}

INFLIGHT: tuple[RunStatus, ...] = ("pending", "running")


def sql_list(values: tuple[str, ...] | frozenset[str]) -> str:
    """A status list written into SQL, so the partial indexes on it apply to the query."""
    return "(" + ", ".join(f"'{value}'" for value in sorted(values)) + ")"


def _from(target: RunStatus) -> str:
    return sql_list(frozenset(s for s, moves in RUN_MOVES.items() if target in moves))


INFLIGHT_SQL = sql_list(INFLIGHT)


def thread_status_after_run(otherwise: str, *, besides: str = "") -> str:
    """A thread's status once a run on it ended or went: busy while another is in flight.

    `besides` is SQL naming the run that ended, for a statement that cannot yet see its
    new status.
    """
    other = f" AND r.run_id <> {besides}" if besides else ""
    return (
        "CASE WHEN EXISTS (SELECT 1 FROM runs r WHERE r.thread_id = threads.thread_id "
        f"AND r.status IN {INFLIGHT_SQL}{other}) THEN 'busy' ELSE {otherwise} END"
    )


# A thread with a TTL expires that long after its last run began or its TTL was set.
EXPIRES_AFTER_ACTIVITY = (
    "CASE WHEN ttl_minutes IS NULL THEN NULL "
    "ELSE now() + make_interval(secs => ttl_minutes * 60) END"
)

CANCEL_CHANNEL = "langstar_cancel"
# The cancel of a run whose row is gone with its thread: it stops, and what it wrote goes.
GONE = "gone"
THREAD_DELETED = {
    "error": "ThreadDeleted",
    "message": "the run's thread was deleted while the run was in flight",
}
# `NewRun.max_runs_per_owner` for a caller with no cap on runs in flight.
UNCAPPED = 2**31 - 1
# How long an admission whose answer was lost asks whether it was recorded: about as long
# as PostgreSQL takes to restart or a managed one to fail over.
UNKNOWN_OUTCOME_SECONDS = 15.0
UNKNOWN_OUTCOME_RETRY_SECONDS = 0.25
RUN_COLUMNS = (
    "run_id, thread_id, assistant_id, status, metadata, multitask_strategy, kwargs, "
    "created_at, updated_at"
)


class Run(msgspec.Struct, kw_only=True):
    """A run's record, as clients see it."""

    run_id: uuid.UUID
    thread_id: uuid.UUID
    assistant_id: uuid.UUID
    status: RunStatus
    metadata: dict[str, Any]
    multitask_strategy: str
    kwargs: dict[str, Any]
    created_at: datetime
    updated_at: datetime


# Admission


@dataclass(frozen=True, slots=True)
class NewRun:
    """What admission records of a run, and the limits it is admitted under."""

    run_id: uuid.UUID
    thread_id: uuid.UUID
    owner: str
    user_id: str  # the user it acts for; the per-user cap counts by it
    assistant_id: uuid.UUID
    graph_id: str
    metadata: dict[str, Any]
    kwargs: dict[str, Any]
    strategy: str
    worker: str
    lease_seconds: float
    may_create_thread: bool
    delayed: bool
    max_runs_per_owner: int
    # The metadata the caller's access lets their runs' thread have (`{}`: any).
    thread_filter: Filter = field(default_factory=dict)
    # The assistant's config: with the run's, it sets the config of a thread not busy.
    assistant_config: dict[str, Any] = field(default_factory=dict)
    # Why a `rollback` cannot be done here (the checkpointer cannot delete a run's
    # checkpoints): refused only when there is a run in flight to roll back.
    rollback_refused: str = ""
    # Whom it acts for, kept so that any server can resume it (`runs.acting`).
    identity: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Admission:
    """The admitted run, and the runs on its thread it cancels (its multitask strategy)."""

    run: Run
    cancelled: list[uuid.UUID]


async def admit(pool: Pool, new: NewRun) -> Admission:
    """Record a run on its thread, creating the thread if allowed: one transaction, in
    two round trips (`BEGIN` travels with the reads, `COMMIT` with the writes).

    A connection lost meanwhile (a failover, the server cutting it) leaves the outcome
    unknown: the `COMMIT` may have been carried out before the answer was lost. The
    run's id is chosen here, so its row tells. Admitted, it is returned (the runs its
    strategy cancels were flagged and announced by that transaction); else nothing was
    written and admitting it again is safe. Either way the run is not left recorded and
    held by no one, blocking its thread until its lease lapses, unless the database stays
    out of reach longer than `UNKNOWN_OUTCOME_SECONDS`.
    """
    try:
        return await _admit_once(pool, new)
    except OperationalError:
        row = await _recorded_run(pool, new.run_id)
        if row is not None:
            return Admission(Run(**row), [])
        return await _admit_once(pool, new)


async def _recorded_run(pool: Pool, run_id: uuid.UUID) -> DictRow | None:
    """The run's row, asked until the database answers (within `UNKNOWN_OUTCOME_SECONDS`).

    Asked once, the question fails as the admission did while the database restarts:
    the client is told to retry, and a run it was not told of holds its thread.
    """
    deadline = asyncio.get_running_loop().time() + UNKNOWN_OUTCOME_SECONDS
    while True:
        try:
            async with pool.connection() as conn:
                cursor = await conn.execute(
                    f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = %s", (run_id,)
                )
                return await cursor.fetchone()
        except OperationalError:
            if asyncio.get_running_loop().time() >= deadline:
                raise
            await asyncio.sleep(UNKNOWN_OUTCOME_RETRY_SECONDS)


async def _admit_once(pool: Pool, new: NewRun) -> Admission:
    async with pool.connection() as conn:
        try:
            async with conn.pipeline():
                await conn.execute("BEGIN")
                owner, found, cancelled = await _look(conn, new)
                inserted = await _write(conn, new, owner, found, cancelled)
                await conn.execute("COMMIT")
            row = await inserted.fetchone()
        except BaseException:
            await abandon(conn)
            raise
    assert row is not None
    return Admission(Run(**row), cancelled)


async def admit_on(conn: AsyncConnection[DictRow], new: NewRun) -> Admission:
    """Record a run on its thread, within the caller's transaction (a cron's fire)."""
    async with conn.transaction():  # a savepoint: a refused run leaves the caller's work
        owner, found, cancelled = await _look(conn, new)
        async with conn.pipeline():  # the writes, in one round trip
            inserted = await _write(conn, new, owner, found, cancelled)
        row = await inserted.fetchone()
    assert row is not None
    return Admission(Run(**row), cancelled)


async def abandon(conn: AsyncConnection[DictRow]) -> None:
    """Roll back a transaction begun by hand, so the pool gets the connection back idle
    (a broken connection is the pool's to discard)."""
    if conn.closed or conn.info.transaction_status == TransactionStatus.IDLE:
        return
    with contextlib.suppress(Exception):
        await conn.execute("ROLLBACK")


async def _look(
    conn: AsyncConnection[DictRow], new: NewRun
) -> tuple[str | None, dict[str, Any], list[uuid.UUID]]:
    """The thread's lock is taken first, then what is in flight on it is read (after the
    lock: the statements run in order, so the read sees what the lock waited for).
    Raises if the run may not be admitted; else the runs its strategy cancels."""
    owner, found = await _lock_and_look(conn, new)
    inflight: list[uuid.UUID] = found["inflight"]
    _check_admission(new, owner, found, inflight)
    cancelled = inflight if new.strategy in ("interrupt", "rollback") else []
    return owner, found, cancelled


async def _write(
    conn: AsyncConnection[DictRow],
    new: NewRun,
    owner: str | None,
    found: dict[str, Any],
    cancelled: list[uuid.UUID],
) -> AsyncCursor[DictRow]:
    """The admission's writes, queued in the caller's pipeline; the run's row is read
    from the returned cursor once they are sent."""
    if owner is None:
        # A thread made for its first run takes the run's metadata, as on
        # LangGraph's server (an owner stamped on the run marks the thread too). It is
        # written busy at once: one row version, not an insert and then an update.
        await conn.execute(
            "INSERT INTO threads (thread_id, owner, metadata, config, status, graph_id) "
            "VALUES (%s, %s, %s, %s, 'busy', %s)",
            (
                new.thread_id,
                new.owner,
                jsonb({**new.metadata, **_tags(new)}),
                jsonb(_first_thread_config(new)),
                new.graph_id,
            ),
        )
    if cancelled:
        await conn.execute(
            "UPDATE runs SET cancel_action = %s WHERE run_id = ANY(%s)",
            (new.strategy, cancelled),
        )
        await announce_cancel(conn, cancelled, new.strategy)
    if owner is not None:
        await _mark_busy(conn, new)
    # Nothing ahead of it on a thread locked here: it starts as it is created,
    # which saves the executor a transaction to claim it.
    status: RunStatus = "pending" if found["inflight"] or new.delayed else "running"
    return await _insert_run(conn, new, status, _run_metadata(new, owner, found))


# A user's live runs, counted up to the cap (an uncapped user's are not counted at all).
_LIVE_SQL = (
    "(SELECT count(*) FROM (SELECT FROM runs WHERE user_id = %(user)s "
    f"AND status IN {INFLIGHT_SQL} AND NOT coalesce(lease_expires_at < now(), false) "
    "LIMIT %(cap)s) AS capped)"
)


async def _lock_and_look(
    conn: AsyncConnection[DictRow], new: NewRun
) -> tuple[str | None, dict[str, Any]]:
    """The thread's owner (None if there is no thread), locked, and its in-flight runs."""
    visible, visible_params = filter_sql(new.thread_filter)
    # In the caller's pipeline already, a block of its own would cost a round trip.
    in_pipeline = conn.pgconn.pipeline_status != PipelineStatus.OFF
    async with contextlib.nullcontext() if in_pipeline else conn.pipeline():
        thread_cur = await conn.execute(
            f"SELECT owner, metadata, {visible} AS visible FROM threads "
            "WHERE thread_id = %s FOR UPDATE",
            [*visible_params, new.thread_id],
        )
        # The owner's live runs, counted only up to the cap, and this thread's in-flight
        # runs, which take their turn first: one whose server died is resumed by another.
        inflight_cur = await conn.execute(
            f"SELECT {_LIVE_SQL if new.max_runs_per_owner < UNCAPPED else '0'} AS live, "
            "coalesce(array_agg(run_id), '{}') AS inflight "
            "FROM runs WHERE owner = %(owner)s AND thread_id = %(thread)s "
            f"AND status IN {INFLIGHT_SQL}",
            {
                "owner": new.owner,
                "user": new.user_id,
                "thread": new.thread_id,
                "cap": new.max_runs_per_owner,
            },
        )
    row = await thread_cur.fetchone()
    found = await inflight_cur.fetchone()
    assert found is not None
    found = {
        **found,
        "visible": row is None or bool(row["visible"]),
        "metadata": None if row is None else row["metadata"],
    }
    return (None if row is None else str(row["owner"])), found


def _check_admission(
    new: NewRun, owner: str | None, found: dict[str, Any], inflight: list[uuid.UUID]
) -> None:
    hidden = owner is not None and (owner != new.owner or not found["visible"])
    if hidden or (owner is None and not new.may_create_thread):
        raise NotFoundError("thread", new.thread_id)
    if found["live"] >= new.max_runs_per_owner:
        raise TooManyError(
            f"{new.max_runs_per_owner} runs already pending or running for this "
            "user (limits.max_runs_per_user); retry when one has finished"
        )
    if inflight and new.strategy == "reject":
        raise ConflictError(f"Thread {new.thread_id} is already running a run; try again later")
    if inflight and new.strategy == "rollback" and new.rollback_refused:
        raise NotSupportedError(new.rollback_refused)


def _tags(new: NewRun) -> dict[str, str]:
    """What a run stamps on its thread's metadata."""
    return {"graph_id": new.graph_id, "assistant_id": str(new.assistant_id)}


def _run_metadata(new: NewRun, owner: str | None, found: dict[str, Any]) -> dict[str, Any]:
    """The run's metadata but its assistant's (`_insert_run` puts that first), as on
    LangGraph's server: its thread's (stamped with the run's graph and assistant unless
    busy; a thread made for the run gives nothing), then the run's own, and always the
    run's own assistant."""
    thread: dict[str, Any] = {}
    if owner is not None:
        thread = {**(found.get("metadata") or {})}
        if not found["inflight"]:
            thread.update(_tags(new))
    return {**thread, **new.metadata, "assistant_id": str(new.assistant_id)}


def _first_thread_config(new: NewRun) -> dict[str, Any]:
    """The config of a thread made for its first run, as LangGraph's server sets it: the
    assistant's, then the run's, but only the assistant's `configurable`."""
    configurable = new.assistant_config.get("configurable") or {}
    return {
        **new.assistant_config,
        **(new.kwargs.get("config") or {}),
        "configurable": configurable,
    }


# A thread not busy takes the assistant's config, then its own, then the run's; of
# `configurable`, only the assistant's then its own (LangGraph's server's rule).
_THREAD_CONFIG_SQL = (
    "CASE WHEN status = 'busy' THEN config ELSE %(assistant)s || config || %(run)s || "
    "jsonb_build_object('configurable', coalesce(%(assistant)s -> 'configurable', '{}') "
    "|| coalesce(config -> 'configurable', '{}')) END"
)


async def _mark_busy(conn: AsyncConnection[DictRow], new: NewRun) -> None:
    await conn.execute(
        "UPDATE threads SET status = 'busy', graph_id = %(graph)s, updated_at = now(), "
        # A busy thread keeps its tags, as on LangGraph's server: a run queued behind
        # another does not rename the thread's graph.
        "metadata = CASE WHEN status = 'busy' THEN metadata ELSE metadata || %(tags)s END, "
        f"config = {_THREAD_CONFIG_SQL}, "
        f"expires_at = {EXPIRES_AFTER_ACTIVITY} WHERE thread_id = %(thread)s",
        {
            "graph": new.graph_id,
            "tags": jsonb(_tags(new)),
            "assistant": jsonb(new.assistant_config),
            "run": jsonb(new.kwargs.get("config") or {}),
            "thread": new.thread_id,
        },
    )


async def _insert_run(
    conn: AsyncConnection[DictRow], new: NewRun, status: RunStatus, metadata: dict[str, Any]
) -> AsyncCursor[DictRow]:
    return await conn.execute(
        "INSERT INTO runs (run_id, thread_id, assistant_id, graph_id, owner, user_id, "
        "metadata, kwargs, multitask_strategy, worker, lease_expires_at, status, started_at, "
        "identity) "
        "VALUES (%s, %s, %s, %s, %s, %s, coalesce((SELECT metadata FROM assistants WHERE "
        "assistant_id = %s), '{}') || %s, %s, %s, %s, now() + make_interval(secs => %s), "
        "%s, CASE WHEN %s = 'running' THEN now() END, %s) "
        f"RETURNING {RUN_COLUMNS}",
        (
            new.run_id,
            new.thread_id,
            new.assistant_id,
            new.graph_id,
            new.owner,
            new.user_id,
            new.assistant_id,
            jsonb(metadata),
            jsonb(new.kwargs),
            new.strategy,
            new.worker,
            new.lease_seconds,
            status,
            status,
            None if new.identity is None else jsonb(new.identity),
        ),
    )


# A run's turn, and its end

Claim = Literal["claimed", "waiting", "busy", "gone", "cancelled"]


async def claim(pool: Pool, run: Run, worker: str) -> Claim:
    """Start a pending run if it is its thread's turn: `claimed`, else why not.

    The ordering clause keeps queued runs first-in first-out; the unique index on
    running runs refuses a second one (`busy`). Only while `worker` holds the run:
    `gone` once another server took it over.
    """
    async with pool.connection() as conn:
        try:
            cur = await conn.execute(
                "UPDATE runs SET status = 'running', updated_at = now(), "
                "started_at = coalesce(started_at, now()) "
                f"WHERE run_id = %(run)s AND status IN {_from('running')} AND worker = %(worker)s "
                "AND cancel_action IS NULL "
                "AND NOT EXISTS (SELECT 1 FROM runs o WHERE o.thread_id = %(thread)s "
                "AND o.status = 'pending' AND o.run_id <> %(run)s "
                "AND (o.created_at, o.run_id) < (%(created)s, %(run)s)) "
                "RETURNING 1",
                {"run": run.run_id, "thread": run.thread_id, "created": run.created_at,
                 "worker": worker},
            )  # fmt: skip
            if await cur.fetchone() is not None:
                return "claimed"
        except UniqueViolation:
            return "busy"
        cur = await conn.execute(
            "SELECT status, cancel_action, worker FROM runs WHERE run_id = %s", (run.run_id,)
        )
        row = await cur.fetchone()
    if row is None or row["worker"] != worker:
        return "gone"
    if row["cancel_action"] is not None:
        return "cancelled"
    return "waiting" if row["status"] == "pending" else "gone"


async def finish(
    pool: Pool,
    run: Run,
    *,
    status: RunStatus,
    thread_status: ThreadStatus,
    values: bytes | None,
    interrupts: dict[str, Any],
    error: dict[str, str] | None,
    fence: tuple[str, int] | None = None,
) -> bool:
    """Record how the run ended and what the thread now holds: one transaction, one trip;
    False when nothing was recorded (it had ended, or its fence no longer holds).

    `values` is the thread's new values as JSON; `None` keeps the old ones. A run already
    failed as lost keeps that verdict, and leaves its thread alone: it may have moved on.
    With `fence` (the server and attempt executing it), nothing is written unless that
    server still holds that attempt of the run.
    """
    params = _finish_params(run, status, thread_status, values, interrupts, error)
    sql = _FINISH_SQL[status]
    if fence is not None:
        sql = sql.replace(_FINISH_WHERE, f"{_FINISH_WHERE} {_FENCE_SQL}")
        params |= {"worker": fence[0], "attempt": fence[1]}
    # Autocommit, in a pipeline: the statements up to its one Sync are one transaction.
    async with pool.connection() as conn, conn.pipeline():
        await lock_thread(conn, run.thread_id)
        cur = await conn.execute(sql, params)
        if run.kwargs.get("webhook"):
            await enqueue_webhooks(conn, [run.run_id])
    return cur.rowcount > 0


# The run's end and the thread's new state, in one statement that touches the thread only
# if the run was still in flight.
_FINISH_WHERE = "WHERE run_id = %(run)s"
_FENCE_SQL = "AND worker = %(worker)s AND attempt = %(attempt)s"
_FINISH_SQL = {
    status: (
        "WITH ended AS (UPDATE runs SET status = %(run_status)s, error = %(error)s, "
        f"updated_at = now() {_FINISH_WHERE} AND status IN {_from(status)} "
        "RETURNING thread_id, graph_id) "
        f"UPDATE threads SET status = {thread_status_after_run('%(status)s', besides='%(run)s')}, "
        # The thread names the graph that ran last, as on LangGraph's server.
        "metadata = threads.metadata || jsonb_build_object('graph_id', ended.graph_id), "
        "values = coalesce(%(values)s, values), interrupts = %(interrupts)s, "
        "error = %(error)s, updated_at = now(), state_updated_at = now() "
        "FROM ended WHERE threads.thread_id = ended.thread_id"
    )
    for status in RUN_MOVES
    if status not in INFLIGHT
}


def _finish_params(
    run: Run,
    status: RunStatus,
    thread_status: ThreadStatus,
    values: bytes | None,
    interrupts: dict[str, Any],
    error: dict[str, str] | None,
) -> dict[str, Any]:
    return {
        "run": run.run_id,
        "run_status": status,
        "status": thread_status,
        "values": None if values is None else jsonb_encoded(values),
        "interrupts": jsonb(interrupts),
        "error": None if error is None else jsonb(error),
    }


# A run's webhook, with the payload as the run ended: its record, how it ended and the
# thread's values then. At most one per run, whichever statement records the end first.
_ENQUEUE_WEBHOOKS = (
    "INSERT INTO webhook_deliveries (delivery_id, run_id, owner, url, payload) "
    "SELECT gen_random_uuid(), r.run_id, r.owner, r.kwargs ->> 'webhook', jsonb_build_object("
    "'run_id', r.run_id, 'thread_id', r.thread_id, 'assistant_id', r.assistant_id, "
    "'created_at', r.created_at, 'updated_at', r.updated_at, 'metadata', r.metadata, "
    "'kwargs', r.kwargs, 'multitask_strategy', r.multitask_strategy, 'status', r.status, "
    "'run_started_at', r.started_at, 'run_ended_at', r.updated_at, 'values', t.values, "
    "'error', r.error) FROM runs r JOIN threads t ON t.thread_id = r.thread_id "
    f"WHERE r.run_id = ANY(%s) AND r.kwargs ? 'webhook' AND r.status NOT IN {INFLIGHT_SQL} "
    "ON CONFLICT (run_id) DO NOTHING"
)


async def enqueue_webhooks(conn: AsyncConnection[DictRow], run_ids: list[uuid.UUID]) -> None:
    """Write the webhook delivery of each ended run that asked for one, in the caller's
    transaction: the one that records the run's end."""
    await conn.execute(_ENQUEUE_WEBHOOKS, (run_ids,))


async def discard(
    pool: Pool, run: Run, *, checkpoints: ThreadCheckpoints = OWN_CHECKPOINTS
) -> None:
    """Roll a run back: its row and every checkpoint it wrote go away."""
    idle = thread_status_after_run("'idle'")
    async with pool.connection() as conn, conn.transaction():
        await lock_thread(conn, run.thread_id)
        await checkpoints.delete_run(conn, run.thread_id, run.run_id)
        await conn.execute("DELETE FROM runs WHERE run_id = %s", (run.run_id,))
        await conn.execute(
            f"UPDATE threads SET status = {idle}, updated_at = now() WHERE thread_id = %s",
            (run.thread_id,),
        )


async def lock_thread(conn: AsyncConnection[DictRow], thread_id: uuid.UUID) -> None:
    """Take the thread's row lock first, as admission does, so the two never deadlock."""
    await conn.execute("SELECT 1 FROM threads WHERE thread_id = %s FOR UPDATE", (thread_id,))


# Leases: who holds a run, and what happens when that server dies


async def renew(
    conn: AsyncConnection[DictRow], worker: str, run_ids: list[uuid.UUID], lease_seconds: float
) -> set[uuid.UUID]:
    """Extend this process's hold on the runs it executes; returns those it still holds
    (another server took over a run whose lease lapsed while this one could not renew)."""
    if not run_ids:
        return set()
    cur = await conn.execute(
        "UPDATE runs SET lease_expires_at = now() + make_interval(secs => %s) "
        f"WHERE run_id = ANY(%s) AND worker = %s AND status IN {INFLIGHT_SQL} RETURNING run_id",
        (lease_seconds, run_ids, worker),
    )
    return {row["run_id"] for row in await cur.fetchall()}


async def taken_from(
    conn: AsyncConnection[DictRow], worker: str, run_ids: set[uuid.UUID]
) -> list[uuid.UUID]:
    """Which of these runs another server took over (this one's lease on them lapsed):
    held by it, queued again, or even ended by it. This server must stop them, writing
    nothing."""
    if not run_ids:
        return []
    cur = await conn.execute(
        "SELECT run_id FROM runs WHERE run_id = ANY(%s) AND worker IS DISTINCT FROM %s",
        (list(run_ids), worker),
    )
    return [row["run_id"] for row in await cur.fetchall()]


async def reap(
    conn: AsyncConnection[DictRow],
    thread_id: uuid.UUID | None = None,
    *,
    alive: list[uuid.UUID],
    max_attempts: int = 3,
) -> int:
    """Queue again, for any server to resume, the in-flight runs whose server died (their
    lease lapsed): a running one as its next attempt; one that has had `max_attempts`
    fails `RunLost` instead, freeing its thread. Returns how many runs were found.

    `alive` names runs the caller itself is executing: their lease may have lapsed while
    the database was out of reach, but they are not lost, and never touched here.
    """
    lapsed = f"status IN {INFLIGHT_SQL} AND lease_expires_at < now() AND run_id <> ALL(%s)"
    params: list[Any] = [alive]
    if thread_id is not None:
        lapsed += " AND thread_id = %s"
        params.append(thread_id)
    async with conn.transaction():
        # Threads first, in a fixed order, as admission locks them: no deadlock.
        await conn.execute(
            f"SELECT 1 FROM threads WHERE thread_id IN (SELECT thread_id FROM runs "
            f"WHERE {lapsed}) ORDER BY thread_id FOR UPDATE",
            params,
        )
        exhausted = f"{lapsed} AND status = 'running' AND attempt >= %s"
        failed = await _fail_lost(conn, exhausted, [*params, max_attempts])
        cur = await conn.execute(
            "UPDATE runs SET status = 'pending', worker = NULL, lease_expires_at = NULL, "
            "attempt = attempt + CASE WHEN status = 'running' THEN 1 ELSE 0 END, "
            f"updated_at = now() WHERE {lapsed} RETURNING run_id",
            params,
        )
        queued = await cur.fetchall()
        if queued:
            await conn.execute("SELECT pg_notify(%s, '')", (QUEUE_CHANNEL,))
        return failed + len(queued)


async def _fail_lost(conn: AsyncConnection[DictRow], where: str, params: list[Any]) -> int:
    """Fail the runs `where` names as lost, naming their attempts; returns how many."""
    cur = await conn.execute(
        "UPDATE runs SET status = 'error', updated_at = now(), error = jsonb_build_object("
        "'error', 'RunLost', 'message', 'the server running it stopped before it finished, "
        "on each of its ' || attempt || ' attempt(s) (runs.max_attempts)') "
        f"WHERE {where} RETURNING thread_id, run_id, error",
        params,
    )
    rows = await cur.fetchall()
    if rows:
        await enqueue_webhooks(conn, [row["run_id"] for row in rows])
        failed = thread_status_after_run("'error'")
        for row in rows:
            await conn.execute(
                f"UPDATE threads SET status = {failed}, error = %s, updated_at = now() "
                "WHERE thread_id = %s",
                (jsonb(row["error"]), row["thread_id"]),
            )
    return len(rows)


# Hand-offs: a run goes back to the queue, and any server takes it

QUEUE_CHANNEL = "langstar_queue"
QUEUED_COLUMNS = f"{RUN_COLUMNS}, attempt, identity, started_at"


async def held_elsewhere(pool: Pool, run_id: uuid.UUID, worker: str) -> bool:
    """Whether the run went on without this server: held by another, or queued again."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT 1 FROM runs WHERE run_id = %s AND worker IS DISTINCT FROM %s",
            (run_id, worker),
        )
        return await cur.fetchone() is not None


async def cancel_action_of(pool: Pool, run_id: uuid.UUID) -> str:
    """How a run flagged for cancellation is to stop (`interrupt` when gone or unflagged)."""
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT cancel_action FROM runs WHERE run_id = %s", (run_id,))
        row = await cur.fetchone()
    return str(row["cancel_action"]) if row and row["cancel_action"] else "interrupt"


def fenced(exc: BaseException | None) -> bool:
    """Whether a write failed because its run's server or attempt was not the writer's."""
    while exc is not None:
        if isinstance(exc, psycopg.Error) and exc.sqlstate == FENCED:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


async def hand_off(pool: Pool, run_id: uuid.UUID, worker: str) -> bool:
    """Give back a run this server was executing (it is shutting down): `pending`, held by
    no server, its attempt unchanged (a hand-off is not a failure). False if it was not
    this server's any more."""
    async with pool.connection() as conn, conn.transaction():
        cur = await conn.execute(
            "UPDATE runs SET status = 'pending', worker = NULL, lease_expires_at = NULL, "
            f"updated_at = now() WHERE run_id = %s AND worker = %s AND status IN {INFLIGHT_SQL} "
            "RETURNING 1",
            (run_id, worker),
        )
        handed = await cur.fetchone() is not None
        if handed:
            await conn.execute("SELECT pg_notify(%s, '')", (QUEUE_CHANNEL,))
    return handed


async def take_queued(
    conn: AsyncConnection[DictRow],
    worker: str,
    lease_seconds: float,
    limit: int,
    held: list[uuid.UUID] | None = None,
) -> list[DictRow]:
    """Take up to `limit` queued runs (handed off, or left by a server that died), oldest
    first, for this server: their rows, with their attempt and whom they act for. Not
    those it `held` still (its lease on them lapsed): it stops them first."""
    if limit <= 0:
        return []
    cur = await conn.execute(
        "UPDATE runs SET worker = %s, lease_expires_at = now() + make_interval(secs => %s) "
        "WHERE run_id IN (SELECT run_id FROM runs WHERE status = 'pending' AND worker IS NULL "
        "AND run_id <> ALL(%s) ORDER BY created_at LIMIT %s FOR UPDATE SKIP LOCKED) "
        f"RETURNING {QUEUED_COLUMNS}",
        (worker, lease_seconds, held or [], limit),
    )
    return sorted(await cur.fetchall(), key=lambda row: row["created_at"])


async def count_inflight(conn: AsyncConnection[DictRow]) -> dict[str, int]:
    """The cluster's runs in flight, by status: what an autoscaler scales on."""
    cur = await conn.execute(
        f"SELECT status, count(*) AS n FROM runs WHERE status IN {INFLIGHT_SQL} GROUP BY status"
    )
    found = {row["status"]: int(row["n"]) for row in await cur.fetchall()}
    return {status: found.get(status, 0) for status in INFLIGHT}


# Cancels


# Flags the runs, and ends the pending ones `interrupted` (for a rollback they are
# deleted next). Each row is locked, then read as it is now: `was` is its status when
# the cancel took it, which no claim can change any more.
_CANCEL_SQL = (
    "WITH taken AS (SELECT run_id, status AS was FROM runs WHERE run_id = ANY(%(runs)s) "
    f"AND owner = %(owner)s AND status IN {INFLIGHT_SQL} FOR UPDATE) "
    "UPDATE runs SET cancel_action = %(action)s, updated_at = now(), status = CASE "
    "WHEN taken.was = 'pending' AND %(action)s = 'interrupt' THEN 'interrupted' "
    "ELSE runs.status END FROM taken WHERE runs.run_id = taken.run_id "
    "RETURNING runs.run_id, runs.thread_id, taken.was"
)


async def request_cancel(
    pool: Pool, run_ids: list[uuid.UUID], owner: str, action: CancelAction
) -> list[uuid.UUID]:
    """Cancel the owner's in-flight runs; returns those that were in flight.

    A pending run ends in this transaction, as on LangGraph's server: `interrupted`, or
    deleted when rolled back, and its thread shows it. A running run is flagged; the
    process executing it stops it and records its end.
    """
    async with pool.connection() as conn, conn.transaction():
        # Threads first, in a fixed order, as admission locks them: no deadlock.
        await conn.execute(
            "SELECT 1 FROM threads WHERE thread_id IN (SELECT thread_id FROM runs "
            "WHERE run_id = ANY(%s)) ORDER BY thread_id FOR UPDATE",
            (run_ids,),
        )
        cur = await conn.execute(_CANCEL_SQL, {"runs": run_ids, "owner": owner, "action": action})
        taken = await cur.fetchall()
        pending = [row for row in taken if row["was"] == "pending"]
        if pending:
            await _end_pending(conn, pending, action)
        flagged = [row["run_id"] for row in taken]
        await announce_cancel(conn, flagged, action)
    return flagged


async def _end_pending(
    conn: AsyncConnection[DictRow], pending: list[DictRow], action: CancelAction
) -> None:
    """A cancel's pending runs, ended `interrupted` already: rolled back, or told of."""
    run_ids = [row["run_id"] for row in pending]
    if action == "rollback":
        await conn.execute("DELETE FROM runs WHERE run_id = ANY(%s)", (run_ids,))
    else:
        await enqueue_webhooks(conn, run_ids)
    idle = thread_status_after_run("'idle'")
    await conn.execute(
        f"UPDATE threads SET status = {idle}, updated_at = now() WHERE thread_id = ANY(%s)",
        (list({row["thread_id"] for row in pending}),),
    )


async def announce_cancel(
    conn: AsyncConnection[DictRow], run_ids: list[uuid.UUID], action: str
) -> None:
    """Tell every server process, on commit, that these runs are to stop.

    The flag in `runs.cancel_action` is the durable record; the notification only makes
    the process that runs them act at once.
    """
    for run_id in run_ids:
        await conn.execute("SELECT pg_notify(%s, %s)", (CANCEL_CHANNEL, f"{run_id}:{action}"))


async def flagged_cancels(
    conn: AsyncConnection[DictRow], run_ids: list[uuid.UUID]
) -> list[tuple[uuid.UUID, str]]:
    """Which of these runs are to stop, and how: flagged for cancellation, or `GONE` (their
    row deleted with their thread, or by a rollback while they were pending)."""
    cur = await conn.execute(
        "SELECT ids.run_id, coalesce(r.cancel_action, %s) AS action "
        "FROM unnest(%s::uuid[]) AS ids (run_id) LEFT JOIN runs r ON r.run_id = ids.run_id "
        "WHERE r.run_id IS NULL OR r.cancel_action IS NOT NULL",
        (GONE, run_ids),
    )
    return [(row["run_id"], row["action"]) for row in await cur.fetchall()]


async def delete_thread(
    pool: Pool,
    thread_id: uuid.UUID,
    owner: str,
    *,
    checkpoints: ThreadCheckpoints = OWN_CHECKPOINTS,
) -> bool:
    """Delete the owner's thread, its runs and its checkpoints; False if there is none.

    Its runs in flight are cancelled, as on LangGraph's server: the processes executing
    them hear it (`GONE`), stop them, and delete what they wrote while stopping
    (`forget_run`). A thread held by a state update (busy with no run) is refused: the
    update's checkpoint would outlive it.
    """
    async with pool.connection() as conn, conn.transaction():
        cur = await conn.execute(
            "SELECT status, ARRAY(SELECT run_id FROM runs r WHERE r.thread_id = t.thread_id "
            f"AND r.status IN {INFLIGHT_SQL}) AS inflight FROM threads t "
            "WHERE thread_id = %s AND owner = %s FOR UPDATE",
            (thread_id, owner),
        )
        row = await cur.fetchone()
        if row is None:
            return False
        if row["status"] == "busy" and not row["inflight"]:
            raise ConflictError(f"Thread {thread_id} is busy with a state update")
        await announce_cancel(conn, row["inflight"], GONE)
        await conn.execute("DELETE FROM threads WHERE thread_id = %s", (thread_id,))
        await checkpoints.delete_thread(conn, thread_id)
    return True


async def forget_run(
    pool: Pool, run: Run, *, checkpoints: ThreadCheckpoints = OWN_CHECKPOINTS
) -> bool:
    """Delete what a run stopped by its thread's deletion wrote meanwhile; returns whether
    its thread is gone (else its row went with a rollback while it was pending).

    Called once the graph has stopped: nothing it wrote can come after this.
    """
    async with pool.connection() as conn, conn.transaction():
        cur = await conn.execute(
            "SELECT 1 FROM threads WHERE thread_id = %s FOR UPDATE", (run.thread_id,)
        )
        if await cur.fetchone() is not None:  # a thread of that id (perhaps made anew)
            await checkpoints.delete_run(conn, run.thread_id, run.run_id)
            return False
        await checkpoints.delete_thread(conn, run.thread_id)
    return True


# A thread held by a state update, and a thread's copy


async def hold_thread(
    pool: Pool, thread_id: uuid.UUID, owner: str, *, graph_id: str, assistant_id: str
) -> None:
    """Hold an idle thread busy for a state update; 409 while a run has it."""
    tags = jsonb({"graph_id": graph_id, "assistant_id": assistant_id})
    async with pool.connection() as conn:
        cur = await conn.execute(
            "UPDATE threads SET status = 'busy', graph_id = %s, "
            "metadata = metadata || %s, updated_at = now() "
            "WHERE thread_id = %s AND owner = %s AND status <> 'busy' RETURNING 1",
            (graph_id, tags, thread_id, owner),
        )
        if await cur.fetchone() is not None:
            return
        cur = await conn.execute(
            "SELECT 1 FROM threads WHERE thread_id = %s AND owner = %s", (thread_id, owner)
        )
        existing = await cur.fetchone()
    if existing is None:
        raise NotFoundError("thread", thread_id)
    raise ConflictError(f"Thread {thread_id} is busy with a run")


async def release_thread(
    pool: Pool,
    thread_id: uuid.UUID,
    owner: str,
    *,
    status: ThreadStatus,
    values: Any,
    interrupts: dict[str, Any],
) -> None:
    """End a state update's hold: the thread shows its new state, busy if a run came in."""
    thread_sql = thread_status_after_run("%s")
    async with pool.connection() as conn:
        await conn.execute(
            f"UPDATE threads SET status = {thread_sql}, values = %s, interrupts = %s, "
            "error = NULL, updated_at = now(), state_updated_at = now() "
            "WHERE thread_id = %s AND owner = %s",
            (status, jsonb(values), jsonb(interrupts), thread_id, owner),
        )


async def copy_thread(
    conn: AsyncConnection[DictRow],
    source: uuid.UUID,
    target: uuid.UUID,
    owner: str,
    columns: str,
) -> DictRow | None:
    """A copy of the owner's thread row under a new id, returning `columns`; None if the
    thread is not theirs. A copy has no run in flight, so a busy thread's copy is idle;
    it has no config until its first run, as on LangGraph's server."""
    cur = await conn.execute(
        "INSERT INTO threads (thread_id, owner, graph_id, status, metadata, "
        "values, interrupts, error, state_updated_at) "
        "SELECT %s, owner, graph_id, CASE status WHEN 'busy' THEN 'idle' ELSE status END, "
        "metadata, values, interrupts, error, state_updated_at "
        f"FROM threads WHERE thread_id = %s AND owner = %s RETURNING {columns}",
        (target, source, owner),
    )
    return await cur.fetchone()


# Expiry


async def sweep_expired(
    pool: Pool, limit: int, *, checkpoints: ThreadCheckpoints = OWN_CHECKPOINTS
) -> tuple[int, int]:
    """Expire up to `limit` threads whose TTL has passed: delete them, or trim their
    history to the latest state (and restart their TTL). A thread with a run in flight,
    or one another server is sweeping or starting a run on, is left for a later sweep.
    Returns how many were deleted and how many trimmed."""
    async with pool.connection() as conn, conn.transaction():
        cur = await conn.execute(
            "SELECT thread_id, ttl_strategy FROM threads t WHERE expires_at < now() "
            "AND status <> 'busy' AND NOT EXISTS (SELECT 1 FROM runs r "
            f"WHERE r.thread_id = t.thread_id AND r.status IN {INFLIGHT_SQL}) "
            "ORDER BY expires_at LIMIT %s FOR UPDATE SKIP LOCKED",
            (limit,),
        )
        found = await cur.fetchall()
        deleted = [row["thread_id"] for row in found if row["ttl_strategy"] != "keep_latest"]
        trimmed = [row["thread_id"] for row in found if row["ttl_strategy"] == "keep_latest"]
        for thread_id in deleted:
            await checkpoints.delete_thread(conn, thread_id)
        if deleted:
            await conn.execute("DELETE FROM threads WHERE thread_id = ANY(%s)", (deleted,))
        for thread_id in trimmed:
            await checkpoints.keep_latest(conn, thread_id)
        if trimmed:
            await conn.execute(
                f"UPDATE threads SET expires_at = {EXPIRES_AFTER_ACTIVITY} "
                "WHERE thread_id = ANY(%s)",
                (trimmed,),
            )
    return len(deleted), len(trimmed)
