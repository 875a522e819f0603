"""Shared fixtures: a real PostgreSQL, migrated databases, settings and the app.

Tests swap a provider by overriding `di_overrides` (or change `settings`) rather than
build an app themselves; `make_app` builds it for those needing several apps or changed
settings.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import httpx
import msgspec
import pytest
from dishka import Provider
from langgraph_sdk.client import LangGraphClient
from litestar import Litestar

from langstar.app import create_app
from langstar.db.embedded import EmbeddedPostgres
from langstar.settings import Settings
from tests.support.apps import MakeApp, Serving, StartupError
from tests.support.asgi import asgi_client
from tests.support.asgi import startup_error as failed_start
from tests.support.fakes import FakeModelProvider, RecordingChatModel
from tests.support.postgres import PostgresForTests
from tests.support.sdk import sdk_for
from tests.support.settings import settings_for


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresForTests]:
    if url := os.environ.get("DATABASE_URL"):
        yield PostgresForTests(admin_url=url, embedded=None)
        return
    embedded = EmbeddedPostgres(tmp_path_factory.mktemp("embedded"))
    embedded.start()
    yield PostgresForTests(admin_url=embedded.admin_url, embedded=embedded)
    embedded.stop()


@pytest.fixture
def empty_database(postgres: PostgresForTests) -> Iterator[str]:
    url = postgres.create_database("empty")
    yield url
    postgres.drop_database(url)


@pytest.fixture(scope="session")
def migrated_url(postgres: PostgresForTests) -> Iterator[str]:
    with postgres.migrated("head") as url:
        yield url


@pytest.fixture
def migrated_database(postgres: PostgresForTests) -> Iterator[str]:
    """A database of its own at head, for tests that change or break it."""
    with postgres.migrated("own") as url:
        yield url


@pytest.fixture
def settings(migrated_url: str, tmp_path: Path) -> Settings:
    return settings_for(migrated_url, tmp_path)


@pytest.fixture
def chat_model() -> RecordingChatModel:
    return RecordingChatModel(prompts=[])


@pytest.fixture
def di_overrides(chat_model: RecordingChatModel) -> list[Provider]:
    """The providers that replace the defaults in every app a test builds.

    A test module (or one test, by parametrizing it) overrides this fixture to swap a
    provider; keep the signature.
    """
    return [FakeModelProvider(chat_model)]


@pytest.fixture
def make_app(settings: Settings, di_overrides: list[Provider]) -> MakeApp:
    """For tests that need several apps, or one on changed settings: see `MakeApp`."""

    def make(changed: Settings | None = None, /, *extra: Provider) -> Litestar:
        return create_app(changed if changed is not None else settings, *di_overrides, *extra)

    return make


@pytest.fixture
def app(settings: Settings, di_overrides: list[Provider]) -> Litestar:
    return create_app(settings, *di_overrides)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app) as client:
        yield client


@pytest.fixture
def graphs_app(settings: Settings, make_app: MakeApp) -> Litestar:
    """The app serving the test graphs as well as the built-in agent."""
    from tests.support.graphs import TEST_GRAPHS

    return make_app(msgspec.structs.replace(settings, graphs=TEST_GRAPHS))


@pytest.fixture
async def graphs_client(graphs_app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(graphs_app) as client:
        yield client


@pytest.fixture
async def sdk(
    settings: Settings, make_app: MakeApp, request: pytest.FixtureRequest
) -> AsyncIterator[LangGraphClient]:
    """The official SDK on an app serving the test module's `GRAPHS`, or the test graphs
    when the module names none."""
    from tests.support.graphs import TEST_GRAPHS

    graphs = getattr(request.module, "GRAPHS", TEST_GRAPHS)
    app = make_app(msgspec.structs.replace(settings, graphs=graphs))
    async with asgi_client(app):
        yield sdk_for(app)


@pytest.fixture
def serving(make_app: MakeApp) -> Serving:
    """`serving(settings, *overrides)`: a client of an app on `settings`, started."""

    def serve(
        settings: Settings, *overrides: Provider
    ) -> AbstractAsyncContextManager[httpx.AsyncClient]:
        return asgi_client(make_app(settings, *overrides))

    return serve


@pytest.fixture
def startup_error(make_app: MakeApp) -> StartupError:
    """`await startup_error(settings)`: the error that stops an app on `settings` starting."""

    async def error(settings: Settings) -> BaseException:
        return await failed_start(make_app(settings))

    return error
