"""Due crons fire in the background: each once, whatever the number of replicas."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import msgspec
from psycopg import AsyncConnection
from psycopg.rows import DictRow

from langstar import metrics
from langstar.assistants.service import AssistantService
from langstar.clock import Clock
from langstar.crons.schedule import next_fire
from langstar.crons.service import run_body
from langstar.db.encryption import use_context
from langstar.db.pool import Pool
from langstar.identity import Identity
from langstar.periodic import Periodic
from langstar.runs.acting import identity_of
from langstar.runs.service import Admitted, RunService
from langstar.settings import CronSettings

log = logging.getLogger(__name__)

# The services a fire uses, acting for the cron's owner.
ServicesFor = Callable[[Identity], tuple[AssistantService, RunService]]

_DUE_SQL = (
    "SELECT cron_id, assistant_id, thread_id, identity, schedule, timezone, payload, "
    "metadata, on_run_completed FROM crons WHERE enabled AND next_run_date <= %(now)s "
    "AND (end_time IS NULL OR end_time > %(now)s) ORDER BY next_run_date, cron_id "
    "LIMIT %(limit)s FOR UPDATE SKIP LOCKED"
)


class CronScheduler:
    """Every `crons.poll_seconds`, fires the crons that are due.

    A due cron is claimed `FOR UPDATE SKIP LOCKED`; its run is admitted, and its next
    run date moved on from now, in the same transaction. So another replica never fires
    it too, and a replica that dies mid-fire leaves it due, with no run, for the next
    tick anywhere. Windows missed while no server ran fire once, not once each.
    """

    def __init__(
        self, pool: Pool, clock: Clock, settings: CronSettings, services_for: ServicesFor
    ) -> None:
        self._pool = pool
        self._clock = clock
        self._settings = settings
        self._services_for = services_for
        self._loop = Periodic(self._tick_step, settings.poll_seconds, "cron scheduler")

    def open(self) -> None:
        self._loop.open()

    async def _tick_step(self) -> bool:
        return await self.tick() >= self._settings.batch_size  # a full batch: look again

    async def tick(self) -> int:
        """Fire the crons due now; returns how many were claimed."""
        now = self._clock.now()
        started: list[tuple[RunService, Admitted]] = []
        async with self._pool.connection() as conn, conn.transaction():
            cur = await conn.execute(_DUE_SQL, {"now": now, "limit": self._settings.batch_size})
            due = await cur.fetchall()
            for cron in due:
                fired = await self._fire(conn, cron)
                if fired is not None:
                    started.append(fired)
                await self._advance(conn, cron["cron_id"], next_fire(
                    cron["schedule"], cron["timezone"], now))  # fmt: skip
        # Committed: the runs are recorded, and set going here.
        for runs, admitted in started:
            runs.start(admitted)
        return len(due)

    async def _fire(
        self, conn: AsyncConnection[DictRow], cron: dict[str, Any]
    ) -> tuple[RunService, Admitted] | None:
        """Admit the cron's run in the claim's transaction; None if it could not be.

        A run that cannot be admitted (its thread busy under `reject`, its owner at
        their run cap, its assistant gone) is logged and skipped: the cron fires again
        at its next time, as on LangGraph's server.
        """
        assistants, runs = self._services_for(identity_of(cron["identity"]))
        use_context(cron["identity"].get("encryption_context"))  # taken by the run it admits
        stateless = cron["thread_id"] is None
        try:
            graph = await assistants.resolve(str(cron["assistant_id"]))
            keep = cron["on_run_completed"] == "keep"
            payload = await runs.cipher.open("cron", "payload", cron["payload"])
            body = run_body(payload, cron["cron_id"], stateless=stateless, keep=keep)
            given = await runs.cipher.open("cron", "metadata", cron["metadata"])
            metadata = {**(body.metadata or {}), **given}
            body = msgspec.structs.replace(body, metadata=metadata)
            admitted = await runs.admit(
                cron["thread_id"], body, graph, cron_id=cron["cron_id"], conn=conn
            )
        except Exception as exc:
            log.warning("cron %s did not start a run: %s", cron["cron_id"], exc)
            metrics.CRON_FIRES.labels("skipped").inc()
            return None
        metrics.CRON_FIRES.labels("started").inc()
        log.info("cron %s started run %s", cron["cron_id"], admitted.job.run.run_id)
        return runs, admitted

    async def _advance(
        self, conn: AsyncConnection[DictRow], cron_id: uuid.UUID, next_run: datetime
    ) -> None:
        await conn.execute(
            "UPDATE crons SET next_run_date = %s WHERE cron_id = %s", (next_run, cron_id)
        )

    async def aclose(self) -> None:
        await self._loop.aclose()
