"""The one psycopg connection pool that the whole server shares."""

from __future__ import annotations

import select

from psycopg import AsyncConnection, OperationalError
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from langstar.settings import DatabaseSettings

Pool = AsyncConnectionPool[AsyncConnection[DictRow]]


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


async def open_pool(url: str, settings: DatabaseSettings, *, name: str = "langstar") -> Pool:
    """Open a pool whose connections LangGraph's savers and langstar's services can share.

    `check` tests a connection before handing it out, so the first requests after a
    PostgreSQL restart get a fresh connection instead of a dead one.
    """
    pool: Pool = AsyncConnectionPool(
        url,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        timeout=settings.pool_timeout_seconds,
        max_lifetime=settings.pool_max_lifetime_seconds,
        max_idle=settings.pool_max_idle_seconds,
        # LangGraph's savers expect autocommit and dict rows. Statements are prepared on
        # first use (as LangGraph's own connections do); PgBouncer needs 1.21 or later.
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        check=check_connection,
        connection_class=AsyncConnection[DictRow],
        name=name,
        open=False,
    )
    await pool.open(wait=True, timeout=settings.pool_timeout_seconds)
    return pool
