"""Prometheus metrics: what runs, crons and webhooks did, and what a server holds now.

Counters and histograms are kept in the process's default registry, as
`prometheus-client` does; the gauges of what is held now (runs, streams, the pool) are
read from each live app when `/metrics` is scraped. HTTP requests are counted by
Litestar's own Prometheus middleware (`langstar_requests_total` and its histogram).

Under several workers (`PROMETHEUS_MULTIPROC_DIR` set, as `langstar serve --workers`
does) every process writes its samples to that directory and a scrape on any worker sums
them; the held gauges are then written by each worker every second (`publish`), and
summed over the live workers.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

RUN_SECONDS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600)

RUNS = Counter("langstar_runs", "Runs that ended, by how they ended", ["status"])
RUN_DURATION = Histogram(
    "langstar_run_duration_seconds", "Time a run spent running, to its end", buckets=RUN_SECONDS
)
QUEUE_WAIT = Histogram(
    "langstar_run_queue_wait_seconds",
    "Time a run waited from its creation until it started (its thread's turn)",
    buckets=RUN_SECONDS,
)
CRON_FIRES = Counter(
    "langstar_cron_fires", "Crons fired: `started` a run, or `skipped` (it could not)",
    ["outcome"],
)  # fmt: skip
CLUSTER_RUNS = Gauge(
    "langstar_cluster_runs",
    "Runs in flight on every server of the cluster, pending (queued) or running, as the "
    "database counts them; the same on every server: scale on it",
    ["status"],
    multiprocess_mode="mostrecent",
)
WEBHOOK_DELIVERIES = Counter(
    "langstar_webhook_deliveries",
    "Webhook attempts: `delivered`, `retried` later, or `failed` for good",
    ["outcome"],
)


@dataclass(frozen=True, slots=True)
class Readings:
    """What one app holds now, read when metrics are scraped."""

    runs_pending: int
    runs_running: int
    streams_open: int
    pool_size: int
    pool_available: int
    pool_waiting: int


Reader = Callable[[], Readings]

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
# Each held gauge: its name, help, and the reading it sums (with a label, for runs).
HELD: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("langstar_runs_in_flight", "Runs this server holds, pending or running", "", ("status",)),
    ("langstar_streams_open", "Open SSE streams", "streams_open", ()),
    ("langstar_db_pool_size", "Connections the pool holds", "pool_size", ()),
    ("langstar_db_pool_available", "Idle connections in the pool", "pool_available", ()),
    ("langstar_db_pool_waiting", "Requests waiting for a connection", "pool_waiting", ()),
)


def _sums(found: list[Readings]) -> dict[str, float]:
    return {
        "pending": sum(r.runs_pending for r in found),
        "running": sum(r.runs_running for r in found),
        **{value: sum(getattr(r, value) for r in found) for _, _, value, _ in HELD if value},
    }


class _Held(Collector):
    """The gauges of every live app in this process, summed."""

    def __init__(self) -> None:
        self.readers: dict[int, Reader] = {}

    def read(self) -> dict[str, float]:
        return _sums([read() for read in list(self.readers.values())])

    def collect(self) -> Iterator[GaugeMetricFamily]:
        sums = self.read()
        for name, text, value, labels in HELD:
            if labels:
                runs = GaugeMetricFamily(name, text, labels=list(labels))
                runs.add_metric(["pending"], sums["pending"])
                runs.add_metric(["running"], sums["running"])
                yield runs
            else:
                yield GaugeMetricFamily(name, text, value=sums[value])


_held = _Held()
_lock = threading.Lock()
_registered = False


def watch(reader: Reader) -> Callable[[], None]:
    """Report an app's readings at each scrape, until the returned function is called."""
    global _registered
    with _lock:
        if not _registered and not MULTIPROCESS:
            REGISTRY.register(_held)
            _registered = True
        _held.readers[id(reader)] = reader
    return lambda: _held.readers.pop(id(reader), None) and None


_gauges: dict[str, Gauge] = {}


def publish() -> None:
    """Multiprocess mode: write this process's held gauges for every worker's scrape."""
    if not _gauges:
        for name, text, _, labels in HELD:
            _gauges[name] = Gauge(name, text, list(labels), multiprocess_mode="livesum")
    sums = _held.read()
    for name, _, value, labels in HELD:
        if labels:
            _gauges[name].labels("pending").set(sums["pending"])
            _gauges[name].labels("running").set(sums["running"])
        else:
            _gauges[name].set(sums[value])


def retire() -> None:
    """Multiprocess mode: this process's live gauges no longer count (it is stopping)."""
    multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
