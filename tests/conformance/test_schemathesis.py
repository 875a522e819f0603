"""Generated requests against every operation of langstar's own OpenAPI document: no 5xx."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from langstar.app import create_app
from langstar.settings import Settings
from tests.support.postgres import PostgresForTests
from tests.support.server import ServerProcess


@pytest.fixture(scope="module")
def fuzz_server(
    postgres: PostgresForTests, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    from langstar.db import migrations
    from tests.conftest import settings_for

    url = postgres.create_database("fuzz")
    migrations.upgrade(url, settings_for(url))
    process = ServerProcess({"DATABASE_URL": url}, tmp_path_factory.mktemp("fuzz")).start()
    yield process
    process.stop()
    postgres.drop_database(url)


def _openapi() -> dict[str, object]:
    # The document the server serves, built without starting anything.
    document: dict[str, object] = create_app(Settings()).openapi_schema.to_schema()
    return document


schema = schemathesis.openapi.from_dict(_openapi()).exclude(
    # The thread stream stays open until the client leaves; it has its own tests.
    path_regex=r"^/threads/\{thread_id\}/stream$"
)


@schema.parametrize()
@settings(
    max_examples=15,
    # The same examples every run, so CI cannot flake; change the seed to explore further.
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_generated_request_gets_a_server_error(
    case: schemathesis.Case, fuzz_server: ServerProcess
) -> None:
    response = case.call(base_url=fuzz_server.url, timeout=30)
    case.validate_response(response, checks=[not_a_server_error])


def test_the_schema_lists_every_route() -> None:
    paths = set(schema.raw_schema["paths"])
    assert {
        "/threads", "/threads/{thread_id}/runs/stream", "/runs/wait", "/assistants/search",
        "/store/items", "/threads/{thread_id}/state/checkpoint",
    } <= paths  # fmt: skip
