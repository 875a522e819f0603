"""A project's own routes (`http.app`) answer on langstar as on `langgraph dev`: before the
API's, never in place of /ok, with their lifespan run, open unless the project asks."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.langgraph_dev import beside_langgraph_dev
from tests.support.postgres import PostgresForTests

PROJECTS = Path(__file__).resolve().parents[1] / "support" / "projects"
PROJECT = PROJECTS / "routes"
ALICE = {"Authorization": "Bearer token-alice"}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("routes")
    shutil.copytree(PROJECT, folder, dirs_exist_ok=True)
    for shared in ("graphs.py", "auth.py"):  # the owned project's graph and auth
        shutil.copy(PROJECTS / "owned" / shared, folder / shared)
    return folder


@pytest.fixture(scope="module", params=["langgraph.json", "langgraph-auth.json"])
def servers(
    request: pytest.FixtureRequest, postgres: PostgresForTests, project: Path
) -> Iterator[tuple[str, dict[str, str]]]:
    from langstar.db import migrations
    from tests.support.settings import settings_for

    config: str = request.param
    url = postgres.create_database("routes")
    migrations.upgrade(url, settings_for(url))
    mode = "" if "auth" in config else "none"
    env = {"DATABASE_URL": url, "LANGSTAR_AUTH__MODE": mode}
    try:
        with beside_langgraph_dev(project, env, config) as (server, reference):
            yield config, {"langstar": server.url, "langgraph dev": reference}
    finally:
        postgres.drop_database(url)


@pytest.mark.parametrize("server", ["langstar", "langgraph dev"])
def test_a_projects_routes_answer_beside_the_api(
    servers: tuple[str, dict[str, str]], server: str
) -> None:
    config, urls = servers
    with httpx.Client(base_url=urls[server], timeout=30) as client:
        if "auth" in config:
            assert client.get("/hello").status_code == 401  # the API's authentication
            client.headers.update(ALICE)
        hello = client.get("/hello")
        assert hello.status_code == 200, hello.text
        assert hello.json() == {"greeting": "hello from the lifespan"}
        assert client.get("/info").json() == {"served_by": "the project"}
        assert client.get("/ok").json()["ok"] is True  # never the project's
        assert client.post("/threads", json={}).status_code == 200
        assert client.get("/nowhere").status_code == 404


@pytest.mark.parametrize("server", ["langstar", "langgraph dev"])
def test_a_projects_routes_are_in_openapi_json_beside_the_apis(
    servers: tuple[str, dict[str, str]], server: str
) -> None:
    _, urls = servers
    document = httpx.get(urls[server] + "/openapi.json", timeout=30).json()
    assert document["paths"]["/hello"]["get"]["summary"] == "Hello"  # FastAPI's own words
    assert document["paths"]["/info"]["get"]["summary"] == "Info"  # the project's, not the API's
    assert "post" in document["paths"]["/threads"]
    assert document["info"]["title"] == "FastAPI"  # the project's document wins
