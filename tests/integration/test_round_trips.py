"""What a run costs the database in round trips: two to admit it, one to record its end.

Counted from libpq's own protocol trace of the pool's only connection: a round trip is
the client sending, then waiting for the server's answer.
"""

from __future__ import annotations

import dataclasses
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import psycopg
import pytest
from psycopg.pq import TransactionStatus

from langstar import lifecycle
from langstar.db.pool import Pool, open_pool
from langstar.errors import NotFoundError
from langstar.lifecycle import NewRun
from langstar.settings import DatabaseSettings


@pytest.fixture
async def pool(migrated_database: str) -> AsyncIterator[Pool]:
    pool = await open_pool(migrated_database, DatabaseSettings(pool_min_size=1, pool_max_size=1))
    yield pool
    await pool.close()


def new_run(owner: str = "ada", thread_id: uuid.UUID | None = None) -> NewRun:
    return NewRun(
        run_id=uuid.uuid4(),
        thread_id=thread_id or uuid.uuid4(),
        owner=owner,
        user_id=owner,
        assistant_id=uuid.uuid4(),
        graph_id="agent",
        metadata={},
        kwargs={},
        strategy="enqueue",
        worker="test-worker",
        lease_seconds=60,
        may_create_thread=True,
        delayed=False,
        max_runs_per_owner=1000,
    )


def round_trips(trace: str) -> int:
    """Turns from sending (`F` lines) to receiving (`B` lines) in a libpq trace."""
    trips, sending = 0, False
    for line in trace.splitlines():
        direction = line.split("\t")[1] if line.count("\t") >= 1 else ""
        if direction == "F":
            sending = True
        elif direction == "B" and sending:
            trips, sending = trips + 1, False
    return trips


async def counted(pool: Pool, work: Callable[[], Awaitable[Any]]) -> int:
    with tempfile.NamedTemporaryFile("w+") as out:
        async with pool.connection() as conn:
            conn.pgconn.trace(out.fileno())
        try:
            await work()
        finally:
            async with pool.connection() as conn:
                conn.pgconn.untrace()
        out.seek(0)
        return round_trips(out.read())


async def test_admitting_a_run_takes_two_round_trips_and_ending_it_one(pool: Pool) -> None:
    await lifecycle.admit(pool, new_run())  # statements are prepared on first use
    new = new_run()
    admitted: list[lifecycle.Admission] = []

    async def admit() -> None:
        admitted.append(await lifecycle.admit(pool, new))

    assert await counted(pool, admit) == 2
    run = admitted[0].run
    assert (run.run_id, run.status) == (new.run_id, "running")

    async def finish() -> None:
        await lifecycle.finish(
            pool, run, status="success", thread_status="idle", values=b"{}", interrupts={},
            error=None,
        )  # fmt: skip

    assert await counted(pool, finish) == 1
    async with pool.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT r.status AS run, t.status AS thread FROM runs r "
                "JOIN threads t USING (thread_id) WHERE r.run_id = %s",
                (run.run_id,),
            )
        ).fetchone()
    assert row == {"run": "success", "thread": "idle"}


async def test_a_refused_admission_rolls_back_and_releases_the_thread(pool: Pool) -> None:
    first = await lifecycle.admit(pool, new_run("ada"))
    with pytest.raises(NotFoundError):  # another owner's thread
        await lifecycle.admit(pool, new_run("bob", first.run.thread_id))
    async with pool.connection() as conn:
        assert conn.info.transaction_status == TransactionStatus.IDLE
    # The thread's lock went with the refusal: its owner's next run is admitted (queued).
    second = await lifecycle.admit(pool, new_run("ada", first.run.thread_id))
    assert second.run.status == "pending"


async def test_a_failed_statement_leaves_nothing_behind(pool: Pool) -> None:
    first = await lifecycle.admit(pool, new_run())
    again = dataclasses.replace(new_run(), run_id=first.run.run_id)  # a duplicate run id
    with pytest.raises(psycopg.errors.UniqueViolation):
        await lifecycle.admit(pool, again)
    async with pool.connection() as conn:
        assert conn.info.transaction_status == TransactionStatus.IDLE
        found = await (
            await conn.execute("SELECT 1 FROM threads WHERE thread_id = %s", (again.thread_id,))
        ).fetchone()
    assert found is None  # the thread made for it was rolled back with it
