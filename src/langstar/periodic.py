"""Background work done every few seconds, that stops cleanly with the server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class Periodic:
    """Runs `step` every `interval` seconds until closed.

    Closing asks the loop to stop and waits for the step in progress, rather than
    cancelling it: a database driver may swallow a cancellation that lands mid-query,
    and a loop that never saw it would run on and hold shutdown forever. A step that
    fails is logged, and tried again at the next interval (the database may be
    restarting). A step that returns True ran a full batch and is run again at once.
    """

    def __init__(self, step: Callable[[], Awaitable[bool]], interval: float, name: str) -> None:
        self._step = step
        self._interval = interval
        self._name = name
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def open(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self._name)

    async def _run(self) -> None:
        while not self._stop.is_set():
            more = False
            try:
                more = await self._step()
            except Exception as exc:
                log.warning("%s failed, trying again later: %s", self._name, exc)
            if not more:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self._interval)

    async def aclose(self, grace: float = 10.0) -> None:
        """Stop after the step in progress; cancel it only if it outlasts `grace`."""
        self._stop.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), grace)
        except TimeoutError:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
