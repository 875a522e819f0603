"""The application factory. Nothing happens at import time."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from dishka import AsyncContainer, Provider, make_async_container
from dishka.entities.validation_settings import STRICT_VALIDATION
from dishka.integrations.litestar import DishkaRouter, setup_dishka
from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.datastructures import MutableScopeHeaders
from litestar.middleware.base import DefineMiddleware
from litestar.types import Message, Scope

from langstar import draining, loopback, metrics
from langstar.a2a.controllers import a2a_handlers
from langstar.access_log import AccessLog, LoggedHeaders
from langstar.assistants.controllers import AssistantController
from langstar.assistants.providers import DefaultAssistants
from langstar.auth.authenticators import Authenticator
from langstar.auth.middleware import authentication_middleware
from langstar.console.controllers import console_handlers
from langstar.crons.controllers import CronController, ThreadCronController
from langstar.crons.scheduler import CronScheduler
from langstar.custom_routes import PROJECT_APP, after_authentication, project_app
from langstar.db.pool import Pool
from langstar.draining import drain_on_sigterm
from langstar.http_errors import exception_handlers
from langstar.ioc import get_providers
from langstar.limits import StreamSlots
from langstar.mcp.controllers import McpController
from langstar.objects import load_object
from langstar.periodic import Periodic
from langstar.project import apply_project, project_settings
from langstar.protocol.controllers import ThreadProtocolController
from langstar.runs.controllers import (
    StatelessRunController,
    ThreadRunController,
    ThreadStreamController,
)
from langstar.runs.executor import RunExecutor
from langstar.runs.resumer import RunResumer
from langstar.serde import encode_default
from langstar.settings import HttpSettings, Settings, SettingsError, load_settings
from langstar.store.controllers import StoreController
from langstar.system.controllers import ok, system_handlers
from langstar.system.docs import openapi_config, swagger
from langstar.system.metrics import metrics_controller, prometheus_config
from langstar.threads.controllers import ThreadController
from langstar.threads.sweeper import ThreadSweeper
from langstar.tracing.asgi import RequestSpans
from langstar.tracing.setup import configure as configure_tracing
from langstar.webhooks.controllers import run_webhook
from langstar.webhooks.sender import WebhookSender

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *overrides: Provider) -> Litestar:
    """Build the app; `overrides` are providers that replace the defaults (tests use them)."""
    if settings is None:
        settings = project_settings(lambda env: load_settings(None, env))
    # The project's env is loaded here, before the container builds the store and graphs.
    settings = apply_project(settings)
    if settings.auth.mode == "custom":
        overrides = (custom_auth_provider(settings), *overrides)
    container = make_async_container(
        *get_providers(),
        *overrides,
        context={Settings: settings},
        validation_settings=STRICT_VALIDATION,
    )

    # Outermost, so a request refused by authentication is traced too.
    tracing: list[Any] = [RequestSpans] if configure_tracing() else []
    # Loaded once, here: its middleware may run after authentication, within the API.
    project = project_app(settings.http)
    app = Litestar(
        route_handlers=routers(settings.http),
        lifespan=[_lifespan(container)],
        middleware=[
            DefineMiddleware(AccessLog, headers=logged_headers(settings.http)),
            *tracing,
            prometheus_config().middleware,
            authentication_middleware(),
            *after_authentication(project),
        ],
        request_max_body_size=settings.limits.max_body_bytes,
        cors_config=cors_config(settings.http),
        before_send=[allow_private_network],
        exception_handlers=exception_handlers,
        type_encoders={BaseException: encode_default},
        openapi_config=openapi_config(settings.http),
        debug=False,
        # Logging belongs to the process (the CLI or the host), not to the app factory.
        logging_config=None,
    )
    setup_dishka(container, app)
    app.state[PROJECT_APP] = project
    return app


def logged_headers(http: HttpSettings) -> LoggedHeaders:
    """The headers each access line shows, as `[http] logging_headers_*` choose them."""
    return LoggedHeaders(http.logging_headers_include, http.logging_headers_exclude)


def routers(http: HttpSettings) -> list[Any]:
    """The API under `mount_prefix` (at the root without one); /ok and /metrics always
    at the root."""
    api = DishkaRouter(http.mount_prefix or "", route_handlers=api_routes(http))
    root: list[Any] = [] if http.disable_meta else [metrics_controller(http)]
    if http.mount_prefix:
        root.append(ok)
    return [api, *root]


def api_routes(http: HttpSettings) -> list[Any]:
    """The API's routes, less those `[http]` turns off, as LangGraph's server does."""
    routes: list[Any] = [ok] if http.disable_meta else [*system_handlers, swagger]
    if not http.disable_threads:
        routes += [ThreadController, ThreadStreamController, ThreadProtocolController]
    if not http.disable_runs:
        routes += [ThreadRunController, StatelessRunController]
        if not http.disable_webhooks:
            routes.append(run_webhook)
    if not http.disable_store:
        routes.append(StoreController)
    if not http.disable_assistants:
        routes.append(AssistantController)
    if not http.disable_crons:
        routes += [CronController, ThreadCronController]
    if not http.disable_a2a:
        routes += a2a_handlers
    if not http.disable_mcp:
        routes.append(McpController)
    if not http.disable_ui:
        routes += console_handlers
    return routes


def _lifespan(container: AsyncContainer) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        # Before the graphs load: one may call get_client() as its module is imported.
        uninstall = loopback.install(app)
        try:
            # Resolve the APP resources now, so a bad database or graph stops startup
            # instead of failing the first request.
            await container.get(DefaultAssistants)
            executor = await container.get(RunExecutor)
            await container.get(RunResumer)
            await container.get(ThreadSweeper)
            await container.get(CronScheduler)
            await container.get(WebhookSender)
            # After the schema check (the pool's), so an un-migrated database is named first.
            await container.get(Authenticator)
            unwatch = metrics.watch(await _readings(container))
            publisher = _publisher()
            undrain = drain_on_sigterm(executor) if draining.wanted(app.state) else None
            try:
                yield
            finally:
                if undrain is not None:
                    undrain()
                unwatch()
                if publisher is not None:
                    await publisher.aclose()
                    metrics.retire()
        finally:
            await container.close()
            uninstall()

    return lifespan


def _publisher() -> Periodic | None:
    """Under several workers, each writes what it holds every second for the scrapes."""
    if not metrics.MULTIPROCESS:
        return None

    async def step() -> bool:
        metrics.publish()
        return False

    publisher = Periodic(step, 1.0, "metrics publisher")
    publisher.open()
    return publisher


async def _readings(container: AsyncContainer) -> metrics.Reader:
    """What the app holds now (runs, streams, connections), for each scrape."""
    executor, slots, pool = (
        await container.get(RunExecutor),
        await container.get(StreamSlots),
        await container.get(Pool),
    )

    def read() -> metrics.Readings:
        pending, running = executor.held()
        stats = pool.get_stats()
        return metrics.Readings(
            runs_pending=pending,
            runs_running=running,
            streams_open=slots.total(),
            pool_size=stats.get("pool_size", 0),
            pool_available=stats.get("pool_available", 0),
            pool_waiting=stats.get("requests_waiting", 0),
        )

    return read


def cors_config(http: HttpSettings) -> CORSConfig | None:
    """Which pages on other origins may call the API; by default any, as LangGraph's server."""
    if not http.cors_enabled:
        return None
    return CORSConfig(
        allow_origins=list(http.cors_allow_origins),
        allow_origin_regex=http.cors_allow_origin_regex or None,
        allow_methods=list(http.cors_allow_methods),  # type: ignore[arg-type]
        allow_headers=list(http.cors_allow_headers),
        allow_credentials=http.cors_allow_credentials,
        expose_headers=list(http.cors_expose_headers),
        max_age=http.cors_max_age,
    )


async def allow_private_network(message: Message, scope: Scope) -> None:
    """Answer a Private Network Access preflight: a public page may call a local server.

    Chromium asks before a page on a public origin calls an address on a private
    network, such as a langstar on localhost; without the answer it blocks the call.
    """
    if message["type"] != "http.response.start" or scope.get("method") != "OPTIONS":
        return
    asked = dict(scope.get("headers", [])).get(b"access-control-request-private-network")
    if asked == b"true":
        MutableScopeHeaders.from_message(message)["Access-Control-Allow-Private-Network"] = "true"


def custom_auth_provider(settings: Settings) -> Provider:
    """The Dishka provider `auth.provider` names: a Provider subclass or instance."""
    spec = settings.auth.provider
    found = load_object(spec, Path.cwd())
    provider = found() if isinstance(found, type) and issubclass(found, Provider) else found
    if not isinstance(provider, Provider):
        raise SettingsError("auth.provider", f"{spec} is not a Dishka Provider")
    return provider


def container_of(app: Litestar) -> AsyncContainer:
    """The app's container, which Dishka's Litestar integration keeps in its state."""
    container: AsyncContainer = app.state.dishka_container
    return container
