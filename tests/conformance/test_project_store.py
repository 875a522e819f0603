"""A project's `store.index` gives semantic search with scores, on langstar as on
`langgraph dev`; the schema follows the project (`langstar db upgrade --langgraph-json`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from langgraph_sdk import get_client

from tests.support.langgraph_dev import beside_langgraph_dev
from tests.support.postgres import PostgresForTests

PROJECTS = Path(__file__).resolve().parents[1] / "support" / "projects"
PROJECT = PROJECTS / "memory"


@pytest.fixture(scope="module")
def servers(
    postgres: PostgresForTests, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    project = tmp_path_factory.mktemp("memory")
    shutil.copytree(PROJECT, project, dirs_exist_ok=True)
    shutil.copy(PROJECTS / "owned" / "graphs.py", project / "graphs.py")
    config = str(project / "langgraph.json")
    url = postgres.create_database("memory")
    env = {"DATABASE_URL": url, "LANGSTAR_AUTH__MODE": "none"}
    migrated = subprocess.run(
        [sys.executable, "-m", "langstar", "db", "upgrade", "--langgraph-json", config],
        env={**os.environ, **env},
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert migrated.returncode == 0, migrated.stderr
    try:
        with beside_langgraph_dev(project, env) as (server, reference):
            yield {"langstar": server.url, "langgraph dev": reference}
    finally:
        postgres.drop_database(url)


@pytest.mark.parametrize("server", ["langstar", "langgraph dev"])
async def test_search_with_a_query_ranks_by_meaning_and_gives_scores(
    servers: dict[str, str], server: str
) -> None:
    client = get_client(url=servers[server])
    namespace = ["notes", server.replace(" ", "-")]
    for key, text in (("a", "aaaa aaaa"), ("b", "bbbb bbbb"), ("ab", "aaaa bbbb")):
        await client.store.put_item(namespace, key, {"text": text})
    found = (await client.store.search_items(namespace, query="aaa aaa"))["items"]
    assert [item["key"] for item in found][:2] == ["a", "ab"]
    assert all(isinstance(item["score"], float) for item in found)
    assert found[0]["score"] > found[-1]["score"]


@pytest.mark.parametrize("server", ["langstar", "langgraph dev"])
async def test_a_graphs_description_is_its_assistants(servers: dict[str, str], server: str) -> None:
    client = get_client(url=servers[server])
    [assistant] = await client.assistants.search(graph_id="echo")
    assert assistant["description"] == "Echoes what it is told."
