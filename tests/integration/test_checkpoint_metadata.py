"""What a run's graph and checkpoints see of its caller, as on LangGraph's Agent Server:
without authentication, the Agent Server's empty caller."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
from langgraph_sdk.client import LangGraphClient

from langstar.settings import Settings
from tests.support.apps import MakeApp
from tests.support.asgi import asgi_client

GRAPHS = {"whoami": "tests.support.graphs:whoami"}
SAY: dict[str, Any] = {"messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
async def sdk(settings: Settings, make_app: MakeApp) -> AsyncIterator[LangGraphClient]:
    app = make_app(msgspec.structs.replace(settings, graphs=GRAPHS))
    async with asgi_client(app) as client:
        yield LangGraphClient(client)


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
