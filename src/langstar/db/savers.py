"""A Postgres checkpointer that is not serialised behind one lock per process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.serde._msgpack import SAFE_MSGPACK_TYPES
from langgraph.checkpoint.serde.base import SerializerProtocol
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from psycopg import AsyncConnection, AsyncCursor
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from langstar.settings import DatabaseSettings


class PooledPostgresSaver(AsyncPostgresSaver):
    """`AsyncPostgresSaver` that checks out a pooled connection per call.

    The stock saver holds one `asyncio.Lock` around every cursor, even over a pool, so one
    shared instance runs a single checkpoint statement at a time for the whole server. A
    pooled connection is never handed to two callers at once, so the lock buys nothing here.
    """

    conn: AsyncConnectionPool[AsyncConnection[DictRow]]

    def __init__(
        self,
        pool: AsyncConnectionPool[AsyncConnection[DictRow]],
        serde: SerializerProtocol | None = None,
    ) -> None:
        super().__init__(pool, serde=serde)

    @asynccontextmanager
    async def _cursor(self, *, pipeline: bool = False) -> AsyncIterator[AsyncCursor[DictRow]]:
        async with self.conn.connection() as conn:
            if pipeline and self.supports_pipeline:
                async with conn.pipeline(), conn.cursor(binary=True, row_factory=dict_row) as cur:
                    yield cur
            elif pipeline:
                async with (
                    conn.transaction(),
                    conn.cursor(binary=True, row_factory=dict_row) as cur,
                ):
                    yield cur
            else:
                async with conn.cursor(binary=True, row_factory=dict_row) as cur:
                    yield cur


def checkpoint_serializer(settings: DatabaseSettings) -> JsonPlusSerializer:
    """How checkpoints are read back: strict by default.

    A checkpoint may name any Python type, which would be imported and called when it is
    loaded; strict mode only builds LangGraph's safe types (messages, documents, dates,
    ...), the types the graphs' state schemas declare, and `checkpoint_allowed_types`.
    """
    if not settings.strict_checkpoint_types:
        return JsonPlusSerializer(allowed_msgpack_modules=True)
    extra = [tuple(name.rsplit(".", 1)) for name in settings.checkpoint_allowed_types]
    return JsonPlusSerializer(allowed_msgpack_modules=[*SAFE_MSGPACK_TYPES, *extra])
