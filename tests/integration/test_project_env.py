"""A project whose secrets live only in the env file its langgraph.json names, as LangChain's
memory templates are written: served by `langstar serve` (one process or several) and by
the app factory, with the file read before the store, the graphs and the auth are built."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from langgraph_sdk import get_client

from langstar.db import migrations
from langstar.settings import StoreSettings
from tests.support.apps import MakeApp
from tests.support.asgi import asgi_client
from tests.support.openai_stub import openai_stub
from tests.support.postgres import PostgresForTests
from tests.support.server import ServerProcess
from tests.support.settings import settings_for

KEY = "sk-only-in-the-env-file"
STORE = {"index": {"dims": 1536, "embed": "openai:text-embedding-3-small"}}
GRAPH = """
from langgraph.graph import END, START, MessagesState, StateGraph


def reply(state, config):
    user = config["configurable"].get("langgraph_auth_user")
    said = state["messages"][-1].content
    return {"messages": [("ai", f"{user['identity'] if user else None} said: {said}")]}


builder = StateGraph(MessagesState)
builder.add_node("reply", reply)
builder.add_edge(START, "reply")
builder.add_edge("reply", END)
graph = builder.compile()
"""
# Read at import, as auth modules that build a Supabase client do.
AUTH = """
import os
from urllib.parse import urlsplit

from langgraph_sdk import Auth

SUPABASE_HOST = urlsplit(os.environ["SUPABASE_URL"]).hostname
auth = Auth()


@auth.authenticate
async def authenticate(authorization: str | None) -> Auth.types.MinimalUserDict:
    if authorization != "Bearer token-alice":
        raise Auth.exceptions.HTTPException(status_code=401, detail="Invalid token")
    return {"identity": f"alice@{SUPABASE_HOST}"}
"""


def write_project(folder: Path, *, auth: bool) -> Path:
    config: dict[str, object] = {
        "dependencies": ["."],
        "graphs": {"agent": "./agent.py:graph"},
        "env": ".env",
        "store": STORE,
    }
    (folder / "agent.py").write_text(GRAPH)
    (folder / ".env").write_text(f"OPENAI_API_KEY={KEY}\n")
    if auth:
        config["auth"] = {"path": "./auth.py:auth"}
        (folder / "auth.py").write_text(AUTH)
        with (folder / ".env").open("a") as env:
            env.write("SUPABASE_URL=https://project.supabase.test\n")
    (folder / "langgraph.json").write_text(json.dumps(config))
    return folder / "langgraph.json"


@pytest.fixture
def environ() -> Iterator[None]:
    """The environment of this process as it was, whatever the app loaded into it, and
    without the variables the project's env file holds."""
    saved = dict(os.environ)
    for name in ("OPENAI_API_KEY", "SUPABASE_URL"):
        os.environ.pop(name, None)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(params=[1, 2], ids=["one process", "two workers"])
def server(
    request: pytest.FixtureRequest,
    postgres: PostgresForTests,
    tmp_path: Path,
    environ: None,
) -> Iterator[ServerProcess]:
    config = write_project(tmp_path, auth=True)
    url = postgres.create_database("env")
    env = {"DATABASE_URL": url, "LANGSTAR_AUTH__MODE": ""}
    migrated = subprocess.run(
        [sys.executable, "-m", "langstar", "db", "upgrade", "--langgraph-json", str(config)],
        env={**os.environ, **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert migrated.returncode == 0, migrated.stderr
    workers = {"LANGSTAR_SERVER__WORKERS": str(request.param)}
    process = ServerProcess({**env, **workers}, tmp_path, "--langgraph-json", str(config))
    try:
        yield process.start()
    finally:
        process.stop()
        postgres.drop_database(url)


async def test_serve_starts_a_project_whose_secrets_are_only_in_its_env_file(
    server: ServerProcess,
) -> None:
    alice = get_client(url=server.url, headers={"Authorization": "Bearer token-alice"})
    thread = await alice.threads.create()
    say = {"messages": [{"role": "user", "content": "hi"}]}
    answer = await alice.runs.wait(thread["thread_id"], "agent", input=say)
    assert isinstance(answer, dict)
    assert answer["messages"][-1]["content"] == "alice@project.supabase.test said: hi"
    await alice.store.put_item(["notes"], "n1", {"text": "kept"}, index=False)
    assert (await alice.store.get_item(["notes"], "n1"))["value"] == {"text": "kept"}


@pytest.mark.usefixtures("environ")
async def test_the_app_factory_embeds_with_the_key_from_the_projects_env_file(
    empty_database: str, tmp_path: Path, make_app: MakeApp
) -> None:
    config = write_project(tmp_path, auth=False)
    settings = settings_for(empty_database, tmp_path)
    vectors = msgspec.structs.replace(settings, store=StoreSettings(embedding_dims=1536))
    await migrations.upgrade_async(empty_database, vectors)
    with openai_stub("unused") as (url, stub):
        # The operator points the embeddings at a server of their own; the key is the project's.
        store = StoreSettings(embedding_base_url=url)
        settings = msgspec.structs.replace(settings, graphs_from=str(config), store=store)
        async with asgi_client(make_app(settings)) as client:
            body = {"namespace": ["notes"], "key": "pets", "value": {"text": "my cat sleeps"}}
            assert (await client.put("/store/items", json=body)).status_code == 204
            found = await client.post(
                "/store/items/search", json={"namespace_prefix": ["notes"], "query": "cat"}
            )
    assert found.json()["items"][0]["key"] == "pets"
    assert {r["auth"] for r in stub.requests} == {f"Bearer {KEY}"}
