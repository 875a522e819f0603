"""Shutting down without losing a run, as an orchestrator stops a server: on SIGTERM,
readiness fails at once so load balancers stop sending work, requests in flight are still
served, runs that finish within `server.shutdown_grace_seconds` finish, the rest are
handed off to other servers; only then does the server stop listening and exit."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from typing import Any

from langstar.runs.executor import RunExecutor

log = logging.getLogger(__name__)

# Set on the app by `langstar serve`, which owns the process's signals.
DRAIN_ON_SIGTERM = "langstar_drain_on_sigterm"


def drain_on_sigterm(executor: RunExecutor) -> Callable[[], None]:
    """Put the drain before the server's own SIGTERM handling; returns the undo.

    The loop's own signal handling wakes it at once (a handler set with `signal.signal`
    runs only when the loop next wakes for something else). A second SIGTERM while
    draining stops the server at once, as the first would have.
    """
    loop = asyncio.get_running_loop()
    previous = signal.getsignal(signal.SIGTERM)
    tasks: set[asyncio.Task[None]] = set()

    def stop() -> None:
        if callable(previous):
            previous(signal.SIGTERM, None)

    def heard() -> None:
        if tasks or executor.drain_begun:
            stop()  # a second SIGTERM: stop now
            return
        log.info("SIGTERM: draining (not ready; runs finish or are handed off), then stopping")
        executor.draining = True  # readiness fails from now on

        async def drain_then_stop() -> None:
            try:
                await executor.drain()
            finally:
                stop()

        tasks.add(loop.create_task(drain_then_stop()))

    loop.add_signal_handler(signal.SIGTERM, heard)

    def undo() -> None:
        loop.remove_signal_handler(signal.SIGTERM)
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)

    return undo


def wanted(state: Any) -> bool:
    """Whether this app was started by `langstar serve`, which drains on SIGTERM."""
    return bool(state.get(DRAIN_ON_SIGTERM))
