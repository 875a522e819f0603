"""Runs taken from the queue (handed off by a server that stopped, or left by one that
died) are started here, acting for whom they act for, through the services a request of
theirs would get."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from langstar import lifecycle
from langstar.assistants.service import AssistantService
from langstar.db.pool import Pool
from langstar.identity import Identity
from langstar.lifecycle import Run
from langstar.runs.acting import identity_of
from langstar.runs.service import RunService

log = logging.getLogger(__name__)


class ActingServices:
    """The assistant and run services of one caller, for work done on their behalf
    without a request: a cron firing, a run resumed."""

    def __init__(self, build: Callable[[Identity], tuple[AssistantService, RunService]]) -> None:
        self._build = build

    def __call__(self, identity: Identity) -> tuple[AssistantService, RunService]:
        return self._build(identity)


class RunResumer:
    """Starts on this server each run its executor takes from the queue; one that cannot
    start here (its assistant was deleted meanwhile) fails, naming why."""

    def __init__(self, services: ActingServices, pool: Pool, worker: str) -> None:
        self._services = services
        self._pool = pool
        self._worker = worker

    async def __call__(self, row: dict[str, Any]) -> None:
        assistants, runs = self._services(identity_of(row.get("identity")))
        try:
            graph = await assistants.resolve(str(row["assistant_id"]))
            await runs.resume(row, graph)
        except Exception as exc:
            log.warning("run %s cannot be resumed: %s", row["run_id"], exc)
            run = Run(**{key: row[key] for key in Run.__struct_fields__})
            await lifecycle.finish(
                self._pool, run, status="error", thread_status="error", values=None,
                interrupts={}, fence=(self._worker, int(row["attempt"])),
                error={"error": "RunNotResumable", "message": f"{type(exc).__name__}: {exc}"},
            )  # fmt: skip
