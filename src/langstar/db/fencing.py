"""Fencing a run's writes by the server and attempt executing it: a server that lost a run
(its lease lapsed and another server took it over) cannot write its checkpoints after.

The executor sets the fence (`run_id`, `worker`, `attempt`) in the run's task context
(`fence_writes`), which every checkpoint write of its graph inherits, subgraphs and
background writes included; langstar's saver checks it with `langstar_fence()` (created by
migration 0016) in the same transaction as each write, which fails with SQLSTATE `FENCED`
when the run has moved on. The check takes no lock: a write that began before the
take-over may still land, none that begins after does.
"""

from __future__ import annotations

import uuid
from contextvars import ContextVar

FENCED = "LS001"
FENCE_SQL = "SELECT langstar_fence(%s::uuid, %s, %s::int)"

_FENCE: ContextVar[tuple[str, str, int] | None] = ContextVar("langstar_fence", default=None)


def fence_writes(run_id: uuid.UUID, worker: str, attempt: int) -> None:
    """Fence the checkpoint writes made from this task (a run's) from now on."""
    _FENCE.set((str(run_id), worker, attempt))


def current_fence() -> tuple[str, str, int] | None:
    """The run, server and attempt the writes made here are fenced by, if any."""
    return _FENCE.get()
