"""Threads whose TTL has passed are expired in the background, by any replica."""

from __future__ import annotations

import logging

from langstar import lifecycle
from langstar.db.checkpoints import OWN_CHECKPOINTS, ThreadCheckpoints
from langstar.db.pool import Pool
from langstar.periodic import Periodic
from langstar.settings import ThreadSettings

log = logging.getLogger(__name__)


class ThreadSweeper:
    """Every `ttl_sweep_interval_minutes`, expires the threads whose TTL has passed.

    Each sweep claims its threads with `FOR UPDATE SKIP LOCKED`, so replicas sweeping at
    once share the work, and skips a thread with a run in flight.
    """

    def __init__(
        self,
        pool: Pool,
        settings: ThreadSettings,
        checkpoints: ThreadCheckpoints = OWN_CHECKPOINTS,
    ) -> None:
        self._pool = pool
        self._checkpoints = checkpoints
        self._settings = settings
        self._loop = Periodic(
            self._sweep_step, settings.ttl_sweep_interval_minutes * 60, "thread expiry sweep"
        )

    def open(self) -> None:
        self._loop.open()

    async def _sweep_step(self) -> bool:
        await self.sweep()
        return False

    async def sweep(self) -> tuple[int, int]:
        """One sweep; returns how many threads it deleted and how many it trimmed."""
        deleted, trimmed = await lifecycle.sweep_expired(
            self._pool, self._settings.ttl_sweep_limit, checkpoints=self._checkpoints
        )
        if deleted or trimmed:
            log.info("expired threads: %d deleted, %d trimmed to their latest state",
                     deleted, trimmed)  # fmt: skip
        return deleted, trimmed

    async def aclose(self) -> None:
        await self._loop.aclose()
