"""A project that keeps an object only pickle can store in its state (and says nothing of
`pickle_fallback`) works on langstar as on `langgraph dev`: the object comes back on the
next turn, on both."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from langgraph_sdk import get_client

from tests.support.langgraph_dev import beside_langgraph_dev
from tests.support.postgres import PostgresForTests

PROJECT = Path(__file__).resolve().parents[1] / "support" / "projects" / "pickled"


@pytest.fixture(scope="module")
def servers(
    postgres: PostgresForTests, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    project = tmp_path_factory.mktemp("pickled")
    shutil.copytree(PROJECT, project, dirs_exist_ok=True)
    with (
        postgres.migrated("pickled") as url,
        beside_langgraph_dev(project, {"DATABASE_URL": url}, "plain.json") as (server, reference),
    ):
        yield {"langstar": server.url, "langgraph dev": reference}


async def turns(url: str) -> list[str]:
    sdk = get_client(url=url)
    thread = (await sdk.threads.create())["thread_id"]
    said = []
    for word in ("one", "two", "three"):
        done = await sdk.runs.wait(thread, "tally", input={"word": word}, raise_error=False)
        said.append(done.get("said") if isinstance(done, dict) else done)
    state = await sdk.threads.get_state(thread)
    return [*said, state["values"]["said"]]


async def test_an_object_only_pickle_stores_comes_back_on_langstar_as_on_langgraph_dev(
    servers: dict[str, str],
) -> None:
    ours = await turns(servers["langstar"])
    assert ours == ["one", "one two", "one two three", "one two three"]
    assert ours == await turns(servers["langgraph dev"])
