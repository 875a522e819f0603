"""The ceiling: runs of the bench graph with no HTTP at all, on fresh threads.

    python inprocess_limit.py DB_URI [TASKS] [SECONDS]

TASKS coroutines (16) each call `graph.ainvoke` on a new thread, again and again, for
SECONDS (10), on one pool of TASKS connections, first with the stock
`AsyncPostgresSaver`, then with `PooledSaver`, the same saver without its per-instance
lock: each checkpoint call takes a connection of its own from the pool, so calls no
longer wait for one another. Prints one line per saver: `<name>: <runs> runs/s`.
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from bench_graph import builder
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from psycopg import AsyncCursor
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool


class PooledSaver(AsyncPostgresSaver):
    """The stock saver, its cursors taken from the pool without the instance's lock."""

    @asynccontextmanager
    async def _cursor(self, *, pipeline: bool = False) -> AsyncIterator[AsyncCursor[DictRow]]:
        assert isinstance(self.conn, AsyncConnectionPool)
        async with self.conn.connection() as conn:
            if pipeline:
                async with conn.pipeline(), conn.cursor(binary=True, row_factory=dict_row) as cur:
                    yield cur
            else:
                async with conn.cursor(binary=True, row_factory=dict_row) as cur:
                    yield cur


async def runs_per_second(saver: AsyncPostgresSaver, tasks: int, seconds: float) -> float:
    graph = builder.compile(checkpointer=saver)
    finished = 0
    started = time.perf_counter()
    until = started + seconds

    async def keep_running() -> None:
        nonlocal finished
        while time.perf_counter() < until:
            config: Any = {"configurable": {"thread_id": str(uuid.uuid4())}}
            await graph.ainvoke({"messages": [("user", "hi")]}, config)
            finished += 1

    await asyncio.gather(*(keep_running() for _ in range(tasks)))
    return finished / (time.perf_counter() - started)


async def main(url: str, tasks: int, seconds: float) -> None:
    # The stock saver's own connection settings: autocommit, no prepared statements.
    options = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
    pool = AsyncConnectionPool(url, kwargs=options, min_size=tasks, max_size=tasks, open=False)
    async with pool:
        await AsyncPostgresSaver(pool).setup()
        for saver in (AsyncPostgresSaver, PooledSaver):
            rate = await runs_per_second(saver(pool), tasks, seconds)
            print(f"{saver.__name__}: {rate:.0f} runs/s", flush=True)


if __name__ == "__main__":
    given = sys.argv[1:]
    asyncio.run(
        main(
            given[0],
            int(given[1]) if len(given) > 1 else 16,
            float(given[2]) if len(given) > 2 else 10.0,
        )
    )
