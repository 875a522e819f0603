"""A project's middleware (`http.app`) wraps every route on langstar as on `langgraph dev`,
the API's /runs/wait and SSE streams included: before authentication by default, after it
with `"middleware_order": "auth_first"`, where it reads the user. `http.logging_headers`
choose the headers langstar's access log shows, and never a credential."""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client

from tests.support.langgraph_dev import beside_langgraph_dev
from tests.support.postgres import PostgresForTests
from tests.support.server import ServerProcess

PROJECT = Path(__file__).resolve().parents[1] / "support" / "projects" / "middleware"
ALICE = {"Authorization": "Bearer token-alice"}
HELLO = {"messages": [{"role": "user", "content": "hello"}]}
DEFAULT_ORDER, AUTH_FIRST = "langgraph.json", "langgraph-auth-first.json"
ADDED = "Hello from middleware!"
API_REQUESTS = ("POST /threads", "POST /threads/{id}/runs/wait", "POST /threads/{id}/runs/stream")
ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

Servers = tuple[dict[str, str], ServerProcess]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("middleware")
    shutil.copytree(PROJECT, folder, dirs_exist_ok=True)
    return folder


@pytest.fixture(scope="module", params=[DEFAULT_ORDER, AUTH_FIRST])
def servers(
    request: pytest.FixtureRequest, postgres: PostgresForTests, project: Path
) -> Iterator[Servers]:
    from langstar.db import migrations
    from tests.support.settings import settings_for

    config: str = request.param
    url = postgres.create_database("middleware")
    migrations.upgrade(url, settings_for(url))
    env = {"DATABASE_URL": url, "LANGSTAR_AUTH__MODE": "", "LANGSTAR_LOG_FORMAT": "json"}
    try:
        with beside_langgraph_dev(project, env, config) as (server, reference):
            yield {"langstar": server.url, "langgraph dev": reference}, server
    finally:
        postgres.drop_database(url)


async def conversation(url: str) -> dict[str, httpx.Headers]:
    """The response headers of an SDK conversation (a thread, a run waited for, a run
    streamed), by method and path with ids left out."""
    answered: dict[str, httpx.Headers] = {}

    async def record(response: httpx.Response) -> None:
        path = ID.sub("{id}", response.request.url.path)
        answered[f"{response.request.method} {path}"] = response.headers

    async with get_client(url=url, headers=ALICE) as sdk:
        sdk.http.client.event_hooks["response"] = [record]
        thread = await sdk.threads.create()
        waited = await sdk.runs.wait(thread["thread_id"], "echo", input=HELLO)
        assert isinstance(waited, dict)
        assert waited["messages"][-1]["content"] == "you said: hello"
        events = [
            part.event async for part in sdk.runs.stream(thread["thread_id"], "echo", input=HELLO)
        ]
        assert events[0] == "metadata"
        assert "values" in events
    return answered


@pytest.mark.parametrize("servers", [DEFAULT_ORDER, AUTH_FIRST], indirect=True)
@pytest.mark.parametrize("server", ["langstar", "langgraph dev"])
async def test_a_projects_middleware_wraps_the_apis_answers_and_streams(
    servers: Servers, server: str
) -> None:
    urls, _ = servers
    answered = await conversation(urls[server])
    for request in API_REQUESTS:
        assert answered[request].get("x-custom-header") == ADDED, request
    async with httpx.AsyncClient(base_url=urls[server], timeout=30) as client:
        own = await client.get("/hello")  # and the project's own routes
    assert own.json() == {"hello": "world"}
    assert own.headers["x-custom-header"] == ADDED


@pytest.mark.parametrize("servers", [DEFAULT_ORDER], indirect=True)
@pytest.mark.parametrize("server", ["langstar", "langgraph dev"])
async def test_by_default_a_projects_middleware_runs_before_authentication(
    servers: Servers, server: str
) -> None:
    urls, _ = servers
    async with httpx.AsyncClient(base_url=urls[server], timeout=30) as client:
        refused = await client.post("/threads", json={})
    assert refused.status_code == 401
    assert refused.headers["x-custom-header"] == ADDED  # it wraps the refusal too
    answered = await conversation(urls[server])
    for request in API_REQUESTS:
        assert answered[request].get("x-user-seen") == "nobody", request  # no user yet
        assert answered[request].get("x-user-answered") == "alice", request


@pytest.mark.parametrize("servers", [AUTH_FIRST], indirect=True)
@pytest.mark.parametrize("server", ["langstar", "langgraph dev"])
async def test_auth_first_middleware_runs_after_authentication_and_reads_the_user(
    servers: Servers, server: str
) -> None:
    urls, _ = servers
    async with httpx.AsyncClient(base_url=urls[server], timeout=30) as client:
        refused = await client.post("/threads", json={})
    assert refused.status_code == 401
    assert "x-custom-header" not in refused.headers  # refused before the middleware ran
    answered = await conversation(urls[server])
    for request in API_REQUESTS:
        assert answered[request].get("x-user-seen") == "alice", request
        assert answered[request].get("x-user-answered") == "alice", request


def access_line(server: ServerProcess, request_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        for line in server.read_log().splitlines():
            if request_id in line and '"langstar.access"' in line:
                found: dict[str, Any] = json.loads(line)
                if found.get("request_id") == request_id:
                    return found
        assert time.monotonic() < deadline, f"no access line for {request_id}"
        time.sleep(0.1)


@pytest.mark.parametrize("servers", [AUTH_FIRST], indirect=True)
def test_logging_headers_choose_the_headers_of_the_access_log_but_never_a_credential(
    servers: Servers,
) -> None:
    urls, langstar = servers
    sent = {
        **ALICE,
        "x-api-key": "key-that-must-not-be-logged",
        "cookie": "session=cookie-that-must-not-be-logged",
        "x-trace-id": "trace-42",
        "x-trace-secret": "excluded-by-the-project",
        "x-request-id": "logged-headers-1",
        "user-agent": "not-included",
    }
    answer = httpx.post(urls["langstar"] + "/threads/search", json={}, headers=sent, timeout=30)
    assert answer.status_code == 200
    line = access_line(langstar, "logged-headers-1")
    assert line["req_header"] == {"x-trace-id": "trace-42", "x-request-id": "logged-headers-1"}
    assert line["res_header"]["x-request-id"] == "logged-headers-1"
    log = langstar.read_log()
    for secret in ("token-alice", "must-not-be-logged", "excluded-by-the-project"):
        assert secret not in log
