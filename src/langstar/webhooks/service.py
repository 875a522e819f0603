"""What became of a run's webhook, for those who may read the run."""

from __future__ import annotations

import uuid

from langstar.db.pool import Pool
from langstar.errors import NotFoundError
from langstar.identity import Identity
from langstar.threads.service import ThreadService
from langstar.webhooks import outbox
from langstar.webhooks.outbox import Delivery


class WebhookService:
    """The caller's runs' webhook deliveries: attempts, last answer, delivered or not."""

    def __init__(self, pool: Pool, identity: Identity, threads: ThreadService) -> None:
        self._pool = pool
        self._owner = identity.owner
        self._threads = threads

    async def delivery(self, run_id: uuid.UUID) -> Delivery:
        """The run's delivery, if the caller may read the run's thread: its owner, or
        whom a project's own handlers let read it. Under those handlers, a delivery
        whose thread is gone (a stateless run's) is shown to no one."""
        missing = NotFoundError("webhook", run_id, f"No webhook delivery for run {run_id} (yet)")
        found = await outbox.delivery_of(self._pool, run_id, self._owner)
        if found is None:
            raise missing
        try:
            await self._threads.allowed(found.thread_id, "read", run_id=run_id)
        except NotFoundError:
            raise missing from None
        return found
