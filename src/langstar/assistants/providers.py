"""Default assistants (APP), and the assistant service and the graph a request is about."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from dishka import Provider, Scope, provide
from litestar import Request

from langstar.access import Authorizer
from langstar.assistants.service import AssistantService, sync_default_assistants
from langstar.db.json_encryption import JsonCipher
from langstar.db.pool import Pool
from langstar.errors import InvalidError, NotFoundError, parse_uuid
from langstar.graphs.registry import GraphRegistry, RegisteredGraph, ThreadGraph
from langstar.identity import Identity
from langstar.settings import Settings
from langstar.threads.service import ThreadService


@dataclass(frozen=True, slots=True)
class DefaultAssistants:
    """The default assistant id of every served graph, present in the database."""

    ids: tuple[uuid.UUID, ...]


class AssistantsProvider(Provider):
    """Default assistants, the assistant service, and which graph a request is about.

    A request's graph is that of its assistant, named by (in this order) the path's
    `{assistant_id}` or the `assistant_id` of a POST body; a request that names none is
    about the thread in its path, and gets the graph the thread last ran, else the one its
    `metadata.graph_id` names (a client may set it, as on LangGraph's server). Nothing
    falls back to some other graph: an assistant that does not exist is a 404, and a
    request with nothing to go by is a 422 naming what is missing.
    """

    @provide(scope=Scope.APP)
    async def provide_default_assistants(
        self, pool: Pool, registry: GraphRegistry
    ) -> DefaultAssistants:
        await sync_default_assistants(pool, registry)
        return DefaultAssistants(tuple(g.assistant_id for g in registry.graphs.values()))

    @provide(scope=Scope.REQUEST)
    def provide_assistant_service(
        self,
        pool: Pool,
        identity: Identity,
        registry: GraphRegistry,
        settings: Settings,
        defaults: DefaultAssistants,
        access: Authorizer,
        cipher: JsonCipher,
    ) -> AssistantService:
        del defaults  # depended on so that the rows exist before any request reads them
        return AssistantService(
            pool, identity, registry, settings.runs, settings.limits, access, cipher
        )

    @provide(scope=Scope.REQUEST)
    async def provide_graph(
        self,
        request: Request,  # type: ignore[type-arg]  # Dishka keys on the bare class
        assistants: AssistantService,
        threads: ThreadService,
        registry: GraphRegistry,
    ) -> RegisteredGraph:
        """The graph of the request's assistant, else of the thread in its path."""
        assistant_id = await _named_assistant(request)
        if assistant_id is not None:
            return await assistants.resolve(assistant_id)
        if "thread_id" not in request.path_params:
            raise InvalidError("assistant_id", "required: name the assistant to run")
        thread_id = parse_uuid(request.path_params["thread_id"], "thread_id")
        graph = await _graph_of_thread(thread_id, threads, registry)
        if graph is None:
            raise InvalidError(
                "graph_id",
                f"thread {thread_id} has not run yet, so it has no graph; start a run on "
                "it first, or set its metadata.graph_id",
            )
        return graph

    @provide(scope=Scope.REQUEST)
    async def provide_thread_graph(
        self,
        request: Request,  # type: ignore[type-arg]  # Dishka keys on the bare class
        threads: ThreadService,
        registry: GraphRegistry,
    ) -> ThreadGraph:
        """The graph of the thread in the path, for reading its state and history."""
        thread_id = parse_uuid(request.path_params["thread_id"], "thread_id")
        return ThreadGraph(await _graph_of_thread(thread_id, threads, registry))


async def _named_assistant(request: Request[Any, Any, Any]) -> str | None:
    assistant_id = request.path_params.get("assistant_id")
    if assistant_id is None and request.method == "POST":
        body = await request.json()
        if isinstance(body, dict):
            assistant_id = body.get("assistant_id")
    return None if assistant_id is None else str(assistant_id)


async def _graph_of_thread(
    thread_id: uuid.UUID, threads: ThreadService, registry: GraphRegistry
) -> RegisteredGraph | None:
    graph_id = await threads.graph_id_of(thread_id)
    if graph_id is None:
        return None
    graph = registry.graphs.get(graph_id)
    if graph is None:
        raise NotFoundError(
            "graph", graph_id, f"Graph {graph_id!r} of thread {thread_id} is not served"
        )
    return graph
