"""Threads: ownership, status and latest values in langstar's table; state in checkpoints."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import msgspec
from langchain_core.runnables import RunnableConfig
from langgraph.pregel import Pregel
from langgraph.types import StateSnapshot
from psycopg import AsyncConnection
from psycopg.rows import DictRow

from langstar import lifecycle
from langstar.access import Authorizer, OpenAccess, filter_sql
from langstar.db.checkpoints import OWN_CHECKPOINTS, ThreadCheckpoints
from langstar.db.json_encryption import THREAD_FIELDS as SEALED_FIELDS
from langstar.db.json_encryption import JsonCipher
from langstar.db.jsonb import jsonb
from langstar.db.pool import Pool
from langstar.errors import ConflictError, InvalidError, NotFoundError, check_page, selected_fields
from langstar.graphs.registry import RegisteredGraph, ThreadGraph, reading_graph
from langstar.identity import Identity
from langstar.lifecycle import EXPIRES_AFTER_ACTIVITY
from langstar.limits import check_metadata
from langstar.serde import shown_interrupt_map, shown_interrupts, to_jsonable
from langstar.settings import LimitSettings, ThreadSettings
from langstar.threads.extract import Extraction
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


def _not_found(thread_id: uuid.UUID) -> NotFoundError:
    return NotFoundError("thread", thread_id)


class ThreadService:
    """Threads of one caller; every query is filtered by the caller's identity and access."""

    def __init__(
        self,
        pool: Pool,
        identity: Identity,
        limits: LimitSettings | None = None,
        access: Authorizer | None = None,
        expiry: ThreadSettings | None = None,
        checkpoints: ThreadCheckpoints = OWN_CHECKPOINTS,
        cipher: JsonCipher | None = None,
    ) -> None:
        self.checkpoints = checkpoints  # where the threads' checkpoints are changed
        self.cipher = cipher or JsonCipher()  # the project's JSON encryption, if any
        self._pool = pool
        self._identity = identity
        self._owner = identity.owner
        self._limits = limits or LimitSettings()
        self._expiry = expiry or ThreadSettings()
        self._access = access or OpenAccess()

    async def allowed(self, thread_id: uuid.UUID, action: str, **value: Any) -> dict[str, Any]:
        """Check the caller may act on the thread (a 404 if not); returns the handler's
        `value`, which it may have changed (metadata stamped with an owner)."""
        given = {"thread_id": thread_id, **value}
        found = await self._access.authorize("threads", action, given)
        if found:
            where, params = filter_sql(found)
            async with self._pool.connection() as conn:
                cur = await conn.execute(
                    f"SELECT 1 FROM threads WHERE thread_id = %s AND owner = %s AND {where}",
                    [thread_id, self._owner, *params],
                )
                if await cur.fetchone() is None:
                    raise _not_found(thread_id)
        return given

    async def create(self, body: ThreadCreate) -> Thread:
        check_metadata(body.metadata, self._limits)
        ttl = ttl_of(body.ttl) or self._default_ttl()
        if body.supersteps is not None:
            raise InvalidError("supersteps", "not supported by this server")
        thread_id = body.thread_id or uuid.uuid4()
        value = {"thread_id": thread_id, "metadata": dict(body.metadata or {}),
                 "if_exists": body.if_exists}  # fmt: skip
        await self._access.authorize("threads", "create", value)
        metadata = await self.cipher.seal("thread", "metadata", value["metadata"])
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "INSERT INTO threads (thread_id, owner, metadata, ttl_minutes, ttl_strategy) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (thread_id) DO NOTHING "
                f"RETURNING {_COLUMNS}",
                (thread_id, self._owner, jsonb(metadata), *(ttl or (None, None))),
            )
            row = await cur.fetchone()
            if row is not None and ttl is not None:  # never an existing thread's expiry
                await self._start_expiry(conn, thread_id)
        if row is not None:
            return await self._thread(row)
        if body.if_exists == "do_nothing":
            return await self.get(thread_id)
        raise ConflictError(f"Thread {thread_id} already exists")

    def _default_ttl(self) -> tuple[float, str] | None:
        """The TTL a new thread gets without one of its own (`[threads]` settings)."""
        if not self._expiry.ttl_default_minutes:
            return None
        return self._expiry.ttl_default_minutes, self._expiry.ttl_strategy

    async def _start_expiry(self, conn: AsyncConnection[DictRow], thread_id: uuid.UUID) -> None:
        await conn.execute(
            f"UPDATE threads SET expires_at = {EXPIRES_AFTER_ACTIVITY} WHERE thread_id = %s",
            (thread_id,),
        )

    async def get(self, thread_id: uuid.UUID, include: Sequence[str] = ()) -> Thread:
        """The thread; `include=["ttl"]` adds its TTL, when it has one."""
        unknown = sorted(set(include) - {"ttl"})
        if unknown:
            raise InvalidError("include", f"unknown field {unknown[0]!r}")
        await self.allowed(thread_id, "read")
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {_COLUMNS}, ttl_strategy, ttl_minutes, expires_at FROM threads "
                "WHERE thread_id = %s AND owner = %s",
                (thread_id, self._owner),
            )
            row = await cur.fetchone()
        if row is None:
            raise _not_found(thread_id)
        ttl = {key: row.pop(key) for key in ("ttl_strategy", "ttl_minutes", "expires_at")}
        thread = await self._thread(row)
        if "ttl" in include and ttl["ttl_minutes"] is not None:
            thread.ttl = {"strategy": ttl["ttl_strategy"], "ttl_minutes": ttl["ttl_minutes"],
                          "expires_at": ttl["expires_at"]}  # fmt: skip
        return thread

    async def graph_id_of(self, thread_id: uuid.UUID) -> str | None:
        """The graph that last ran on the thread, else the one its metadata names; 404 if
        not ours. None for a thread that has not run, as its state is empty."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT coalesce(graph_id, metadata->>'graph_id') AS graph_id FROM threads "
                "WHERE thread_id = %s AND owner = %s",
                (thread_id, self._owner),
            )
            row = await cur.fetchone()
        if row is None:
            raise _not_found(thread_id)
        return row["graph_id"]  # type: ignore[no-any-return]

    async def patch(self, thread_id: uuid.UUID, body: ThreadPatch) -> Thread:
        check_metadata(body.metadata, self._limits)
        ttl = ttl_of(body.ttl)
        value = await self.allowed(thread_id, "update", metadata=dict(body.metadata or {}))
        metadata = await self.cipher.seal("thread", "metadata", value["metadata"])
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"UPDATE threads SET metadata = metadata || %s, updated_at = now() "
                f"WHERE thread_id = %s AND owner = %s RETURNING {_COLUMNS}",
                (jsonb(metadata), thread_id, self._owner),
            )
            row = await cur.fetchone()
            if row is not None and ttl is not None:
                await conn.execute(
                    "UPDATE threads SET ttl_minutes = %s, ttl_strategy = %s WHERE thread_id = %s",
                    (*ttl, thread_id),
                )
                await self._start_expiry(conn, thread_id)
        if row is None:
            raise _not_found(thread_id)
        return await self._thread(row)

    async def _thread(self, row: dict[str, Any]) -> Thread:
        return Thread(**await self.cipher.open_fields("thread", row, SEALED_FIELDS))

    async def delete(self, thread_id: uuid.UUID) -> None:
        """Delete the thread, its runs and its checkpoints together, cancelling the runs in
        flight on it; answers without waiting for them to stop (as LangGraph's server)."""
        await self.allowed(thread_id, "delete")
        deleted = await lifecycle.delete_thread(
            self._pool, thread_id, self._owner, checkpoints=self.checkpoints
        )
        if not deleted:
            raise _not_found(thread_id)

    async def delete_temporary(self, thread_id: uuid.UUID) -> None:
        """A stateless run's thread, once its run is over, whatever state it was left in."""
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute(
                "DELETE FROM threads WHERE thread_id = %s AND owner = %s", (thread_id, self._owner)
            )
            await self.checkpoints.delete_thread(conn, thread_id)

    async def prune(self, body: ThreadPrune) -> int:
        """Delete threads, or keep only each thread's latest checkpoint."""
        pruned = 0
        for thread_id in body.thread_ids:
            try:
                if body.strategy == "delete":
                    await self.delete(thread_id)
                else:
                    await self._keep_latest(thread_id)
            except (NotFoundError, ConflictError):
                continue
            pruned += 1
        return pruned

    async def _keep_latest(self, thread_id: uuid.UUID) -> None:
        await self.get(thread_id)
        async with self._pool.connection() as conn, conn.transaction():
            await self.checkpoints.keep_latest(conn, thread_id)

    async def _filters(self, body: ThreadCount) -> tuple[str, list[Any]]:
        value = {"metadata": body.metadata, "values": body.values, "status": body.status}
        allowed, allowed_params = filter_sql(
            await self._access.authorize("threads", "search", value)
        )
        clauses: list[str] = ["owner = %s", allowed]
        params: list[Any] = [self._owner, *allowed_params]
        if body.metadata:
            clauses.append("metadata @> %s")
            params.append(jsonb(body.metadata))
        if body.values:
            clauses.append("values @> %s")
            params.append(jsonb(body.values))
            for path, listed in lists_in(body.values):
                clauses.append("values #> %s = %s")
                params += [path, jsonb(listed)]
        if body.status is not None:
            clauses.append("status = %s")
            params.append(body.status)
        return " AND ".join(clauses), params

    async def search(self, body: ThreadSearch) -> list[dict[str, Any]]:
        """Threads by filters, newest created first unless `sort_by` says otherwise, each
        with what `extract` picks out of it under `extracted`."""
        check_page(body.limit, body.offset)
        extraction = Extraction(body.extract) if body.extract else None
        selected = ", ".join(selected_fields(body.select, THREAD_FIELDS))
        select_params: list[Any] = []
        if extraction is not None:
            # Sealed documents are read whole and picked from once opened.
            roots = extraction.roots() if self.cipher.sealing else ()
            if extraction.reads_interrupts and not self.cipher.sealing:
                roots = ("interrupts",)
            selected += "".join(f", {root} AS extract_{root}" for root in roots)
            if not self.cipher.sealing:
                extracted, select_params = extraction.sql()
                selected += f", {extracted} AS extracted"
        where, params = await self._filters(body)
        if body.ids is not None:
            where += " AND thread_id = ANY(%s)"
            params.append(list(body.ids))
        order = f"{body.sort_by} {body.sort_order.upper()}, thread_id"
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {selected} FROM threads WHERE {where} ORDER BY {order} LIMIT %s OFFSET %s",
                [*select_params, *params, body.limit, body.offset],
            )
            rows = await cur.fetchall()
        for row in rows:
            await self.cipher.open_fields("thread", row, SEALED_FIELDS)
            if row.get("interrupts"):
                row["interrupts"] = shown_interrupt_map(row["interrupts"])
            if extraction is not None:
                await self._extract(extraction, row)
        return list(rows)

    async def _extract(self, extraction: Extraction, row: dict[str, Any]) -> None:
        """Put what `extract` picks out of the thread under the row's `extracted`."""
        roots = {
            key.removeprefix("extract_"): row.pop(key)
            for key in list(row)
            if key.startswith("extract_")
        }
        await self.cipher.open_fields("thread", roots, SEALED_FIELDS)
        shown = shown_interrupt_map(roots.get("interrupts") or {})
        if "extracted" in row:
            row["extracted"] = extraction.extracted(row["extracted"], shown)
        else:
            row["extracted"] = extraction.extracted_from({**roots, "interrupts": shown})

    async def count(self, body: ThreadCount) -> int:
        where, params = await self._filters(body)
        async with self._pool.connection() as conn:
            cur = await conn.execute(f"SELECT count(*) AS n FROM threads WHERE {where}", params)
            row = await cur.fetchone()
        return int(row["n"]) if row else 0

    async def copy(self, thread_id: uuid.UUID) -> Thread:
        """A new thread with the same metadata, values and every checkpoint."""
        await self.allowed(thread_id, "read")
        new_id = uuid.uuid4()
        async with self._pool.connection() as conn, conn.transaction():
            row = await lifecycle.copy_thread(conn, thread_id, new_id, self._owner, _COLUMNS)
            if row is None:
                raise _not_found(thread_id)
            await self.checkpoints.copy_thread(conn, thread_id, new_id)
        return await self._thread(row)

    async def state(
        self,
        graph: ThreadGraph | Pregel[Any, Any, Any, Any] | None,
        thread_id: uuid.UUID,
        checkpoint: CheckpointConfig | None = None,
        *,
        subgraphs: bool = False,
    ) -> ThreadState:
        """The state at a checkpoint (the latest without one); empty before any run."""
        await self.allowed(thread_id, "read")
        config = checkpoint_config(thread_id, checkpoint)
        async with reading_graph(graph, self._identity, thread_id) as reading:
            if reading is None:
                return state_of(EMPTY_STATE, str(thread_id))
            snapshot = await reading.aget_state(config, subgraphs=subgraphs)
        return state_of(snapshot, str(thread_id))

    async def history(
        self,
        graph: ThreadGraph | Pregel[Any, Any, Any, Any] | None,
        thread_id: uuid.UUID,
        body: ThreadHistory,
    ) -> list[ThreadState]:
        """Past states, newest first; none before any run."""
        limit = 1 if body.limit is None else body.limit
        check_page(limit)
        await self.allowed(thread_id, "read")
        before = body.before
        if isinstance(before, str):
            before = CheckpointConfig(checkpoint_id=before)
        states: list[ThreadState] = []
        async with reading_graph(graph, self._identity, thread_id) as reading:
            if reading is None:
                return states
            async for snapshot in reading.aget_state_history(
                checkpoint_config(thread_id, body.checkpoint),
                filter=body.metadata,
                before=checkpoint_config(thread_id, before) if before is not None else None,
                limit=limit,
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
        # LangGraph copies it into the new checkpoint's metadata, as on LangGraph's server,
        # so history filtered by graph_id keeps the update.
        config["configurable"]["graph_id"] = graph.graph_id
        await self.allowed(thread_id, "update")
        # Built before the thread is held: a factory that fails leaves it as it was.
        async with graph.built("threads.update", self._identity, thread_id=thread_id) as updating:
            await lifecycle.hold_thread(
                self._pool,
                thread_id,
                self._owner,
                graph_id=graph.graph_id,
                assistant_id=str(graph.assistant_id),
            )
            try:
                new_config = await updating.aupdate_state(config, body.values, as_node=body.as_node)
            except Exception as exc:
                raise InvalidError("values", f"{type(exc).__name__}: {exc}") from None
            finally:
                await self._release_updated(graph, updating, thread_id)
        return dict(new_config.get("configurable", {}))

    async def _release_updated(
        self, graph: RegisteredGraph, updating: Pregel[Any, Any, Any, Any], thread_id: uuid.UUID
    ) -> None:
        """Show the thread's new state, read as LangGraph's server reads it after an update
        (with the graph built for a read); with the update's graph if that cannot be built,
        as the thread must not stay held."""
        latest_config = checkpoint_config(thread_id, None)
        if graph.factory is None:
            latest = await updating.aget_state(latest_config)
        else:
            try:
                async with graph.built("threads.read", self._identity, thread_id=thread_id) as g:
                    latest = await g.aget_state(latest_config)
            except Exception:
                latest = await updating.aget_state(latest_config)
        interrupts = {t.id: shown_interrupts(t.interrupts) for t in latest.tasks if t.interrupts}
        await lifecycle.release_thread(
            self._pool,
            thread_id,
            self._owner,
            # As after a run, and as on LangGraph's server: a thread with a next step
            # to take waits for input.
            status="interrupted" if interrupts or latest.next else "idle",
            values=await self.cipher.seal("thread", "values", to_jsonable(latest.values)),
            interrupts=await self.cipher.seal("thread", "interrupts", interrupts),
        )


# A thread that has not run has no graph to read its state with, and nothing to read.
EMPTY_STATE = StateSnapshot(
    values={},
    next=(),
    config={},
    metadata=None,
    created_at=None,
    parent_config=None,
    tasks=(),
    interrupts=(),
)


def lists_in(values: dict[str, Any], path: tuple[str, ...] = ()) -> Iterator[tuple[list[str], Any]]:
    """Each list a `values` filter holds, by its path through objects.

    LangGraph's server matches a `values` filter key by key into objects, but a list only
    as a whole: `{"messages": []}` finds the threads with no messages, where `@>` alone
    would find every thread. `@>` holds whenever that match does, so it narrows the rows
    and each list is then compared whole."""
    for key, value in values.items():
        if isinstance(value, dict):
            yield from lists_in(value, (*path, key))
        elif isinstance(value, list):
            yield [*path, key], value


def ttl_of(value: float | dict[str, Any] | None) -> tuple[float, str] | None:
    """A TTL as clients send it: minutes, or {"ttl": minutes, "strategy": ...}."""
    if value is None:
        return None
    if isinstance(value, dict):
        unknown = sorted(set(value) - {"ttl", "strategy"})
        if unknown:
            raise InvalidError(f"ttl.{unknown[0]}", "not a TTL field")
        minutes, strategy = value.get("ttl"), value.get("strategy", "delete")
    else:
        minutes, strategy = value, "delete"
    if isinstance(minutes, bool) or not isinstance(minutes, int | float) or minutes <= 0:
        raise InvalidError("ttl", "must be a positive number of minutes")
    if strategy not in ("delete", "keep_latest"):
        raise InvalidError("ttl.strategy", "must be 'delete' or 'keep_latest'")
    return float(minutes), str(strategy)


def checkpoint_config(thread_id: uuid.UUID, checkpoint: CheckpointConfig | None) -> RunnableConfig:
    """The config that addresses a thread's checkpoint; the latest one without an id."""
    configurable: dict[str, Any] = {"thread_id": str(thread_id)}
    if checkpoint is not None:
        if checkpoint.thread_id not in (None, str(thread_id)):
            raise InvalidError("checkpoint.thread_id", "belongs to another thread")
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
        checkpoint_map=configurable.get("checkpoint_map", msgspec.UNSET),
    )


def state_of(snapshot: StateSnapshot, thread_id: str) -> ThreadState:
    """A StateSnapshot in the Agent Server's JSON shape (no checkpoint before the first)."""
    checkpoint = _ref(snapshot.config, thread_id)
    if checkpoint is not None and not checkpoint.checkpoint_id:
        checkpoint = None
    tasks = [
        ThreadTask(
            id=task.id,
            name=task.name,
            path=list(task.path),
            # A checkpoint keeps a failed task's error as its repr already.
            error=task.error
            if task.error is None or isinstance(task.error, str)
            else repr(task.error),
            interrupts=shown_interrupts(task.interrupts),
            checkpoint=_task_checkpoint(task.state) if isinstance(task.state, dict) else None,
            state=(
                state_of(task.state, thread_id) if isinstance(task.state, StateSnapshot) else None
            ),
            result=to_jsonable(task.result),
        )
        for task in snapshot.tasks
    ]
    parent = _ref(snapshot.parent_config, thread_id)
    return ThreadState(
        checkpoint_id=checkpoint.checkpoint_id if checkpoint else None,
        parent_checkpoint_id=parent.checkpoint_id if parent else None,
        values=to_jsonable(snapshot.values),
        next=list(snapshot.next),
        tasks=tasks,
        checkpoint=checkpoint,
        metadata=to_jsonable(snapshot.metadata) if snapshot.metadata is not None else None,
        created_at=snapshot.created_at,
        parent_checkpoint=parent,
        interrupts=shown_interrupts(snapshot.interrupts),
    )


def _task_checkpoint(config: RunnableConfig) -> dict[str, Any]:
    """A task's subgraph checkpoints as LangGraph's config names them, keys absent left out."""
    configurable = config.get("configurable") or {}
    keys = ("thread_id", "checkpoint_ns", "checkpoint_id", "checkpoint_map")
    return {key: configurable[key] for key in keys if key in configurable}
