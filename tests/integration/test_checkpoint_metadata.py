"""What a run's checkpoints and graph see of its thread and caller, as on LangGraph's
Agent Server: the thread's metadata under the run's own, the thread's id, and, without
authentication, the Agent Server's empty caller."""

from __future__ import annotations

import json
from typing import Any

from langgraph_sdk.client import LangGraphClient

GRAPHS = {"whoami": "tests.support.graphs:whoami", "hitl": "tests.support.graphs:hitl"}
SAY: dict[str, Any] = {"messages": [{"role": "user", "content": "hi"}]}


async def test_a_graph_without_authentication_sees_the_agent_servers_empty_caller(
    sdk: LangGraphClient,
) -> None:
    values = await sdk.runs.wait(None, "whoami", input=SAY)
    assert isinstance(values, dict)
    seen = json.loads(values["messages"][-1]["content"])
    assert seen == {
        "langgraph_auth_user_id": "",
        "langgraph_auth_user": None,
        "langgraph_auth_permissions": [],
    }


async def test_checkpoints_without_authentication_name_no_caller(sdk: LangGraphClient) -> None:
    thread = await sdk.threads.create()
    await sdk.runs.wait(thread["thread_id"], "whoami", input=SAY)
    state = await sdk.threads.get_state(thread["thread_id"])
    assert state["metadata"] is not None
    assert state["metadata"]["langgraph_auth_user_id"] == ""


async def test_checkpoints_carry_the_threads_metadata_under_the_runs_own_and_its_id(
    sdk: LangGraphClient,
) -> None:
    thread = await sdk.threads.create(metadata={"example": "x", "graph": "y"})
    thread_id = thread["thread_id"]
    await sdk.runs.wait(thread_id, "whoami", input=SAY, metadata={"graph": "run's"})
    metadata = (await sdk.threads.get_state(thread_id))["metadata"]
    assert metadata is not None
    assert metadata["example"] == "x"
    assert metadata["graph"] == "run's"
    assert metadata["thread_id"] == thread_id
    assert metadata["graph_id"] == "whoami"
    history = await sdk.threads.get_history(thread_id, metadata={"example": "x"})
    assert len(history) == 3
    assert all(entry["metadata"]["thread_id"] == thread_id for entry in history)  # type: ignore[index]


async def test_a_state_updates_checkpoint_names_its_thread_and_graph(
    sdk: LangGraphClient,
) -> None:
    thread = await sdk.threads.create()
    await sdk.runs.wait(thread["thread_id"], "hitl", input=SAY)
    await sdk.threads.update_state(thread["thread_id"], {"messages": []}, as_node="ask")
    metadata = (await sdk.threads.get_state(thread["thread_id"]))["metadata"]
    assert metadata is not None
    assert metadata["source"] == "update"
    assert metadata["thread_id"] == thread["thread_id"]
    assert metadata["graph_id"] == "hitl"


async def test_a_forked_checkpoint_names_no_thread_as_on_langgraphs_server(
    sdk: LangGraphClient,
) -> None:
    """`as_node="__copy__"` writes LangGraph's own fork metadata only: the Agent Server
    tags what runs and updates write, not what LangGraph copies."""
    thread = await sdk.threads.create()
    await sdk.runs.wait(thread["thread_id"], "whoami", input=SAY)
    await sdk.threads.update_state(thread["thread_id"], None, as_node="__copy__")
    metadata = (await sdk.threads.get_state(thread["thread_id"]))["metadata"]
    assert metadata is not None
    assert metadata["source"] == "fork"
    assert "thread_id" not in metadata


async def test_a_copys_checkpoints_name_the_copy(sdk: LangGraphClient) -> None:
    thread = await sdk.threads.create()
    await sdk.runs.wait(thread["thread_id"], "whoami", input=SAY)
    copy = await sdk.threads.copy(thread["thread_id"])
    history = await sdk.threads.get_history(copy["thread_id"])
    assert len(history) == 3
    assert all(entry["metadata"]["thread_id"] == copy["thread_id"] for entry in history)  # type: ignore[index]


async def test_the_checkpoints_stream_mode_shows_the_empty_caller_in_its_config(
    sdk: LangGraphClient,
) -> None:
    thread = await sdk.threads.create()
    parts = sdk.runs.stream(thread["thread_id"], "whoami", input=SAY, stream_mode="checkpoints")
    configs = [part.data["config"] async for part in parts if part.event == "checkpoints"]
    assert configs
    for config in configs:
        assert config["configurable"]["langgraph_auth_user_id"] == ""
        assert config["configurable"]["langgraph_auth_user"] is None
        assert config["configurable"]["langgraph_auth_permissions"] == []
