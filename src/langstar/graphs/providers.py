"""The registry of the graphs this server serves (APP)."""

from __future__ import annotations

from typing import Any

from dishka import Provider, Scope, provide
from langchain_core.language_models import BaseChatModel
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.store.base import BaseStore

from langstar.graphs.registry import GraphRegistry, build_registry
from langstar.settings import Settings


class GraphProvider(Provider):
    """Loads and compiles every configured graph once, bound to the checkpointer and store."""

    scope = Scope.APP

    @provide
    async def provide_registry(
        self,
        settings: Settings,
        checkpointer: BaseCheckpointSaver[Any],
        store: BaseStore,
        model: BaseChatModel,
    ) -> GraphRegistry:
        return await build_registry(settings, checkpointer=checkpointer, store=store, model=model)
