"""Random sequences of run admissions, claims, cancels, ends, deaths, reaps, hand-offs and
take-overs keep the lifecycle's invariants after every step, on a real database."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from langstar import lifecycle
from langstar.db.pool import Pool, open_pool
from langstar.errors import ConflictError
from langstar.lifecycle import INFLIGHT, RUN_MOVES, THREAD_MOVES, NewRun, Run
from langstar.settings import DatabaseSettings

OWNER = "ada"
STRATEGIES = ("enqueue", "reject", "interrupt", "rollback")
ENDS = ("success", "error", "timeout", "interrupted")


@pytest.fixture
async def pool(migrated_database: str) -> AsyncIterator[Pool]:
    pool = await open_pool(migrated_database, DatabaseSettings(pool_min_size=1, pool_max_size=4))
    yield pool
    await pool.close()


def new_run(thread_id: uuid.UUID, strategy: str) -> NewRun:
    return NewRun(
        run_id=uuid.uuid4(),
        thread_id=thread_id,
        owner=OWNER,
        user_id=OWNER,
        assistant_id=uuid.uuid4(),
        graph_id="agent",
        metadata={},
        kwargs={},
        strategy=strategy,
        worker="test-worker",
        lease_seconds=60,
        may_create_thread=True,
        delayed=False,
        max_runs_per_owner=1000,
    )


async def snapshot(pool: Pool) -> tuple[dict[uuid.UUID, str], dict[uuid.UUID, str]]:
    async with pool.connection() as conn:
        runs = await (await conn.execute("SELECT run_id, status FROM runs")).fetchall()
        threads = await (await conn.execute("SELECT thread_id, status FROM threads")).fetchall()
    return (
        {row["run_id"]: row["status"] for row in runs},
        {row["thread_id"]: row["status"] for row in threads},
    )


async def check_invariants(pool: Pool) -> None:
    async with pool.connection() as conn:
        doubled = await (
            await conn.execute(
                "SELECT thread_id FROM runs WHERE status = 'running' GROUP BY thread_id "
                "HAVING count(*) > 1"
            )
        ).fetchall()
        assert doubled == [], "two running runs on one thread"
        wrong = await (
            await conn.execute(
                "SELECT t.thread_id, t.status FROM threads t WHERE (t.status = 'busy') <> "
                "EXISTS (SELECT 1 FROM runs r WHERE r.thread_id = t.thread_id "
                "AND r.status IN ('pending', 'running'))"
            )
        ).fetchall()
        assert wrong == [], "a thread is busy without a run in flight, or idle with one"
        unleased = await (
            await conn.execute(
                "SELECT run_id, status, worker, lease_expires_at FROM runs "
                "WHERE status IN ('pending', 'running') "
                "AND (worker IS NULL OR lease_expires_at IS NULL) "
                # Queued for any server: pending, held by none.
                "AND NOT (status = 'pending' AND worker IS NULL AND lease_expires_at IS NULL)"
            )
        ).fetchall()
        assert unleased == [], f"a run in flight neither held with a lease nor queued: {unleased}"


def check_moves(
    before: tuple[dict[uuid.UUID, str], dict[uuid.UUID, str]],
    after: tuple[dict[uuid.UUID, str], dict[uuid.UUID, str]],
    step: str,
) -> None:
    for table, moves in ((0, RUN_MOVES), (1, THREAD_MOVES)):
        for key, old in before[table].items():
            new = after[table].get(key)
            if new is not None and new != old:
                assert new in moves[old], f"{step}: {old} -> {new} is not an allowed move"  # type: ignore[index]


class World:
    """The runs a test made, and the operations it may apply to them."""

    def __init__(self, pool: Pool, rng: random.Random) -> None:
        self.pool = pool
        self.rng = rng
        self.threads = [uuid.uuid4() for _ in range(3)]
        self.runs: dict[uuid.UUID, Run] = {}

    async def inflight(self) -> list[Run]:
        statuses, _ = await snapshot(self.pool)
        return [run for run_id, run in self.runs.items() if statuses.get(run_id) in INFLIGHT]

    async def pick(self, status: str | None = None) -> Run | None:
        statuses, _ = await snapshot(self.pool)
        found = [
            run
            for run_id, run in self.runs.items()
            if statuses.get(run_id) in INFLIGHT and status in (None, statuses[run_id])
        ]
        return self.rng.choice(found) if found else None

    async def admit(self) -> str:
        strategy = self.rng.choice(STRATEGIES)
        try:
            admission = await lifecycle.admit(
                self.pool, new_run(self.rng.choice(self.threads), strategy)
            )
        except ConflictError:
            return f"admit {strategy}: refused"
        self.runs[admission.run.run_id] = admission.run
        return f"admit {strategy}: {admission.run.status}"

    async def claim(self) -> str:
        run = await self.pick("pending")
        if run is None:
            return "claim: none"
        return f"claim: {await lifecycle.claim(self.pool, run, 'test-worker')}"

    async def finish(self) -> str:
        run = await self.pick()
        if run is None:
            return "finish: none"
        status: Any = self.rng.choice(ENDS)
        thread_status: Any = {"success": self.rng.choice(["idle", "interrupted"])}.get(
            status, "error" if status != "interrupted" else "idle"
        )
        await lifecycle.finish(
            self.pool,
            run,
            status=status,
            thread_status=thread_status,
            values=b'{"step": 1}',
            interrupts={},
            error=None if status in ("success", "interrupted") else {"error": "E", "message": ""},
        )
        return f"finish {status}"

    async def cancel(self) -> str:
        run = await self.pick()
        if run is None:
            return "cancel: none"
        action: Any = self.rng.choice(["interrupt", "rollback"])
        await lifecycle.request_cancel(self.pool, [run.run_id], OWNER, action)
        return f"cancel {action}"

    async def delete(self) -> str:
        """A thread deleted with whatever is in flight on it."""
        thread = self.rng.choice(self.threads)
        return f"delete thread: {await lifecycle.delete_thread(self.pool, thread, OWNER)}"

    async def discard(self) -> str:
        run = await self.pick()
        if run is None:
            return "discard: none"
        await lifecycle.discard(self.pool, run)
        return "discard"

    async def die(self) -> str:
        """The server holding a run stops renewing its lease."""
        run = await self.pick()
        if run is None:
            return "die: none"
        async with self.pool.connection() as conn:
            await conn.execute(
                # Only a run some server holds has a lease to lapse.
                "UPDATE runs SET lease_expires_at = now() - interval '1 second' "
                "WHERE run_id = %s AND worker IS NOT NULL",
                (run.run_id,),
            )
        return "die"

    async def reap(self) -> str:
        thread = self.rng.choice([None, *self.threads])
        async with self.pool.connection() as conn:
            lost = await lifecycle.reap(conn, thread, alive=[], max_attempts=2)
        return f"reap: {lost}"

    async def hand_off(self) -> str:
        """The server holding a run stops, and gives it back to the queue."""
        run = await self.pick()
        if run is None:
            return "hand off: none"
        return f"hand off: {await lifecycle.hand_off(self.pool, run.run_id, 'test-worker')}"

    async def take(self) -> str:
        """A server takes queued runs (as the one that admitted them did: one name)."""
        async with self.pool.connection() as conn:
            taken = await lifecycle.take_queued(conn, "test-worker", 60, self.rng.randint(1, 3))
        return f"take: {len(taken)}"


@pytest.mark.parametrize("seed", range(6))
async def test_random_sequences_keep_the_lifecycle_invariants(pool: Pool, seed: int) -> None:
    world = World(pool, random.Random(seed))
    operations = [world.admit] * 3 + [
        world.claim,
        world.claim,
        world.claim,
        world.finish,
        world.finish,
        world.finish,
        world.cancel,
        world.delete,
        world.discard,
        world.die,
        world.reap,
        world.hand_off,
        world.take,
    ]
    history: list[str] = []
    statuses: set[str] = set()
    for _ in range(220):
        before = await snapshot(pool)
        history.append(await world.rng.choice(operations)())
        after = await snapshot(pool)
        check_moves(before, after, " / ".join(history[-5:]))
        await check_invariants(pool)
        statuses |= set(after[0].values())
    # The sequences went through every kind of state, not only the easy ones.
    assert {"success", "error", "interrupted"} <= statuses, history


async def lapse(pool: Pool, run: Run) -> None:
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE runs SET lease_expires_at = now() - interval '1 second' WHERE run_id = %s",
            (run.run_id,),
        )


async def row_of(pool: Pool, run: Run) -> dict[str, Any]:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT status, worker, attempt, error FROM runs WHERE run_id = %s", (run.run_id,)
        )
        found = await cur.fetchone()
    assert found is not None
    return dict(found)


async def test_a_run_whose_server_died_is_queued_again_as_its_next_attempt(pool: Pool) -> None:
    thread = uuid.uuid4()
    first = (await lifecycle.admit(pool, new_run(thread, "enqueue"))).run
    await lapse(pool, first)
    # A run admitted meanwhile waits behind it: it is still in flight, to be resumed.
    second = (await lifecycle.admit(pool, new_run(thread, "enqueue"))).run
    assert second.status == "pending"
    async with pool.connection() as conn:
        assert await lifecycle.reap(conn, alive=[], max_attempts=3) == 1
        taken = await lifecycle.take_queued(conn, "server-b", 60, 10)
    assert [row["run_id"] for row in taken] == [first.run_id]
    assert (await row_of(pool, first))["attempt"] == 2
    assert await lifecycle.claim(pool, first, "server-b") == "claimed"


async def test_a_run_past_its_attempts_fails_naming_them(pool: Pool) -> None:
    thread = uuid.uuid4()
    run = (await lifecycle.admit(pool, new_run(thread, "enqueue"))).run
    for attempt in (1, 2):
        await lapse(pool, run)
        async with pool.connection() as conn:
            await lifecycle.reap(conn, alive=[], max_attempts=2)
            await lifecycle.take_queued(conn, f"server-{attempt}", 60, 10)
        await lifecycle.claim(pool, run, f"server-{attempt}")
    found = await row_of(pool, run)
    assert (found["status"], found["error"]["error"]) == ("error", "RunLost")
    assert "2 attempt(s)" in found["error"]["message"]
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT status FROM threads WHERE thread_id = %s", (thread,))
        assert (await cur.fetchone() or {})["status"] == "error"


async def test_a_server_that_lost_its_run_writes_neither_its_end_nor_the_thread(
    pool: Pool,
) -> None:
    thread = uuid.uuid4()
    first = (await lifecycle.admit(pool, new_run(thread, "enqueue"))).run
    await lapse(pool, first)
    async with pool.connection() as conn:
        await lifecycle.reap(conn, alive=[], max_attempts=3)
        await lifecycle.take_queued(conn, "server-b", 60, 10)
    # The first server comes back and records the end of its attempt: too late to count.
    await lifecycle.finish(
        pool,
        first,
        status="success",
        thread_status="idle",
        values=b'{"stale": true}',
        interrupts={},
        error=None,
        fence=("test-worker", 1),
    )
    assert await lifecycle.claim(pool, first, "test-worker") == "gone"
    found = await row_of(pool, first)
    assert (found["status"], found["worker"], found["attempt"]) == ("pending", "server-b", 2)
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT status, values FROM threads WHERE thread_id = %s", (thread,)
        )
        row = await cur.fetchone()
    assert row is not None
    assert (row["status"], row["values"]) == ("busy", None)


async def test_a_handed_off_run_keeps_its_attempt_and_any_server_takes_it(pool: Pool) -> None:
    thread = uuid.uuid4()
    run = (await lifecycle.admit(pool, new_run(thread, "enqueue"))).run
    assert await lifecycle.hand_off(pool, run.run_id, "someone-else") is False
    assert await lifecycle.hand_off(pool, run.run_id, "test-worker") is True
    async with pool.connection() as conn:
        taken = await lifecycle.take_queued(conn, "server-b", 60, 10)
        assert await lifecycle.take_queued(conn, "server-c", 60, 10) == []
    assert [row["attempt"] for row in taken] == [1]
    assert await lifecycle.claim(pool, run, "server-b") == "claimed"
