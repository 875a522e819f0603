"""The run executor and event bus (APP) and the per-request run service."""

from __future__ import annotations

from collections.abc import AsyncIterator

from dishka import Provider, Scope, provide
from langgraph.store.base import BaseStore
from litestar import Request

from langstar.access import Authorizer
from langstar.assistants.providers import DefaultAssistants
from langstar.assistants.service import AssistantService
from langstar.auth.authenticators import Authenticator
from langstar.auth.providers import authorizer_for
from langstar.db.checkpoints import ThreadCheckpoints
from langstar.db.json_encryption import JsonCipher
from langstar.db.notifications import Notifications
from langstar.db.pool import Pool
from langstar.db.providers import Database
from langstar.graphs.registry import GraphRegistry
from langstar.identity import Identity
from langstar.limits import StreamSlots
from langstar.runs.config import RunHeaders, copied_headers
from langstar.runs.executor import RunExecutor
from langstar.runs.resumer import ActingServices, RunResumer
from langstar.runs.service import RunService
from langstar.settings import Settings
from langstar.streaming.events import EventBus
from langstar.streaming.relay import StreamRelay
from langstar.threads.service import ThreadService
from langstar.webhooks.policy import WebhookPolicy

# A finished resumable run's events stay in memory this long, for a client that joins just
# after it ended; later joiners read the stored events. Other runs hold none once read.
IN_MEMORY_SECONDS = 10.0


class RunsProvider(Provider):
    """The run executor, the event bus, its relay across processes and stream slots (APP),
    and the run service."""

    @provide(scope=Scope.APP)
    def provide_stream_slots(self, settings: Settings) -> StreamSlots:
        return StreamSlots(settings.limits)

    @provide(scope=Scope.APP)
    def provide_event_bus(self, settings: Settings) -> EventBus:
        return EventBus(min(settings.runs.stream_retention_seconds, IN_MEMORY_SECONDS))

    @provide(scope=Scope.APP)
    async def provide_relay(
        self, notifications: Notifications, bus: EventBus
    ) -> AsyncIterator[StreamRelay]:
        relay = StreamRelay(notifications, bus)
        relay.open()
        yield relay
        await relay.aclose()

    @provide(scope=Scope.APP)
    async def provide_executor(
        self,
        settings: Settings,
        pool: Pool,
        bus: EventBus,
        notifications: Notifications,
        relay: StreamRelay,
        database: Database,
        checkpoints: ThreadCheckpoints,
        cipher: JsonCipher,
    ) -> AsyncIterator[RunExecutor]:
        # Taking the pool makes the container close the executor (draining runs) before it.
        executor = RunExecutor(
            pool,
            bus,
            notifications,
            relay,
            grace_seconds=settings.server.shutdown_grace_seconds,
            lease_seconds=settings.runs.lease_seconds,
            run_timeout_seconds=settings.limits.run_timeout_seconds,
            database_wait_seconds=settings.runs.database_wait_seconds,
            # Leases are renewed straight at PostgreSQL when it can be reached so.
            conninfo=database.conninfo(direct=True),
            poll_seconds=settings.database.poll_seconds,
            checkpoints=checkpoints,
            cipher=cipher,
            max_attempts=settings.runs.max_attempts,
            max_held=settings.limits.max_queued_runs,
        )
        executor.open()
        yield executor
        await executor.aclose()

    @provide(scope=Scope.APP)
    def provide_acting_services(
        self,
        settings: Settings,
        pool: Pool,
        executor: RunExecutor,
        bus: EventBus,
        slots: StreamSlots,
        store: BaseStore,
        registry: GraphRegistry,
        authenticator: Authenticator,
        webhooks: WebhookPolicy,
        checkpoints: ThreadCheckpoints,
        cipher: JsonCipher,
    ) -> ActingServices:
        """The services a request of a given caller gets, for crons and resumed runs."""

        def services_for(identity: Identity) -> tuple[AssistantService, RunService]:
            access = authorizer_for(authenticator, identity)
            threads = ThreadService(
                pool, identity, settings.limits, access, settings.threads, checkpoints, cipher
            )
            assistants = AssistantService(
                pool, identity, registry, settings.runs, settings.limits, access, cipher
            )
            runs = RunService(
                pool, threads, executor, bus, settings, identity, store, slots, access,
                webhooks=webhooks,
            )  # fmt: skip
            return assistants, runs

        return ActingServices(services_for)

    @provide(scope=Scope.APP)
    def provide_resumer(
        self,
        executor: RunExecutor,
        services: ActingServices,
        pool: Pool,
        defaults: DefaultAssistants,
    ) -> RunResumer:
        """Resumes here the runs this server's executor takes from the queue."""
        del defaults  # depended on so that the assistants exist before the first resume
        resumer = RunResumer(services, pool, executor.worker)
        executor.adopter = resumer
        return resumer

    @provide(scope=Scope.REQUEST)
    def provide_run_service(
        self,
        pool: Pool,
        threads: ThreadService,
        executor: RunExecutor,
        bus: EventBus,
        settings: Settings,
        identity: Identity,
        store: BaseStore,
        slots: StreamSlots,
        access: Authorizer,
        headers: RunHeaders,
        webhooks: WebhookPolicy,
    ) -> RunService:
        return RunService(
            pool, threads, executor, bus, settings, identity, store, slots, access, headers,
            webhooks,
        )  # fmt: skip

    @provide(scope=Scope.REQUEST)
    def provide_run_headers(
        self,
        request: Request,  # type: ignore[type-arg]  # Dishka keys on the bare class
        settings: Settings,
    ) -> RunHeaders:
        """The request's headers that `[http] configurable_headers_*` copy into run config."""
        http = settings.http
        return copied_headers(
            request.headers,
            http.configurable_headers_include,
            http.configurable_headers_exclude,
        )
