"""The A2A endpoint, driven by the official a2a-sdk client and by raw JSON-RPC."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest
from a2a.client import A2ACardResolver, Client, ClientConfig, ClientFactory
from a2a.types import (
    AgentCard,
    CancelTaskRequest,
    GetTaskRequest,
    ListTasksRequest,
    Message,
    Part,
    Role,
    SendMessageConfiguration,
    SendMessageRequest,
    StreamResponse,
    Task,
    TaskState,
)
from a2a.utils.errors import TaskNotCancelableError, TaskNotFoundError
from google.protobuf import struct_pb2
from google.protobuf.json_format import MessageToDict, ParseDict
from litestar import Litestar

from langstar.settings import HttpSettings, Settings
from tests.support.apps import MakeApp, Serving
from tests.support.asgi import asgi_client
from tests.support.auth import HeaderAuthProvider
from tests.support.fakes import FakeModelProvider, GatedChatModel
from tests.support.graphs import TEST_GRAPHS

BASE = "http://langstar.test"
COMPLETED, WORKING = TaskState.TASK_STATE_COMPLETED, TaskState.TASK_STATE_WORKING
INPUT_REQUIRED = TaskState.TASK_STATE_INPUT_REQUIRED


@pytest.fixture
def graphs_settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, graphs=TEST_GRAPHS)


async def card_of(http: httpx.AsyncClient, assistant: str) -> AgentCard:
    return await A2ACardResolver(http, f"{BASE}/a2a/{assistant}").get_agent_card()


async def agent_client(
    http: httpx.AsyncClient, assistant: str = "agent", *, streaming: bool = False
) -> Client:
    """The SDK's client for an assistant, from its card, over the in-process app."""
    config = ClientConfig(httpx_client=http, streaming=streaming)
    return ClientFactory(config).create(await card_of(http, assistant))


def user_message(
    text: str | None = None,
    *,
    data: Any = None,
    context_id: str = "",
    task_id: str = "",
) -> Message:
    parts = [] if text is None else [Part(text=text)]
    if data is not None:
        parts.append(Part(data=ParseDict(data, struct_pb2.Value())))
    return Message(
        role=Role.ROLE_USER,
        message_id=str(uuid.uuid4()),
        parts=parts,
        context_id=context_id,
        task_id=task_id,
    )


async def events_of(client: Client, request: SendMessageRequest) -> list[StreamResponse]:
    return [event async for event in client.send_message(request)]


async def send(client: Client, message: Message, **configuration: Any) -> Task:
    """SendMessage, as a client that does not stream: the task it answers with."""
    request = SendMessageRequest(
        message=message, configuration=SendMessageConfiguration(**configuration)
    )
    (event,) = await events_of(client, request)
    assert event.HasField("task"), event
    return event.task


def text_of(message: Message) -> str:
    return "".join(part.text for part in message.parts)


async def rpc(
    http: httpx.AsyncClient,
    method: str,
    params: Any = None,
    *,
    assistant: str = "agent",
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One raw JSON-RPC call; the whole response object."""
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": 7, "method": method}
    if params is not None:
        body["params"] = params
    response = await http.post(f"/a2a/{assistant}", json=body, headers=headers)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    assert answer["jsonrpc"] == "2.0"
    return answer


def raw_message(text: str, **fields: Any) -> dict[str, Any]:
    return {"messageId": str(uuid.uuid4()), "role": "ROLE_USER", "parts": [{"text": text}],
            **fields}  # fmt: skip


# The agent card


async def test_the_agent_card_describes_the_assistant_to_the_official_client(
    client: httpx.AsyncClient,
) -> None:
    card = await card_of(client, "agent")
    assert card.name == "agent"
    assert card.description
    (current, *_) = card.supported_interfaces
    assert current.url == f"{BASE}/a2a/agent"
    assert current.protocol_binding == "JSONRPC"
    assert current.protocol_version == "1.0"
    assert card.capabilities.streaming
    assert not card.capabilities.push_notifications
    assert list(card.default_input_modes) == ["text/plain", "application/json"]
    (skill,) = card.skills
    assert skill.name == "agent"
    raw = (await client.get("/a2a/agent/.well-known/agent-card.json")).json()
    schema = raw["skills"][0]["metadata"]["inputSchema"]
    assert "messages" in schema["properties"]
    for path in ("/a2a/agent", "/.well-known/agent-card.json?assistant_id=agent"):
        same = await client.get(path)
        assert same.status_code == 200, path
        assert same.json() == raw
    missing = await client.get("/a2a/nope/.well-known/agent-card.json")
    assert missing.status_code == 404
    assert (await client.post("/a2a/nope", json={"jsonrpc": "2.0"})).status_code == 404


async def test_the_card_url_follows_the_mount_prefix(
    settings: Settings, make_app: MakeApp
) -> None:
    prefixed = msgspec.structs.replace(settings, http=HttpSettings(mount_prefix="/my-api"))
    async with asgi_client(make_app(prefixed)) as http:
        assert (await http.get("/a2a/agent")).status_code == 404
        card = await A2ACardResolver(http, f"{BASE}/my-api/a2a/agent").get_agent_card()
        assert card.supported_interfaces[0].url == f"{BASE}/my-api/a2a/agent"
        task = await send(await agent_client_at(http, card), user_message("hi"))
        assert task.status.state == COMPLETED


async def agent_client_at(http: httpx.AsyncClient, card: AgentCard) -> Client:
    return ClientFactory(ClientConfig(httpx_client=http, streaming=False)).create(card)


# Messages and tasks


async def test_a_message_gets_a_completed_task_with_the_agents_reply(
    client: httpx.AsyncClient,
) -> None:
    agent = await agent_client(client)
    task = await send(agent, user_message("hello there"))
    assert task.status.state == COMPLETED
    assert text_of(task.status.message) == "echo: hello there"
    assert task.status.message.role == Role.ROLE_AGENT
    (artifact,) = task.artifacts
    assert text_of(artifact) == "echo: hello there"
    context, run = task.id.split(":")
    assert context == task.context_id
    assert [text_of(m) for m in task.history] == ["hello there", "echo: hello there"]

    # The same context continues the conversation, as a new task.
    again = await send(agent, user_message("and again", context_id=task.context_id))
    assert again.context_id == task.context_id
    assert again.id != task.id
    assert text_of(again.status.message) == "echo: and again"
    assert len(again.history) == 4
    fetched = await agent.get_task(GetTaskRequest(id=task.id))
    assert fetched.status.state == COMPLETED
    assert text_of(fetched.status.message) == "echo: hello there"
    short = await agent.get_task(GetTaskRequest(id=again.id, history_length=1))
    assert [text_of(m) for m in short.history] == ["echo: and again"]
