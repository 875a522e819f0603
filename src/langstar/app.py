"""The application factory. Nothing happens at import time."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from pathlib import Path

from dishka import AsyncContainer, Provider, make_async_container
from dishka.entities.validation_settings import STRICT_VALIDATION
from dishka.integrations.litestar import DishkaRouter, setup_dishka
from litestar import Litestar
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin

from langstar.assistants.controllers import AssistantController
from langstar.assistants.providers import DefaultAssistants
from langstar.auth.authenticators import Authenticator
from langstar.auth.middleware import authentication_middleware
from langstar.graphs.registry import load_object
from langstar.http_errors import exception_handlers
from langstar.ioc import get_providers
from langstar.protocol.controllers import ThreadProtocolController
from langstar.runs.controllers import (
    StatelessRunController,
    ThreadRunController,
    ThreadStreamController,
)
from langstar.runs.executor import RunExecutor
from langstar.serde import encode_default
from langstar.settings import Settings, SettingsError, load_settings
from langstar.store.controllers import StoreController
from langstar.system.controllers import system_handlers
from langstar.threads.controllers import ThreadController

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *overrides: Provider) -> Litestar:
    """Build the app; `overrides` are providers that replace the defaults (tests use them)."""
    settings = settings if settings is not None else load_settings()
    if settings.auth.mode == "custom":
        overrides = (custom_auth_provider(settings), *overrides)
    container = make_async_container(
        *get_providers(),
        *overrides,
        context={Settings: settings},
        validation_settings=STRICT_VALIDATION,
    )

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        try:
            # Resolve the APP resources now, so a bad database or graph stops startup
            # instead of failing the first request.
            await container.get(DefaultAssistants)
            await container.get(RunExecutor)
            # After the schema check (the pool's), so an un-migrated database is named first.
            await container.get(Authenticator)
            yield
        finally:
            await container.close()

    app = Litestar(
        route_handlers=[
            DishkaRouter(
                "",
                route_handlers=[
                    *system_handlers,
                    ThreadController,
                    ThreadRunController,
                    StatelessRunController,
                    ThreadStreamController,
                    ThreadProtocolController,
                    StoreController,
                    AssistantController,
                ],
            )
        ],
        lifespan=[lifespan],
        middleware=[authentication_middleware()],
        request_max_body_size=settings.limits.max_body_bytes,
        exception_handlers=exception_handlers,
        type_encoders={BaseException: encode_default},
        openapi_config=OpenAPIConfig(
            title="langstar",
            version=version("langstar"),
            description="A self-hostable server for LangGraph agents.",
            path="/docs",
            render_plugins=[ScalarRenderPlugin(), SwaggerRenderPlugin(path="/swagger")],
        ),
        debug=False,
        # Logging belongs to the process (the CLI or the host), not to the app factory.
        logging_config=None,
    )
    setup_dishka(container, app)
    return app


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
