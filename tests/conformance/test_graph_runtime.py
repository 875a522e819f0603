"""Graph factories that take LangGraph's `ServerRuntime`, served by langstar as by
`langgraph dev`: each is built with the access context of what the server does with it
(a run, a state read, a state update, a schema or drawing), with the caller as its user,
the store, and the run's context for a run alone. The project writes its factories as
LangChain's templates do, and records every call it gets."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from langgraph_sdk import get_client

from tests.support.langgraph_dev import langgraph_dev
from tests.support.postgres import PostgresForTests
from tests.support.server import ServerProcess

PROJECT = Path(__file__).resolve().parents[1] / "support" / "projects" / "runtime"
SERVERS = ("langstar", "langgraph dev")
# Graph name -> whether its factory also takes `config`.
GRAPHS = {"template": False, "both": True, "swapped": True, "sync": False}
ALICE = {"Authorization": "Bearer token-alice"}


@contextmanager
def serve(
    postgres: PostgresForTests, folder: Path, config: str, env: dict[str, str]
) -> Iterator[dict[str, tuple[str, Path]]]:
    """Both servers on their own copy of the project: name -> (URL, its calls file)."""
    copies = {name: folder / name.replace(" ", "-") for name in SERVERS}
    for copy in copies.values():
        shutil.copytree(PROJECT, copy)
    with postgres.migrated(folder.name) as url:
        project = copies["langstar"]
        args = ("--langgraph-json", str(project / config))
        server = ServerProcess({"DATABASE_URL": url, **env}, project, *args).start()
        try:
            with langgraph_dev(copies["langgraph dev"], config) as reference:
                yield {
                    "langstar": (server.url, project / "calls.jsonl"),
                    "langgraph dev": (reference, copies["langgraph dev"] / "calls.jsonl"),
                }
        finally:
            server.stop()


@pytest.fixture(scope="module")
def open_servers(
    postgres: PostgresForTests, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, tuple[str, Path]]]:
    folder = tmp_path_factory.mktemp("runtime_open")
    with serve(postgres, folder, "langgraph.json", {"LANGSTAR_AUTH__MODE": "none"}) as servers:
        yield servers


@pytest.fixture(scope="module")
def auth_servers(
    postgres: PostgresForTests, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, tuple[str, Path]]]:
    folder = tmp_path_factory.mktemp("runtime_auth")
    # No auth setting: the project's auth.path turns authentication on.
    with serve(postgres, folder, "langgraph-auth.json", {"LANGSTAR_AUTH__MODE": ""}) as servers:
        yield servers


class Calls:
    """The factory calls a server made since the last look."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen = 0

    def __call__(self) -> list[dict[str, Any]]:
        lines = self.path.read_text().splitlines() if self.path.exists() else []
        new, self.seen = lines[self.seen :], len(lines)
        return [json.loads(line) for line in new]


async def scenario(
    url: str, calls: Calls, graph: str, headers: dict[str, str] | None = None
) -> tuple[dict[str, list[dict[str, Any]]], Any]:
    """Each step a client takes with the graph, and the factory calls it made; and the
    run's answer."""
    client = get_client(url=url, headers=headers)
    [assistant] = await client.assistants.search(graph_id=graph)
    assistant_id = assistant["assistant_id"]
    thread_id = (await client.threads.create())["thread_id"]
    calls()  # what the server did at start-up is its own affair
    said = {"messages": [{"role": "user", "content": "hi"}]}
    steps: dict[str, list[dict[str, Any]]] = {}
    answer = await client.runs.wait(thread_id, graph, input=said, context={"greeting": "hello"})
    steps["run"] = calls()
    state = await client.threads.get_state(thread_id)
    steps["state"] = calls()
    await client.threads.get_state(thread_id, checkpoint_id=state["checkpoint"]["checkpoint_id"])
    steps["state at a checkpoint"] = calls()
    await client.threads.get_history(thread_id)
    steps["history"] = calls()
    await client.threads.update_state(thread_id, {"messages": []}, as_node="answer")
    steps["state update"] = calls()
    await client.assistants.get_schemas(assistant_id)
    steps["schemas"] = calls()
    await client.assistants.get_graph(assistant_id)
    steps["drawing"] = calls()
    await client.assistants.get_subgraphs(assistant_id)
    steps["subgraphs"] = calls()
    return steps, answer


def expected(
    graph: str, *, run_user: list[Any] | None, user: list[Any]
) -> dict[str, list[dict[str, Any]]]:
    def call(access: str, who: list[Any] | None, context: Any = None) -> dict[str, Any]:
        return {
            "graph": graph,
            "access_context": access,
            "user": who,
            "ensure_user": None if who is None else who[0],
            "context": context,
            "store": True,
            "config": GRAPHS[graph],
        }

    read = [call("threads.read", user)]
    schema = [call("assistants.read", user)]
    return {
        "run": [call("threads.create_run", run_user, {"greeting": "hello"})],
        "state": read,
        "state at a checkpoint": read,
        "history": read,
        # The update, then the read of the thread's new state it answers with.
        "state update": [call("threads.update", user), call("threads.read", user)],
        "schemas": schema,
        "drawing": schema,
        "subgraphs": schema,
    }


@pytest.mark.parametrize("graph", GRAPHS)
@pytest.mark.parametrize("server", SERVERS)
async def test_each_factory_is_built_for_what_the_server_does_with_the_graph(
    open_servers: dict[str, tuple[str, Path]], server: str, graph: str
) -> None:
    url, path = open_servers[server]
    steps, answer = await scenario(url, Calls(path), graph)
    # Nobody signed in: a run has no user, a request its anonymous one.
    assert steps == expected(graph, run_user=None, user=["", False])
    made_for_the_run = json.loads(answer["messages"][-1]["content"])
    assert made_for_the_run.pop("opened", graph == "template") is (graph == "template")
    assert made_for_the_run == steps["run"][0]


@pytest.mark.parametrize("server", SERVERS)
async def test_a_factory_is_given_the_signed_in_user_in_every_access_context(
    auth_servers: dict[str, tuple[str, Path]], server: str
) -> None:
    url, path = auth_servers[server]
    for graph in ("template", "both"):
        steps, _ = await scenario(url, Calls(path), graph, ALICE)
        assert steps == expected(graph, run_user=["alice", True], user=["alice", True])
