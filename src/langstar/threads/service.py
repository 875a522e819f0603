"""Threads: ownership, status and latest values in langstar's table; state in checkpoints."""

from __future__ import annotations

import uuid
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.pregel import Pregel
from langgraph.types import StateSnapshot
from litestar.exceptions import NotFoundException
from psycopg.types.json import Jsonb

from langstar.db.pool import Pool
from langstar.errors import Conflict
from langstar.identity import Identity
from langstar.serde import dumps, to_jsonable
from langstar.threads.schemas import CheckpointRef, Thread, ThreadCreate, ThreadState, ThreadTask

_COLUMNS = "thread_id, created_at, updated_at, metadata, status, config, values, interrupts, error"


def _jsonb(value: Any) -> Jsonb:
    # Graph values hold LangChain messages and other objects psycopg cannot encode itself.
    return Jsonb(value, dumps=lambda obj: dumps(obj).decode())


def _not_found(thread_id: uuid.UUID) -> NotFoundException:
    return NotFoundException(f"Thread {thread_id} not found")


class ThreadService:
    """Threads of one caller; every query is filtered by the caller's identity."""

    def __init__(self, pool: Pool, identity: Identity) -> None:
        self._pool = pool
        self._owner = identity.user_id

    async def create(self, body: ThreadCreate) -> Thread:
        thread_id = body.thread_id or uuid.uuid4()
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"INSERT INTO threads (thread_id, owner, metadata) VALUES (%s, %s, %s) "
                f"ON CONFLICT (thread_id) DO NOTHING RETURNING {_COLUMNS}",
                (thread_id, self._owner, _jsonb(body.metadata)),
            )
            row = await cur.fetchone()
        if row is not None:
            return Thread(**row)
        if body.if_exists == "do_nothing":
            return await self.get(thread_id)
        raise Conflict(f"Thread {thread_id} already exists")

    async def get(self, thread_id: uuid.UUID) -> Thread:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {_COLUMNS} FROM threads WHERE thread_id = %s AND owner = %s",
                (thread_id, self._owner),
            )
            row = await cur.fetchone()
        if row is None:
            raise _not_found(thread_id)
        return Thread(**row)

    async def graph_id_of(self, thread_id: uuid.UUID) -> str | None:
        """The graph that last ran on the thread (None before any run); 404 if not ours."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT graph_id FROM threads WHERE thread_id = %s AND owner = %s",
                (thread_id, self._owner),
            )
            row = await cur.fetchone()
        if row is None:
            raise _not_found(thread_id)
        return row["graph_id"]  # type: ignore[no-any-return]

    async def claim(
        self, thread_id: uuid.UUID, *, graph_id: str, assistant_id: str, create: bool
    ) -> None:
        """Mark the thread busy for one run, creating it if asked.

        The conditional update is the database's guarantee that two runs never share a
        thread: the second finds it busy and gets 409 instead of forking the same checkpoint.
        """
        tags = _jsonb({"graph_id": graph_id, "assistant_id": assistant_id})
        if create:
            sql = (
                "INSERT INTO threads (thread_id, owner, graph_id, status, metadata) "
                "VALUES (%(id)s, %(owner)s, %(graph)s, 'busy', %(tags)s) "
                "ON CONFLICT (thread_id) DO UPDATE SET status = 'busy', "
                "graph_id = EXCLUDED.graph_id, metadata = threads.metadata || EXCLUDED.metadata, "
                "updated_at = now() "
                "WHERE threads.owner = EXCLUDED.owner AND threads.status <> 'busy' "
                "RETURNING 1"
            )
        else:
            sql = (
                "UPDATE threads SET status = 'busy', graph_id = %(graph)s, "
                "metadata = metadata || %(tags)s, updated_at = now() "
                "WHERE thread_id = %(id)s AND owner = %(owner)s AND status <> 'busy' "
                "RETURNING 1"
            )
        params = {"id": thread_id, "owner": self._owner, "graph": graph_id, "tags": tags}
        async with self._pool.connection() as conn:
            claimed = await (await conn.execute(sql, params)).fetchone()
            if claimed is not None:
                return
            cur = await conn.execute(
                "SELECT status FROM threads WHERE thread_id = %s AND owner = %s",
                (thread_id, self._owner),
            )
            existing = await cur.fetchone()
        if existing is None:
            raise _not_found(thread_id)
        raise Conflict(f"Thread {thread_id} is busy with another run")

    async def release(
        self,
        thread_id: uuid.UUID,
        *,
        status: str,
        values: Any,
        interrupts: dict[str, Any] | None = None,
        error: dict[str, str] | None = None,
    ) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(
                "UPDATE threads SET status = %s, values = %s, interrupts = %s, error = %s, "
                "updated_at = now() WHERE thread_id = %s AND owner = %s",
                (
                    status,
                    _jsonb(values),
                    _jsonb(interrupts or {}),
                    None if error is None else _jsonb(error),
                    thread_id,
                    self._owner,
                ),
            )

    async def state(self, graph: Pregel[Any, Any, Any, Any], thread_id: uuid.UUID) -> ThreadState:
        config: RunnableConfig = {"configurable": {"thread_id": str(thread_id)}}
        return state_of(await graph.aget_state(config), str(thread_id))


def _ref(config: RunnableConfig | None, thread_id: str) -> CheckpointRef | None:
    if not config:
        return None
    configurable = config.get("configurable") or {}
    return CheckpointRef(
        thread_id=str(configurable.get("thread_id", thread_id)),
        checkpoint_ns=str(configurable.get("checkpoint_ns", "")),
        checkpoint_id=configurable.get("checkpoint_id"),
        checkpoint_map=configurable.get("checkpoint_map"),
    )


def state_of(snapshot: StateSnapshot, thread_id: str) -> ThreadState:
    """A StateSnapshot in the Agent Server's JSON shape."""
    checkpoint = _ref(snapshot.config, thread_id) or CheckpointRef(
        thread_id=thread_id, checkpoint_ns="", checkpoint_id=None
    )
    tasks = [
        ThreadTask(
            id=task.id,
            name=task.name,
            path=list(task.path),
            error=None if task.error is None else repr(task.error),
            interrupts=to_jsonable(list(task.interrupts)),
            checkpoint=_ref(task.state, thread_id) if isinstance(task.state, dict) else None,
            state=(
                state_of(task.state, thread_id) if isinstance(task.state, StateSnapshot) else None
            ),
            result=to_jsonable(task.result),
        )
        for task in snapshot.tasks
    ]
    return ThreadState(
        values=to_jsonable(snapshot.values),
        next=list(snapshot.next),
        tasks=tasks,
        checkpoint=checkpoint,
        metadata=to_jsonable(snapshot.metadata) if snapshot.metadata is not None else None,
        created_at=snapshot.created_at,
        parent_checkpoint=_ref(snapshot.parent_config, thread_id),
        interrupts=to_jsonable(list(snapshot.interrupts)),
    )
