"""What became of a run's webhook, for its owner."""

from __future__ import annotations

import uuid

from langstar.db.pool import Pool
from langstar.errors import NotFoundError
from langstar.identity import Identity
from langstar.webhooks import outbox
from langstar.webhooks.outbox import Delivery


class WebhookService:
    """The caller's runs' webhook deliveries: attempts, last answer, delivered or not."""

    def __init__(self, pool: Pool, identity: Identity) -> None:
        self._pool = pool
        self._owner = identity.owner

    async def delivery(self, run_id: uuid.UUID) -> Delivery:
        found = await outbox.delivery_of(self._pool, run_id, self._owner)
        if found is None:
            raise NotFoundError("webhook", run_id, f"No webhook delivery for run {run_id} (yet)")
        return found
