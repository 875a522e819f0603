"""An admission whose answer is lost while PostgreSQL restarts.

The `COMMIT` may have been carried out before the connection went: the run is then on
its thread. Told to retry, a client would queue its next run behind one nobody executes,
until that run's lease lapsed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Any

import psycopg
import pytest

from langstar import lifecycle
from langstar.db.pool import Pool, open_pool
from langstar.lifecycle import Admission, NewRun
from langstar.settings import DatabaseSettings
from tests.integration.test_round_trips import new_run


@pytest.fixture
async def pool(migrated_database: str) -> AsyncIterator[Pool]:
    pool = await open_pool(migrated_database, DatabaseSettings(pool_min_size=1, pool_max_size=2))
    yield pool
    await pool.close()


class Restart:
    """Admissions are carried out, then their answer is lost; the next `outage` checkouts
    fail as they do while the database is down."""

    def __init__(self, pool: Pool, monkeypatch: pytest.MonkeyPatch, outage: int) -> None:
        self.pool = pool
        self.outage = 0
        self._after = outage
        self._connection = pool.connection
        self._admit_once = lifecycle._admit_once
        monkeypatch.setattr(pool, "connection", self.connection)
        monkeypatch.setattr(lifecycle, "_admit_once", self.admit_once)

    def connection(self, *args: Any, **kwargs: Any) -> AbstractAsyncContextManager[Any]:
        if self.outage:
            self.outage -= 1
            raise psycopg.OperationalError("connection refused: the database is starting up")
        return self._connection(*args, **kwargs)

    async def admit_once(self, pool: Pool, new: NewRun) -> Admission:
        await self._admit_once(pool, new)
        self.outage = self._after
        raise psycopg.OperationalError("server closed the connection unexpectedly")


async def statuses(pool: Pool, new: NewRun) -> list[str]:
    async with pool.connection() as conn:
        cursor = await conn.execute("SELECT status FROM runs WHERE run_id = %s", (new.run_id,))
        return [row["status"] for row in await cursor.fetchall()]


async def test_a_run_recorded_before_its_answer_was_lost_is_found_when_the_database_is_back(
    pool: Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    Restart(pool, monkeypatch, outage=4)
    new = new_run()
    admission = await lifecycle.admit(pool, new)
    assert admission.run.run_id == new.run_id
    assert admission.run.status == "running"
    assert await statuses(pool, new) == ["running"]  # recorded once


async def test_a_database_down_for_longer_is_an_error_the_client_retries(
    pool: Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lifecycle, "UNKNOWN_OUTCOME_SECONDS", 0.5)
    restart = Restart(pool, monkeypatch, outage=1000)
    with pytest.raises(psycopg.OperationalError):
        await lifecycle.admit(pool, new_run())
    assert restart.outage < 1000  # it asked more than once
