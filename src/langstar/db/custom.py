"""A project's own checkpointer and store: loaded from their spec, entered once for the
server's life, and asked for what langstar does beside a saver's reads and writes.

The spec names an instance, a function making one (sync or async), or a context manager
yielding one (an `@asynccontextmanager` function, as LangGraph's docs write it), as
LangGraph's server accepts for `checkpointer.path` and `store.path`.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple
from langgraph.store.base import BaseStore
from psycopg import AsyncConnection
from psycopg.rows import DictRow

from langstar.errors import NotSupportedError
from langstar.objects import LoadError, load_object
from langstar.settings import SettingsError

# What a saver must do for a graph to run on it at all.
REQUIRED_METHODS = ("aget_tuple", "alist", "aput", "aput_writes")
# What langstar asks of a saver beside that, and what goes without each. Without
# `acopy_thread` a copy puts each checkpoint again, as LangGraph's server does.
OPTIONAL_METHODS = {
    "adelete_thread": "deleting a thread (and pruning or expiring it with 'delete')",
    "adelete_for_runs": "a rollback (multitask_strategy or cancel action 'rollback')",
    "aprune": "trimming a thread to its latest state ('keep_latest' prune or expiry)",
    "acopy_thread": "",
}
# How many layers (function, awaitable, context manager) a spec may wrap its object in.
MAX_LAYERS = 4


def _implements(obj: object, method: str) -> bool:
    """Whether the object's class defines `method` rather than inherit LangGraph's stub."""
    stub = getattr(BaseCheckpointSaver, method, None)
    own = getattr(type(obj), method, None)
    return own is not None and own is not stub


def missing_methods(saver: BaseCheckpointSaver[Any]) -> tuple[str, ...]:
    """The optional methods the saver does not implement, in `OPTIONAL_METHODS` order."""
    return tuple(m for m in OPTIONAL_METHODS if not _implements(saver, m))


def shortfall(saver: BaseCheckpointSaver[Any], *, keyed: bool = False) -> str:
    """What will not work on this saver, in a sentence or two; empty if everything will.

    `keyed`: `LANGGRAPH_AES_KEY` is set, and the operator expects encrypted checkpoints.
    """
    said = []
    if keyed:
        said.append(
            f"LANGGRAPH_AES_KEY encrypts langstar's own checkpoints only: the project's "
            f"checkpointer {type(saver).__name__} writes with its own serializer"
        )
    if missing := _shortfall_of_methods(saver):
        said.append(missing)
    return "; and ".join(said)


def _shortfall_of_methods(saver: BaseCheckpointSaver[Any]) -> str:
    missing = missing_methods(saver)
    if not missing:
        return ""
    refused = [OPTIONAL_METHODS[m] for m in missing if OPTIONAL_METHODS[m]]
    effects = []
    if refused:
        effects.append("answered 501: " + "; ".join(refused))
    if "acopy_thread" in missing:
        effects.append("a thread's copy puts each checkpoint again")
    return (
        f"the project's checkpointer {type(saver).__name__} does not implement "
        f"{', '.join(missing)}: {'; '.join(effects)}"
    )


async def _entered(value: Any, stack: AsyncExitStack, key: str, layers: int = 0) -> Any:
    """The object `value` stands for: called, awaited or entered until it is one."""
    if isinstance(value, BaseCheckpointSaver | BaseStore):
        return value
    if layers > MAX_LAYERS:
        raise SettingsError(key, "the object is wrapped too deeply to find")
    if isinstance(value, type):  # a class is made, though it may be a context manager too
        found = value()
    elif hasattr(value, "__aenter__"):
        found = await stack.enter_async_context(value)
    elif hasattr(value, "__enter__"):
        found = stack.enter_context(value)
    elif inspect.isasyncgen(value):  # entered as `@asynccontextmanager` would enter it
        found = await stack.enter_async_context(asynccontextmanager(lambda: value)())
    elif inspect.isawaitable(value):
        found = await value
    elif callable(value):
        found = value()
    else:
        return value
    return await _entered(found, stack, key, layers + 1)


async def _load(spec: str, key: str, stack: AsyncExitStack) -> Any:
    try:
        found = load_object(spec, Path.cwd())
    except LoadError as exc:
        raise SettingsError(key, str(exc)) from None
    return await _entered(found, stack, key)


@asynccontextmanager
async def project_saver(spec: str) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    """The checkpointer `database.checkpointer` names, entered until the block ends."""
    key = "database.checkpointer"
    async with AsyncExitStack() as stack:
        saver = await _load(spec, key, stack)
        if not isinstance(saver, BaseCheckpointSaver):
            raise SettingsError(
                key, f"{spec} gives a {type(saver).__name__}, not a LangGraph checkpoint saver"
            )
        lacking = [m for m in REQUIRED_METHODS if not _implements(saver, m)]
        if lacking:
            raise SettingsError(
                key, f"{type(saver).__name__} does not implement {', '.join(lacking)}"
            )
        yield saver


@asynccontextmanager
async def project_store(spec: str) -> AsyncIterator[BaseStore]:
    """The store `store.path` names, entered until the block ends."""
    async with AsyncExitStack() as stack:
        store = await _load(spec, "store.path", stack)
        if not isinstance(store, BaseStore):
            raise SettingsError(
                "store.path", f"{spec} gives a {type(store).__name__}, not a LangGraph store"
            )
        yield store


class SaverCheckpoints:
    """A project's own checkpointer, asked to make each change itself. A change it has no
    method for is refused (`NotSupportedError`), naming the method; the caller's
    transaction is not used, as the checkpoints are not in it."""

    def __init__(self, saver: BaseCheckpointSaver[Any]) -> None:
        self._saver = saver
        self.missing = missing_methods(saver)

    def require(self, method: str, needed_for: str) -> None:
        if method in self.missing:
            raise NotSupportedError(
                f"{needed_for} needs the project's checkpointer "
                f"({type(self._saver).__name__}) to implement {method}"
            )

    async def delete_thread(self, conn: AsyncConnection[DictRow], thread_id: uuid.UUID) -> None:
        self.require("adelete_thread", "deleting a thread")
        await self._saver.adelete_thread(str(thread_id))

    async def delete_run(
        self, conn: AsyncConnection[DictRow], thread_id: uuid.UUID, run_id: uuid.UUID
    ) -> None:
        self.require("adelete_for_runs", "rolling a run back")
        await self._saver.adelete_for_runs([str(run_id)])

    async def keep_latest(self, conn: AsyncConnection[DictRow], thread_id: uuid.UUID) -> None:
        self.require("aprune", "keeping only a thread's latest state")
        await self._saver.aprune([str(thread_id)], strategy="keep_latest")

    async def copy_thread(
        self, conn: AsyncConnection[DictRow], source: uuid.UUID, target: uuid.UUID
    ) -> None:
        if "acopy_thread" not in self.missing:
            await self._saver.acopy_thread(str(source), str(target))
            return
        config: RunnableConfig = {"configurable": {"thread_id": str(source)}}
        found = [checkpoint async for checkpoint in self._saver.alist(config)]
        found.sort(key=lambda checkpoint: str(checkpoint.config["configurable"]["checkpoint_id"]))
        for checkpoint in found:  # oldest first, so each parent is there before its child
            await self._put_again(checkpoint, str(target))

    async def _put_again(self, found: CheckpointTuple, target: str) -> None:
        """One checkpoint and its pending writes, put again under the target thread."""
        configurable: dict[str, Any] = {
            "thread_id": target,
            "checkpoint_ns": found.config["configurable"].get("checkpoint_ns", ""),
        }
        parent = ((found.parent_config or {}).get("configurable") or {}).get("checkpoint_id")
        if parent is not None:
            configurable["checkpoint_id"] = parent
        metadata: dict[str, Any] = dict(found.metadata)
        if "thread_id" in metadata:
            metadata["thread_id"] = target
        stored = await self._saver.aput(
            {"configurable": configurable},
            found.checkpoint,
            metadata,  # type: ignore[arg-type]  # a CheckpointMetadata, copied
            found.checkpoint["channel_versions"],
        )
        by_task: dict[str, list[tuple[str, Any]]] = {}
        for task_id, channel, value in found.pending_writes or ():
            by_task.setdefault(task_id, []).append((channel, value))
        for task_id, writes in by_task.items():
            await self._saver.aput_writes(stored, writes, task_id)
