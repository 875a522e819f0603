"""Default assistants (synced once at startup) and the per-request assistant service."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from dishka import Provider, Scope, provide

from langstar.assistants.service import AssistantService, sync_default_assistants
from langstar.db.pool import Pool
from langstar.graphs.registry import GraphRegistry
from langstar.identity import Identity
from langstar.settings import Settings


@dataclass(frozen=True, slots=True)
class DefaultAssistants:
    """The default assistant id of every served graph, present in the database."""

    ids: tuple[uuid.UUID, ...]


class AssistantsProvider(Provider):
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
    ) -> AssistantService:
        del defaults  # depended on so that the rows exist before any request reads them
        return AssistantService(pool, identity, registry, settings.runs, settings.limits)
