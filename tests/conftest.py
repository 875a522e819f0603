"""Shared fixtures: a real PostgreSQL, migrated databases, settings and the app."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import msgspec
import pytest
from litestar import Litestar

from langstar.app import create_app
from langstar.db import migrations
from langstar.db.embedded import EmbeddedPostgres
from langstar.settings import AuthSettings, DatabaseSettings, Settings
from tests.support.asgi import asgi_client
from tests.support.fakes import FakeModelProvider, RecordingChatModel
from tests.support.postgres import PostgresForTests


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


def settings_for(url: str, data_dir: Path | None = None) -> Settings:
    return Settings(
        data_dir=str(data_dir or ".langstar"),
        database=DatabaseSettings(url=url, pool_min_size=1, pool_max_size=10),
        # Tests name the database by URL, which needs the open mode said out loud.
        auth=AuthSettings(mode="none"),
    )


@pytest.fixture(scope="session")
def migrated_url(postgres: PostgresForTests) -> Iterator[str]:
    url = postgres.create_database("head")
    migrations.upgrade(url, settings_for(url))
    yield url
    postgres.drop_database(url)


@pytest.fixture
def migrated_database(postgres: PostgresForTests) -> Iterator[str]:
    """A database of its own at head, for tests that change or break it."""
    url = postgres.create_database("own")
    migrations.upgrade(url, settings_for(url))
    yield url
    postgres.drop_database(url)


@pytest.fixture
def settings(migrated_url: str, tmp_path: Path) -> Settings:
    return settings_for(migrated_url, tmp_path)


@pytest.fixture
def chat_model() -> RecordingChatModel:
    return RecordingChatModel(prompts=[])


@pytest.fixture
def app(settings: Settings, chat_model: RecordingChatModel) -> Litestar:
    return create_app(settings, FakeModelProvider(chat_model))


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app) as client:
        yield client


def with_pool(settings: Settings, size: int) -> Settings:
    database = msgspec.structs.replace(settings.database, pool_max_size=size)
    return msgspec.structs.replace(settings, database=database)


@pytest.fixture
def graphs_app(settings: Settings, chat_model: RecordingChatModel) -> Litestar:
    """The app serving the test graphs as well as the built-in agent."""
    from tests.support.graphs import TEST_GRAPHS

    return create_app(
        msgspec.structs.replace(settings, graphs=TEST_GRAPHS), FakeModelProvider(chat_model)
    )


@pytest.fixture
async def graphs_client(graphs_app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(graphs_app) as client:
        yield client
