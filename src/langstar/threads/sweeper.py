"""Threads whose TTL has passed are expired in the background, by any replica."""

from __future__ import annotations

import asyncio
import logging

from langstar import lifecycle
from langstar.db.pool import Pool
from langstar.settings import ThreadSettings

log = logging.getLogger(__name__)


class ThreadSweeper:
    """Every `ttl_sweep_interval_minutes`, expires the threads whose TTL has passed.

    Each sweep claims its threads with `FOR UPDATE SKIP LOCKED`, so replicas sweeping at
    once share the work, and skips a thread with a run in flight.
    """

    def __init__(self, pool: Pool, settings: ThreadSettings) -> None:
        self._pool = pool
        self._settings = settings
        self._task: asyncio.Task[None] | None = None

    def open(self) -> None:
        self._task = asyncio.create_task(self._sweep_forever())

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self._settings.ttl_sweep_interval_minutes * 60)
            try:
                await self.sweep()
            except Exception as exc:  # the database may be restarting; sweep next time
                log.warning("could not sweep expired threads: %s", exc)

    async def sweep(self) -> tuple[int, int]:
        """One sweep; returns how many threads it deleted and how many it trimmed."""
        deleted, trimmed = await lifecycle.sweep_expired(self._pool, self._settings.ttl_sweep_limit)
        if deleted or trimmed:
            log.info("expired threads: %d deleted, %d trimmed to their latest state",
                     deleted, trimmed)  # fmt: skip
        return deleted, trimmed

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
