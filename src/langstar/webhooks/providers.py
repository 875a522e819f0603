"""The webhook policy and sender (APP), and each request's view of its deliveries."""

from __future__ import annotations

from collections.abc import AsyncIterator

from dishka import Provider, Scope, provide

from langstar.db.json_encryption import JsonCipher
from langstar.db.pool import Pool
from langstar.identity import Identity
from langstar.settings import Settings
from langstar.threads.service import ThreadService
from langstar.webhooks.policy import WebhookPolicy
from langstar.webhooks.sender import WebhookSender
from langstar.webhooks.service import WebhookService


class WebhooksProvider(Provider):
    """The URL policy, the sender of the outbox, and the service showing deliveries."""

    @provide(scope=Scope.APP)
    def provide_policy(self, settings: Settings) -> WebhookPolicy:
        return WebhookPolicy(settings.webhooks)

    @provide(scope=Scope.APP)
    async def provide_sender(
        self, settings: Settings, pool: Pool, policy: WebhookPolicy, cipher: JsonCipher
    ) -> AsyncIterator[WebhookSender]:
        sender = WebhookSender(pool, settings.webhooks, policy, cipher)
        if not settings.http.disable_webhooks:
            sender.open()
        yield sender
        await sender.aclose()

    @provide(scope=Scope.REQUEST)
    def provide_webhook_service(
        self, pool: Pool, identity: Identity, threads: ThreadService
    ) -> WebhookService:
        return WebhookService(pool, identity, threads)
