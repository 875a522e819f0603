"""The one psycopg connection pool that the whole server shares."""

from __future__ import annotations

import asyncio
import select
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Literal

from psycopg import AsyncConnection, OperationalError
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from langstar.db.urls import with_session_defaults
from langstar.settings import DatabaseSettings

# How the connections of `database.url` reach PostgreSQL.
Pooler = Literal["none", "session", "transaction"]

_patience: ContextVar[float | None] = ContextVar("langstar_pool_patience", default=None)


class Pool(AsyncConnectionPool[AsyncConnection[DictRow]]):
    """The pool, which tells a busy pool from an unreachable database.

    While PostgreSQL cannot be reached (connection attempts fail), a caller gives up
    after the pool's timeout, so no client hangs on an outage. While every connection is
    merely in use, a caller keeps waiting, for `busy_wait` seconds: a burst of clients
    is served late rather than refused. Work done for a run waits longer still, inside
    `patient()`: a checkpoint write that gave up would fail a run the client saw start.

    Callers beyond `max_size` queue in front of psycopg_pool, on one semaphore: its own
    queue (a lock, a condition and a timeout task per waiter) cost every request more
    CPU the more requests waited, so a server with more clients than connections
    served fewer of them.
    """

    busy_wait: float = 0.0
    _connecting: int = 0  # connection attempts under way
    _failures: int = 0  # attempts that failed, to connect or to be answered
    _turns: asyncio.Semaphore | None = None  # one per connection the pool may hand out
    _queued: int = 0  # callers waiting for a turn

    # The signature is the one it extends, `timeout` included.
    async def getconn(self, timeout: float | None = None) -> AsyncConnection[DictRow]:  # noqa: ASYNC109
        patience = (_patience.get() or self.busy_wait) if timeout is None else None
        if patience is None or patience <= self.timeout:
            return await self._checked(self.timeout if timeout is None else timeout)
        deadline = time.monotonic() + patience
        while True:
            failures = self._connection_failures()
            left = deadline - time.monotonic()
            try:
                return await self._checked(min(self.timeout, max(left, 0.001)))
            except PoolTimeout:
                if left <= self.timeout or not self._busy_but_healthy(failures):
                    raise

    async def _checked(self, timeout: float) -> AsyncConnection[DictRow]:  # noqa: ASYNC109
        """A connection that passed `check_connection`, within `timeout` seconds.

        One found dead is given back (the pool drops it and opens another) and the next
        is taken at once. psycopg_pool's own check paused 1, 2, 4... seconds after each
        dead one: once the server had cut them all (a failover, an idle cut), requests
        stalled up to the pool's timeout although PostgreSQL was up. At most
        `max_size` connections can be dead, so the loop is bounded; one more dead
        connection than that is reported as the database being unavailable.
        """
        deadline = time.monotonic() + timeout
        turns = await self._turn(timeout)
        dead = 0
        try:
            while True:
                conn = await super().getconn(max(deadline - time.monotonic(), 0.001))
                try:
                    await check_connection(conn)
                except BaseException as exc:
                    await super().putconn(conn)
                    dead += 1
                    if not isinstance(exc, Exception) or dead > self.max_size:
                        raise
                else:
                    return conn
        except BaseException:
            turns.release()
            raise

    async def _turn(self, timeout: float) -> asyncio.Semaphore:  # noqa: ASYNC109
        """Wait, within `timeout` seconds, until fewer than `max_size` connections are out."""
        if self._turns is None:
            self._turns = asyncio.Semaphore(self.max_size)
        turns = self._turns
        if not turns.locked():
            await turns.acquire()  # free: it returns at once, without a timer
            return turns
        self._queued += 1
        try:
            async with asyncio.timeout(timeout):
                await turns.acquire()
        except TimeoutError:
            raise PoolTimeout(f"couldn't get a connection after {timeout:.2f} sec") from None
        finally:
            self._queued -= 1
        return turns

    def _get_measures(self) -> dict[str, int]:
        measures = super()._get_measures()
        measures[self._REQUESTS_WAITING] += self._queued  # those queued in front, too
        return measures

    async def putconn(self, conn: AsyncConnection[DictRow]) -> None:
        try:
            await super().putconn(conn)
        finally:
            if self._turns is not None:
                self._turns.release()

    def _connection_failures(self) -> int:
        return self._failures

    def _busy_but_healthy(self, failures_before: int) -> bool:
        """Every connection is open and in use, and none failed to open meanwhile.

        After a restart the pool is smaller than its maximum while it reconnects, with
        pauses between attempts: that is an outage, not a busy pool. A connection still
        being opened is not open: a pooler out of server connections keeps it waiting.
        """
        opened = int(self.get_stats().get("pool_size", 0)) - self._connecting
        return opened >= self.max_size and self._connection_failures() == failures_before

    async def _connect(self, timeout: float | None = None) -> AsyncConnection[DictRow]:  # noqa: ASYNC109
        self._connecting += 1
        try:
            return await super()._connect(timeout)
        except Exception:
            self._failures += 1
            raise
        finally:
            self._connecting -= 1


@contextmanager
def patient(seconds: float) -> Iterator[None]:
    """Within this block (and the tasks it starts), wait up to `seconds` for a connection."""
    token = _patience.set(seconds)
    try:
        yield
    finally:
        _patience.reset(token)


async def check_connection(conn: AsyncConnection[DictRow]) -> None:
    """Raise for a connection that is no longer usable, without a round trip if possible.

    An idle connection has nothing to read. When the server ends it (a restart, a
    failover) it sends a termination notice or closes the socket, which makes the socket
    readable: only then is the full check (an empty query) worth a round trip. Checking
    every checkout with a query cost one round trip per database call.
    """
    if conn.closed or conn.broken:
        raise OperationalError("the connection is closed")
    readable, _, _ = select.select([conn.pgconn.socket], [], [], 0)
    if readable:
        await AsyncConnectionPool.check_connection(conn)


def answered_within(seconds: float) -> Callable[[AsyncConnection[Any]], Awaitable[None]]:
    """A new connection's first query must be answered within `seconds`.

    A pooler accepts a connection at once and makes its first query wait for a server
    connection of its own, as long as the pooler allows (`query_wait_timeout` in
    PgBouncer): without this, a pool behind a pooler too small for it would hand out
    connections whose every query waits there.
    """

    async def probe(conn: AsyncConnection[Any]) -> None:
        try:
            async with asyncio.timeout(seconds):
                await conn.execute("SELECT 1")
        except TimeoutError:
            await conn.close()
            raise OperationalError(
                f"the pooler gave no server connection within {seconds:g} s"
            ) from None

    return probe


async def pooled(url: str) -> bool:
    """Whether a pooler stands between `url` and PostgreSQL.

    A pooler hands its clients a process id of its own (the key that cancels a query
    goes to it, not to PostgreSQL), so the one the connection announced differs from
    the process that answers. PgBouncer, and the poolers of managed databases, do so.
    """
    async with await AsyncConnection.connect(url, autocommit=True) as conn:
        cursor = await conn.execute("SELECT pg_backend_pid()")
        row = await cursor.fetchone()
        return row is not None and row[0] != conn.info.backend_pid


async def pooler_of(url: str, settings: DatabaseSettings) -> Pooler:
    """The pooler `url` goes through: as set, or, for "auto", a detected one pools transactions."""
    if settings.pooler != "auto":
        return settings.pooler
    return "transaction" if await pooled(url) else "none"


def connection_kwargs(settings: DatabaseSettings, pooler: Pooler) -> dict[str, Any]:
    """How langstar's connections to `database.url` are opened, in the pool or not.

    LangGraph's savers expect autocommit and dict rows. Statements are prepared on first
    use (as LangGraph's own connections do), except behind a transaction pooler: a
    prepared statement lives in one server connection and the next transaction may get
    another (PgBouncer 1.21 and later can track them, with `max_prepared_statements`).
    """
    prepare = settings.prepared_statements
    if prepare == "auto":
        prepare = "off" if pooler == "transaction" else "on"
    threshold = 0 if prepare == "on" else None
    return {"autocommit": True, "prepare_threshold": threshold, "row_factory": dict_row}


async def open_pool(
    url: str, settings: DatabaseSettings, *, pooler: Pooler = "none", name: str = "langstar"
) -> Pool:
    """Open a pool whose connections LangGraph's savers and langstar's services can share.

    Each connection is tested before it is handed out, so the first requests after a
    PostgreSQL restart get a fresh connection instead of a dead one. Every connection
    (the pool's, and those opened from its `conninfo`) is named `langstar` in
    `pg_stat_activity` and sends TCP keepalives, unless the URL says otherwise. Behind a
    pooler a new connection counts once its first query is answered, within
    `pool_timeout_seconds`.
    """
    probe = None if pooler == "none" else answered_within(settings.pool_timeout_seconds)
    pool = Pool(
        with_session_defaults(url),
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        timeout=settings.pool_timeout_seconds,
        max_lifetime=settings.pool_max_lifetime_seconds,
        max_idle=settings.pool_max_idle_seconds,
        kwargs=connection_kwargs(settings, pooler),
        configure=probe,
        # No `check`: `Pool.getconn` checks each connection it hands out itself.
        connection_class=AsyncConnection[DictRow],
        name=name,
        open=False,
    )
    pool.busy_wait = settings.pool_busy_wait_seconds
    await pool.open(wait=True, timeout=settings.pool_timeout_seconds)
    return pool
