"""The one psycopg connection pool that the whole server shares."""

from __future__ import annotations

from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from langstar.settings import DatabaseSettings

Pool = AsyncConnectionPool[AsyncConnection[DictRow]]


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
        # LangGraph's savers expect autocommit and dict rows; prepared statements would
        # break behind PgBouncer in transaction mode.
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        check=AsyncConnectionPool.check_connection,
        connection_class=AsyncConnection[DictRow],
        name=name,
        open=False,
    )
    await pool.open(wait=True, timeout=settings.pool_timeout_seconds)
    return pool
