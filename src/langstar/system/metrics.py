"""`/metrics`: Prometheus text, outside authentication unless a token is set, with the
cluster's runs in flight read from the database (what an autoscaler scales on)."""

from __future__ import annotations

import hmac
import logging
import time
from typing import Any

from litestar import Request, Response, get
from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler
from litestar.plugins.prometheus import (
    PrometheusConfig,
    PrometheusController,
    PrometheusMiddleware,
)
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import Counter, Gauge, Histogram

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
        middleware_class=RequestMetrics,
    )


# A route's series, by method, route template and status: what one request updates.
_Series = tuple[Counter, Histogram, Counter]


class RequestMetrics(PrometheusMiddleware):
    """Litestar's Prometheus middleware, with the same series and labels, at a fraction of
    its CPU per request: each route's labelled series are looked up once, not per request
    (it built a Request, four label dicts and four labelled children every time)."""

    def __init__(self, app: ASGIApp, config: PrometheusConfig) -> None:
        super().__init__(app, config)
        self._in_progress: dict[tuple[str, str], Gauge] = {}
        self._series: dict[tuple[str, str, int], _Series] = {}

    def _labels(self, method: str, path: str, status: int) -> dict[str, str | int | float]:
        return {"method": method, "path": path, "status_code": status,
                "app_name": self._config.app_name}  # fmt: skip

    def _gauge(self, method: str, path: str) -> Gauge:
        key = (method, path)
        if (found := self._in_progress.get(key)) is None:
            labels = self._labels(method, path, 200)
            found = self.requests_in_progress(labels).labels(*labels.values())
            self._in_progress[key] = found
        return found

    def _of(self, method: str, path: str, status: int) -> _Series:
        key = (method, path, status)
        if (found := self._series.get(key)) is None:
            labels = self._labels(method, path, status)
            values = labels.values()
            found = (
                self.request_count(labels).labels(*values),
                self.request_time(labels).labels(*values),
                self.requests_error_count(labels).labels(*values),
            )
            self._series[key] = found
        return found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        config = self._config
        if config.labels or config.exemplars or config.excluded_http_methods:
            await super().__call__(scope, receive, send)
            return
        method = scope["method"] if scope["type"] == ScopeType.HTTP else str(scope["type"])
        path = scope["path_template"] if config.group_path else scope["path"]
        started = time.perf_counter()
        answer = [200, 0.0]  # status, seconds to the last body part

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer[0] = message["status"]
            elif message["type"] == "http.response.body":
                answer[1] = time.perf_counter() - started
            await send(message)

        in_progress = self._gauge(method, path)
        in_progress.inc()
        try:
            await self.app(scope, receive, timed_send)
        finally:
            in_progress.dec()
            status = int(answer[0])
            count, duration, errors = self._of(method, path, status)
            if status >= 500:
                errors.inc()
            count.inc()
            duration.observe(answer[1])


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
