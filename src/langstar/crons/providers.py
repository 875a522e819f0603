"""The clock and the cron scheduler (APP), and each request's cron service."""

from __future__ import annotations

from collections.abc import AsyncIterator

from dishka import Provider, Scope, provide

from langstar.access import Authorizer
from langstar.assistants.providers import DefaultAssistants
from langstar.assistants.service import AssistantService
from langstar.clock import Clock, SystemClock
from langstar.crons.scheduler import CronScheduler
from langstar.crons.service import CronService
from langstar.db.pool import Pool
from langstar.identity import Identity
from langstar.runs.resumer import ActingServices
from langstar.settings import Settings
from langstar.threads.service import ThreadService
from langstar.webhooks.policy import WebhookPolicy


class CronsProvider(Provider):
    """The clock (tests swap it), the scheduler firing due crons, and the cron service."""

    @provide(scope=Scope.APP)
    def provide_clock(self) -> Clock:
        return SystemClock()

    @provide(scope=Scope.APP)
    async def provide_scheduler(
        self,
        settings: Settings,
        pool: Pool,
        clock: Clock,
        services: ActingServices,
        defaults: DefaultAssistants,
    ) -> AsyncIterator[CronScheduler]:
        """Fires runs as each cron's owner, through the services a request of theirs gets."""
        del defaults  # depended on so that the assistants exist before the first fire
        scheduler = CronScheduler(pool, clock, settings.crons, services)
        if not settings.http.disable_crons:
            scheduler.open()
        yield scheduler
        await scheduler.aclose()

    @provide(scope=Scope.REQUEST)
    def provide_cron_service(
        self,
        pool: Pool,
        identity: Identity,
        assistants: AssistantService,
        threads: ThreadService,
        clock: Clock,
        settings: Settings,
        access: Authorizer,
        webhooks: WebhookPolicy,
    ) -> CronService:
        return CronService(pool, identity, assistants, threads, clock, settings, access, webhooks)
