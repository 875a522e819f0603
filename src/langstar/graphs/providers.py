"""The graph registry (APP) and the compiled graph a request is about (REQUEST)."""

from __future__ import annotations

from typing import Any

from dishka import Provider, Scope, provide
from langchain_core.language_models import BaseChatModel
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.store.base import BaseStore
from litestar import Request
from litestar.exceptions import NotFoundException

from langstar.assistants.service import AssistantService
from langstar.errors import parse_uuid
from langstar.graphs.registry import GraphRegistry, RegisteredGraph, build_registry
from langstar.settings import Settings
from langstar.threads.service import ThreadService


class GraphProvider(Provider):
    @provide(scope=Scope.APP)
    def provide_registry(
        self,
        settings: Settings,
        checkpointer: BaseCheckpointSaver[Any],
        store: BaseStore,
        model: BaseChatModel,
    ) -> GraphRegistry:
        return build_registry(settings, checkpointer=checkpointer, store=store, model=model)

    @provide(scope=Scope.REQUEST)
    async def provide_graph(
        self,
        request: Request,  # type: ignore[type-arg]  # Dishka keys on the bare class
        registry: GraphRegistry,
        threads: ThreadService,
        assistants: AssistantService,
    ) -> RegisteredGraph:
        """The graph of the request's assistant, else the one its thread last ran."""
        assistant_id = request.path_params.get("assistant_id")
        if assistant_id is None and request.method == "POST":
            body = await request.json()
            if isinstance(body, dict):
                assistant_id = body.get("assistant_id")
        if assistant_id is not None:
            return await assistants.resolve(str(assistant_id))
        graph = None
        if "thread_id" in request.path_params:
            thread_id = parse_uuid(request.path_params["thread_id"], "thread_id")
            graph_id = await threads.graph_id_of(thread_id)
            graph = registry.graphs.get(graph_id or "") or next(iter(registry.graphs.values()))
        if graph is None:
            raise NotFoundException("No assistant given")
        return graph
