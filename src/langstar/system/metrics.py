"""`/metrics`: Prometheus text, outside authentication unless a token is set, with the
cluster's runs in flight read from the database (what an autoscaler scales on)."""

from __future__ import annotations

import hmac
import logging
import time
from typing import Any

from litestar import Request, Response, get
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController

from langstar import lifecycle, metrics
from langstar.db.pool import Pool
from langstar.settings import HttpSettings

log = logging.getLogger(__name__)

# The cluster's runs are read at most this often, however often scrapes come.
CLUSTER_READ_SECONDS = 5.0
_read_at = -CLUSTER_READ_SECONDS


async def read_cluster_runs(pool: Pool) -> None:
    """Set `langstar_cluster_runs` from the database, unless it was read just now."""
    global _read_at
    if time.monotonic() - _read_at < CLUSTER_READ_SECONDS:
        return
    _read_at = time.monotonic()
    try:
        async with pool.connection() as conn:
            counts = await lifecycle.count_inflight(conn)
    except Exception as exc:  # a scrape still answers with what this server knows
        log.warning("could not read the cluster's runs for /metrics: %s", exc)
        return
    for status, count in counts.items():
        metrics.CLUSTER_RUNS.labels(status).set(count)


def prometheus_config() -> PrometheusConfig:
    """Requests counted by method, route template and status, with their latency."""
    return PrometheusConfig(
        app_name="langstar",
        prefix="langstar",
        group_path=True,  # the route template, not each thread's own path
        exclude_unhandled_paths=True,
        exclude=["/metrics$"],
    )


def metrics_controller(http: HttpSettings) -> type[PrometheusController]:
    """The scrape route; with `http.metrics_token`, only a bearer of it may read it."""
    token = http.metrics_token

    def bearer_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        given = connection.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            raise NotAuthorizedException("metrics: a bearer token is required")

    class Metrics(PrometheusController):
        path = "/metrics"
        opt = {"exclude_from_auth": True}  # noqa: RUF012  # Litestar's own attribute
        guards = [bearer_only] if token else []
        include_in_schema = False

        @get()
        async def get(self, request: Request[Any, Any, Any]) -> Response[Any]:
            await read_cluster_runs(await request.app.state.dishka_container.get(Pool))
            return await PrometheusController.get.fn(self)  # type: ignore[no-any-return]

    return Metrics
