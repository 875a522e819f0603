"""The official langgraph-sdk client against a real `langstar serve --langgraph-json`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph_sdk import get_client, get_sync_client

from tests.support.server import ServerProcess

ECHO_GRAPH = """
from langchain_core.messages import AIMessage
from langgraph.graph import END, START, MessagesState, StateGraph


def reply(state: MessagesState) -> dict:
    return {"messages": [AIMessage(f"echo: {state['messages'][-1].content}")]}


builder = StateGraph(MessagesState)
builder.add_node("reply", reply)
builder.add_edge(START, "reply")
builder.add_edge("reply", END)
graph = builder.compile()
"""


@pytest.fixture
def server(migrated_database: str, tmp_path: Path) -> Iterator[ServerProcess]:
    project = tmp_path / "project"
    project.mkdir()
    (project / "echo.py").write_text(ECHO_GRAPH)
    (project / "langgraph.json").write_text(
        json.dumps({"dependencies": ["."], "graphs": {"echo": "./echo.py:graph"}})
    )
    env = {"DATABASE_URL": migrated_database}
    process = ServerProcess(env, tmp_path, "--langgraph-json", str(project / "langgraph.json"))
    process.start()
    yield process
    process.stop()


async def test_async_client_creates_runs_and_reads_state(server: ServerProcess) -> None:
    client = get_client(url=server.url)
    thread = await client.threads.create(metadata={"source": "sdk"})
    assert thread["status"] == "idle"
    result = await client.runs.wait(
        thread["thread_id"],
        "echo",
        input={"messages": [{"role": "user", "content": "ping"}]},
    )
    assert isinstance(result, dict)
    assert result["messages"][-1]["content"] == "echo: ping"
    state = await client.threads.get_state(thread["thread_id"])
    assert [m["content"] for m in state["values"]["messages"]] == ["ping", "echo: ping"]
    fetched = await client.threads.get(thread["thread_id"])
    assert fetched["metadata"]["source"] == "sdk"
    assert fetched["metadata"]["graph_id"] == "echo"


def test_sync_client_and_if_not_exists_create(server: ServerProcess) -> None:
    client = get_sync_client(url=server.url)
    thread_id = "7d1f0f4e-6f6b-4f43-9d55-2a4d5d7b9a10"
    result = client.runs.wait(
        thread_id,
        "echo",
        input={"messages": [{"role": "user", "content": "hello"}]},
        if_not_exists="create",
    )
    assert isinstance(result, dict)
    assert result["messages"][-1]["content"] == "echo: hello"
    assert client.threads.get(thread_id)["status"] == "idle"


async def test_sdk_errors_carry_the_status(server: ServerProcess) -> None:
    import httpx

    client = get_client(url=server.url)
    with pytest.raises(httpx.HTTPStatusError) as raised:
        await client.threads.get("00000000-0000-0000-0000-000000000000")
    assert raised.value.response.status_code == 404


@pytest.mark.timeout(150)
async def test_a_cron_made_with_the_sdk_fires_on_schedule(server: ServerProcess) -> None:
    """On the real clock: a cron for every minute starts its run within about a minute."""
    import asyncio
    import time

    client = get_client(url=server.url)
    thread = await client.threads.create()
    cron = await client.crons.create_for_thread(
        thread["thread_id"],
        "echo",
        schedule="* * * * *",
        input={"messages": [{"role": "user", "content": "tick"}]},
    )
    deadline = time.monotonic() + 90
    runs: list[Any] = []
    while time.monotonic() < deadline and not runs:
        runs = [r for r in await client.runs.list(thread["thread_id"]) if r["status"] == "success"]
        await asyncio.sleep(0.5)
    await client.crons.delete(cron["cron_id"])
    assert runs, "the cron did not fire within 90 seconds"
    assert runs[0]["kwargs"]["config"]["configurable"]["cron_id"] == cron["cron_id"]
    state = await client.threads.get_state(thread["thread_id"])
    assert state["values"]["messages"][-1]["content"] == "echo: tick"
