"""Per-request thread service and the caller's identity."""

from __future__ import annotations

from dishka import Provider, Scope, provide

from langstar.access import Authorizer
from langstar.db.pool import Pool
from langstar.identity import Identity
from langstar.settings import Settings
from langstar.threads.service import ThreadService


class ThreadsProvider(Provider):
    """The thread service, for the caller's threads."""

    scope = Scope.REQUEST

    @provide
    def provide_thread_service(
        self, pool: Pool, identity: Identity, settings: Settings, access: Authorizer
    ) -> ThreadService:
        return ThreadService(pool, identity, settings.limits, access)
