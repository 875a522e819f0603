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
from langstar.errors import Conflict, UnprocessableEntity, check_page, selected_fields
from langstar.graphs.registry import RegisteredGraph
from langstar.identity import Identity
from langstar.limits import check_metadata
from langstar.serde import dumps, to_jsonable
from langstar.settings import LimitSettings
from langstar.threads.schemas import (
    THREAD_FIELDS,
    CheckpointConfig,
    CheckpointRef,
    Thread,
    ThreadCount,
    ThreadCreate,
    ThreadHistory,
    ThreadPatch,
    ThreadPrune,
    ThreadSearch,
    ThreadState,
    ThreadStateUpdate,
    ThreadTask,
)

_COLUMNS = ", ".join(THREAD_FIELDS)
# LangGraph's checkpoint tables, which langstar's own migrations create and version.
_CHECKPOINT_TABLES = ("checkpoint_writes", "checkpoint_blobs", "checkpoints")


def jsonb(value: Any) -> Jsonb:
    # Graph values hold LangChain messages and other objects psycopg cannot encode itself.
    return Jsonb(value, dumps=dumps)


def _not_found(thread_id: uuid.UUID) -> NotFoundException:
    return NotFoundException(f"Thread {thread_id} not found")


class ThreadService:
    """Threads of one caller; every query is filtered by the caller's identity."""

    def __init__(self, pool: Pool, identity: Identity, limits: LimitSettings | None = None) -> None:
        self._pool = pool
        self._owner = identity.user_id
        self._limits = limits or LimitSettings()

    async def create(self, body: ThreadCreate) -> Thread:
        check_metadata(body.metadata, self._limits)
        if body.ttl is not None:
            raise UnprocessableEntity("ttl: thread expiry is not supported by this server")
        if body.supersteps is not None:
            raise UnprocessableEntity("supersteps: not supported by this server")
        thread_id = body.thread_id or uuid.uuid4()
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"INSERT INTO threads (thread_id, owner, metadata) VALUES (%s, %s, %s) "
                f"ON CONFLICT (thread_id) DO NOTHING RETURNING {_COLUMNS}",
                (thread_id, self._owner, jsonb(body.metadata)),
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

    async def claim(self, thread_id: uuid.UUID, *, graph_id: str, assistant_id: str) -> None:
        """Hold an idle thread busy for a state update; 409 while a run has it."""
        tags = jsonb({"graph_id": graph_id, "assistant_id": assistant_id})
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "UPDATE threads SET status = 'busy', graph_id = %s, "
                "metadata = metadata || %s, updated_at = now() "
                "WHERE thread_id = %s AND owner = %s AND status <> 'busy' RETURNING 1",
                (graph_id, tags, thread_id, self._owner),
            )
            if await cur.fetchone() is not None:
                return
            cur = await conn.execute(
                "SELECT 1 FROM threads WHERE thread_id = %s AND owner = %s",
                (thread_id, self._owner),
            )
            existing = await cur.fetchone()
        if existing is None:
            raise _not_found(thread_id)
        raise Conflict(f"Thread {thread_id} is busy with a run")

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
                "updated_at = now(), state_updated_at = now() "
                "WHERE thread_id = %s AND owner = %s",
                (
                    status,
                    jsonb(values),
                    jsonb(interrupts or {}),
                    None if error is None else jsonb(error),
                    thread_id,
                    self._owner,
                ),
            )

    async def patch(self, thread_id: uuid.UUID, body: ThreadPatch) -> Thread:
        check_metadata(body.metadata, self._limits)
        if body.ttl is not None:
            raise UnprocessableEntity("ttl: thread expiry is not supported by this server")
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"UPDATE threads SET metadata = metadata || %s, updated_at = now() "
                f"WHERE thread_id = %s AND owner = %s RETURNING {_COLUMNS}",
                (jsonb(body.metadata or {}), thread_id, self._owner),
            )
            row = await cur.fetchone()
        if row is None:
            raise _not_found(thread_id)
        return Thread(**row)

    async def delete(self, thread_id: uuid.UUID) -> None:
        """Delete the thread and its checkpoints together, or nothing (409 while busy)."""
        async with self._pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "DELETE FROM threads WHERE thread_id = %s AND owner = %s AND status <> 'busy' "
                "RETURNING 1",
                (thread_id, self._owner),
            )
            if await cur.fetchone() is None:
                cur = await conn.execute(
                    "SELECT 1 FROM threads WHERE thread_id = %s AND owner = %s",
                    (thread_id, self._owner),
                )
                if await cur.fetchone() is None:
                    raise _not_found(thread_id)
                raise Conflict(f"Thread {thread_id} is busy with a run")
            for table in _CHECKPOINT_TABLES:
                await conn.execute(f"DELETE FROM {table} WHERE thread_id = %s", (str(thread_id),))

    async def prune(self, body: ThreadPrune) -> int:
        """Delete threads, or keep only each thread's latest checkpoint."""
        pruned = 0
        for thread_id in body.thread_ids:
            try:
                if body.strategy == "delete":
                    await self.delete(thread_id)
                else:
                    await self._keep_latest(thread_id)
            except (NotFoundException, Conflict):
                continue
            pruned += 1
        return pruned

    async def _keep_latest(self, thread_id: uuid.UUID) -> None:
        await self.get(thread_id)
        async with self._pool.connection() as conn, conn.transaction():
            # The newest checkpoint of each namespace stays; its blobs are what it points to.
            await conn.execute(
                "DELETE FROM checkpoints c WHERE thread_id = %(t)s AND checkpoint_id <> "
                "(SELECT max(checkpoint_id) FROM checkpoints l WHERE l.thread_id = %(t)s "
                "AND l.checkpoint_ns = c.checkpoint_ns)",
                {"t": str(thread_id)},
            )
            await conn.execute(
                "DELETE FROM checkpoint_writes w WHERE thread_id = %(t)s AND NOT EXISTS "
                "(SELECT 1 FROM checkpoints c WHERE c.thread_id = w.thread_id "
                "AND c.checkpoint_ns = w.checkpoint_ns AND c.checkpoint_id = w.checkpoint_id)",
                {"t": str(thread_id)},
            )
            await conn.execute(
                "DELETE FROM checkpoint_blobs b WHERE thread_id = %(t)s AND NOT EXISTS "
                "(SELECT 1 FROM checkpoints c WHERE c.thread_id = b.thread_id "
                "AND c.checkpoint_ns = b.checkpoint_ns "
                "AND c.checkpoint -> 'channel_versions' ->> b.channel = b.version)",
                {"t": str(thread_id)},
            )

    def _filters(self, body: ThreadCount) -> tuple[str, list[Any]]:
        clauses: list[str] = ["owner = %s"]
        params: list[Any] = [self._owner]
        if body.metadata:
            clauses.append("metadata @> %s")
            params.append(jsonb(body.metadata))
        if body.values:
            clauses.append("values @> %s")
            params.append(jsonb(body.values))
        if body.status is not None:
            clauses.append("status = %s")
            params.append(body.status)
        return " AND ".join(clauses), params

    async def search(self, body: ThreadSearch) -> list[dict[str, Any]]:
        check_page(body.limit, body.offset)
        if body.extract:
            raise UnprocessableEntity("extract: not supported by this server")
        columns = selected_fields(body.select, THREAD_FIELDS)
        where, params = self._filters(body)
        if body.ids is not None:
            where += " AND thread_id = ANY(%s)"
            params.append(list(body.ids))
        order = f"{body.sort_by} {body.sort_order.upper()}, thread_id"
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {', '.join(columns)} FROM threads WHERE {where} "
                f"ORDER BY {order} LIMIT %s OFFSET %s",
                [*params, body.limit, body.offset],
            )
            return list(await cur.fetchall())

    async def count(self, body: ThreadCount) -> int:
        where, params = self._filters(body)
        async with self._pool.connection() as conn:
            cur = await conn.execute(f"SELECT count(*) AS n FROM threads WHERE {where}", params)
            row = await cur.fetchone()
        return int(row["n"]) if row else 0

    async def copy(self, thread_id: uuid.UUID) -> Thread:
        """A new thread with the same metadata, values and every checkpoint."""
        new_id = uuid.uuid4()
        async with self._pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                f"INSERT INTO threads (thread_id, owner, graph_id, status, metadata, config, "
                f"values, interrupts, error, state_updated_at) "
                f"SELECT %s, owner, graph_id, CASE status WHEN 'busy' THEN 'idle' ELSE status END, "
                f"metadata, config, values, interrupts, error, state_updated_at "
                f"FROM threads WHERE thread_id = %s AND owner = %s RETURNING {_COLUMNS}",
                (new_id, thread_id, self._owner),
            )
            row = await cur.fetchone()
            if row is None:
                raise _not_found(thread_id)
            await conn.execute(
                "INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, "
                "parent_checkpoint_id, type, checkpoint, metadata) "
                "SELECT %s, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, "
                "checkpoint, metadata FROM checkpoints WHERE thread_id = %s",
                (str(new_id), str(thread_id)),
            )
            await conn.execute(
                "INSERT INTO checkpoint_blobs (thread_id, checkpoint_ns, channel, version, "
                "type, blob) SELECT %s, checkpoint_ns, channel, version, type, blob "
                "FROM checkpoint_blobs WHERE thread_id = %s",
                (str(new_id), str(thread_id)),
            )
            await conn.execute(
                "INSERT INTO checkpoint_writes (thread_id, checkpoint_ns, checkpoint_id, "
                "task_id, task_path, idx, channel, type, blob) "
                "SELECT %s, checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel, "
                "type, blob FROM checkpoint_writes WHERE thread_id = %s",
                (str(new_id), str(thread_id)),
            )
        return Thread(**row)

    async def state(
        self,
        graph: Pregel[Any, Any, Any, Any],
        thread_id: uuid.UUID,
        checkpoint: CheckpointConfig | None = None,
        *,
        subgraphs: bool = False,
    ) -> ThreadState:
        config = checkpoint_config(thread_id, checkpoint)
        snapshot = await graph.aget_state(config, subgraphs=subgraphs)
        return state_of(snapshot, str(thread_id))

    async def history(
        self, graph: Pregel[Any, Any, Any, Any], thread_id: uuid.UUID, body: ThreadHistory
    ) -> list[ThreadState]:
        check_page(body.limit)
        before = body.before
        if isinstance(before, str):
            before = CheckpointConfig(checkpoint_id=before)
        states = []
        async for snapshot in graph.aget_state_history(
            checkpoint_config(thread_id, body.checkpoint),
            filter=body.metadata,
            before=checkpoint_config(thread_id, before) if before is not None else None,
            limit=body.limit,
        ):
            states.append(state_of(snapshot, str(thread_id)))
        return states

    async def update_state(
        self, graph: RegisteredGraph, thread_id: uuid.UUID, body: ThreadStateUpdate
    ) -> dict[str, Any]:
        """Write values as if `as_node` had run; the thread is held busy meanwhile."""
        checkpoint = body.checkpoint
        if body.checkpoint_id is not None:
            checkpoint = CheckpointConfig(checkpoint_id=body.checkpoint_id)
        config = checkpoint_config(thread_id, checkpoint)
        await self.claim(
            thread_id,
            graph_id=graph.graph_id,
            assistant_id=str(graph.assistant_id),
        )
        try:
            new_config = await graph.compiled.aupdate_state(
                config, body.values, as_node=body.as_node
            )
        except Exception as exc:
            raise UnprocessableEntity(f"values: {type(exc).__name__}: {exc}") from None
        finally:
            latest = await graph.compiled.aget_state(checkpoint_config(thread_id, None))
            interrupts = {
                t.id: to_jsonable(list(t.interrupts)) for t in latest.tasks if t.interrupts
            }
            await self.release(
                thread_id,
                status="interrupted" if interrupts else "idle",
                values=to_jsonable(latest.values),
                interrupts=interrupts,
            )
        return dict(new_config.get("configurable", {}))


def checkpoint_config(thread_id: uuid.UUID, checkpoint: CheckpointConfig | None) -> RunnableConfig:
    """The config that addresses a thread's checkpoint; the latest one without an id."""
    configurable: dict[str, Any] = {"thread_id": str(thread_id)}
    if checkpoint is not None:
        if checkpoint.thread_id not in (None, str(thread_id)):
            raise UnprocessableEntity("checkpoint.thread_id: belongs to another thread")
        configurable["checkpoint_ns"] = checkpoint.checkpoint_ns
        if checkpoint.checkpoint_id:
            configurable["checkpoint_id"] = checkpoint.checkpoint_id
        if checkpoint.checkpoint_map:
            configurable["checkpoint_map"] = checkpoint.checkpoint_map
    return {"configurable": configurable}


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
    parent = _ref(snapshot.parent_config, thread_id)
    return ThreadState(
        checkpoint_id=checkpoint.checkpoint_id,
        parent_checkpoint_id=parent.checkpoint_id if parent else None,
        values=to_jsonable(snapshot.values),
        next=list(snapshot.next),
        tasks=tasks,
        checkpoint=checkpoint,
        metadata=to_jsonable(snapshot.metadata) if snapshot.metadata is not None else None,
        created_at=snapshot.created_at,
        parent_checkpoint=parent,
        interrupts=to_jsonable(list(snapshot.interrupts)),
    )
