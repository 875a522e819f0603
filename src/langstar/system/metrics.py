"""`/metrics`: Prometheus text, outside authentication unless a token is set."""

from __future__ import annotations

import hmac
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController

from langstar.settings import HttpSettings


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

    return Metrics
