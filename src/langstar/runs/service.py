"""Starting runs on threads and reporting how they ended."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from langchain_core.runnables import RunnableConfig

from langstar.errors import UnprocessableEntity
from langstar.graphs.registry import RegisteredGraph
from langstar.identity import Identity
from langstar.runs.config import build_config, refuse_unsupported
from langstar.runs.executor import RunExecutor
from langstar.runs.schemas import RunCreate
from langstar.serde import to_jsonable
from langstar.settings import Settings
from langstar.threads.service import ThreadService

log = logging.getLogger(__name__)


def _durability(body: RunCreate) -> str | None:
    if body.durability is not None:
        return body.durability
    if body.checkpoint_during is not None:
        return "async" if body.checkpoint_during else "exit"
    return None


class RunService:
    """Runs of one caller on their threads."""

    def __init__(
        self,
        threads: ThreadService,
        executor: RunExecutor,
        settings: Settings,
        identity: Identity,
    ) -> None:
        self._threads = threads
        self._executor = executor
        self._settings = settings
        self._identity = identity

    async def wait(
        self, thread_id: uuid.UUID, body: RunCreate, graph: RegisteredGraph
    ) -> dict[str, Any]:
        """Run to the end and return the final values (or `__interrupt__` / `__error__`)."""
        refuse_unsupported(body)
        if body.command is not None and body.input is not None:
            raise UnprocessableEntity("command: cannot be combined with input")
        run_id = uuid.uuid4()
        config = build_config(
            body,
            thread_id=thread_id,
            run_id=run_id,
            graph=graph,
            identity=self._identity,
            settings=self._settings.runs,
        )
        await self._threads.claim(
            thread_id,
            graph_id=graph.graph_id,
            assistant_id=str(graph.assistant_id),
            create=body.if_not_exists == "create",
        )
        return await self._executor.run(self._execute(thread_id, body, graph, config))

    async def _execute(
        self,
        thread_id: uuid.UUID,
        body: RunCreate,
        graph: RegisteredGraph,
        config: RunnableConfig,
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if body.context is not None or graph.context:
            kwargs["context"] = {**graph.context, **(body.context or {})}
        if (durability := _durability(body)) is not None:
            kwargs["durability"] = durability
        try:
            result = await graph.compiled.ainvoke(
                body.input,
                config,
                interrupt_before=body.interrupt_before,
                interrupt_after=body.interrupt_after,
                **kwargs,
            )
        except BaseException as exc:
            error = {"error": type(exc).__name__, "message": str(exc)}
            if isinstance(exc, Exception):
                log.warning("run on thread %s failed: %s: %s", thread_id, error["error"], exc)
            snapshot = await graph.compiled.aget_state(config)
            await self._threads.release(
                thread_id, status="error", values=to_jsonable(snapshot.values), error=error
            )
            if not isinstance(exc, Exception):
                raise
            return {"__error__": error}
        values = to_jsonable(result)
        if not isinstance(values, dict):
            values = {"__output__": values}
        interrupted = "__interrupt__" in values
        if interrupted or body.interrupt_before or body.interrupt_after:
            snapshot = await graph.compiled.aget_state(config)
            interrupted = interrupted or bool(snapshot.next)
            interrupts = {
                t.id: to_jsonable(list(t.interrupts)) for t in snapshot.tasks if t.interrupts
            }
            state_values = to_jsonable(snapshot.values)
        else:
            interrupts, state_values = {}, values
        await self._threads.release(
            thread_id,
            status="interrupted" if interrupted else "idle",
            values=state_values,
            interrupts=interrupts,
        )
        return values
