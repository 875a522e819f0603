"""Runs execute here, in tasks the server owns, never inside a request's response."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

from litestar.exceptions import ServiceUnavailableException

log = logging.getLogger(__name__)
T = TypeVar("T")


class RunExecutor:
    """Owns every running run, so a client that goes away cannot cancel one half-way.

    At shutdown it stops taking runs, gives the running ones a grace period to finish,
    then cancels what is left.
    """

    def __init__(self, grace_seconds: float) -> None:
        self._grace = grace_seconds
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing = False

    @property
    def running(self) -> int:
        return len(self._tasks)

    def start(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        if self._closing:
            coro.close()
            raise ServiceUnavailableException("the server is shutting down")
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Start a run and wait for it; cancelling the waiter leaves the run going."""
        return await asyncio.shield(self.start(coro))

    async def aclose(self) -> None:
        self._closing = True
        if not self._tasks:
            return
        log.info("waiting up to %.0fs for %d run(s) to finish", self._grace, len(self._tasks))
        _, pending = await asyncio.wait(set(self._tasks), timeout=self._grace)
        for task in pending:
            task.cancel()
        if pending:
            log.warning("cancelled %d run(s) still going after the grace period", len(pending))
            await asyncio.wait(pending, timeout=5)
