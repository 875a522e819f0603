"""Per-request thread service and the caller's identity."""

from __future__ import annotations

from collections.abc import AsyncIterator

from dishka import Provider, Scope, provide

from langstar.access import Authorizer
from langstar.db.checkpoints import ThreadCheckpoints
from langstar.db.json_encryption import JsonCipher
from langstar.db.pool import Pool
from langstar.identity import Identity
from langstar.settings import Settings
from langstar.threads.service import ThreadService
from langstar.threads.sweeper import ThreadSweeper


class ThreadsProvider(Provider):
    """The thread service, for the caller's threads, and the sweeper of expired ones."""

    scope = Scope.REQUEST

    @provide(scope=Scope.APP)
    async def provide_sweeper(
        self, pool: Pool, settings: Settings, checkpoints: ThreadCheckpoints
    ) -> AsyncIterator[ThreadSweeper]:
        sweeper = ThreadSweeper(pool, settings.threads, checkpoints)
        sweeper.open()
        yield sweeper
        await sweeper.aclose()

    @provide
    def provide_thread_service(
        self,
        pool: Pool,
        identity: Identity,
        settings: Settings,
        access: Authorizer,
        checkpoints: ThreadCheckpoints,
        cipher: JsonCipher,
    ) -> ThreadService:
        return ThreadService(
            pool, identity, settings.limits, access, settings.threads, checkpoints, cipher
        )
