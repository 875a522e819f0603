"""The A2A endpoint, driven by the official a2a-sdk client and by raw JSON-RPC."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import uvicorn
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
    SubscribeToTaskRequest,
    Task,
    TaskState,
)
from a2a.utils.errors import (
    TaskNotCancelableError,
    UnsupportedOperationError,
)
from google.protobuf import struct_pb2
from google.protobuf.json_format import MessageToDict, ParseDict
from litestar import Litestar

from langstar.project import apply_project
from langstar.settings import HttpSettings, Settings, load_settings
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


async def test_the_card_url_follows_the_mount_prefix(settings: Settings, make_app: MakeApp) -> None:
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
    assert task.id.split(":")[0] == task.context_id
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


async def test_reused_message_ids_do_not_overwrite_earlier_turns(
    client: httpx.AsyncClient,
) -> None:
    first = await rpc(client, "SendMessage", {"message": {**raw_message("one"), "messageId": "1"}})
    context = first["result"]["task"]["contextId"]
    again = {**raw_message("two", contextId=context), "messageId": "1"}
    second = (await rpc(client, "SendMessage", {"message": again}))["result"]["task"]
    texts = [part["text"] for m in second["history"] for part in m["parts"]]
    assert texts == ["one", "echo: one", "two", "echo: two"]


async def test_a_failing_graph_fails_its_task_naming_the_error(
    graphs_client: httpx.AsyncClient,
) -> None:
    agent = await agent_client(graphs_client, "failing")
    task = await send(agent, user_message("try"))
    assert task.status.state == TaskState.TASK_STATE_FAILED
    assert text_of(task.status.message) == "ValueError: this graph always fails"
    assert not task.artifacts
    streaming = await agent_client(graphs_client, "failing", streaming=True)
    events = await events_of(streaming, SendMessageRequest(message=user_message("again")))
    assert events[-1].status_update.status.state == TaskState.TASK_STATE_FAILED


async def test_a_streamed_message_sends_status_updates_then_the_final_one(
    client: httpx.AsyncClient,
) -> None:
    agent = await agent_client(client, streaming=True)
    events = await events_of(agent, SendMessageRequest(message=user_message("one two three")))
    first, *updates = events
    assert first.HasField("task")
    task_id = first.task.id
    assert first.task.status.state == TaskState.TASK_STATE_SUBMITTED
    assert [text_of(m) for m in first.task.history] == ["one two three"]
    kinds = [event.WhichOneof("payload") for event in updates]
    assert kinds[0] == "status_update"
    assert updates[0].status_update.status.state == WORKING
    # The reply's tokens arrive as they come, then the reply whole, then the end.
    tokens = [e.artifact_update for e in updates if e.HasField("artifact_update")]
    assert len(tokens) > 2
    assert not tokens[0].append
    assert all(t.append for t in tokens[1:-1])
    assert "".join(text_of(t.artifact) for t in tokens[:-1]) == "echo: one two three"
    assert text_of(tokens[-1].artifact) == "echo: one two three"
    assert tokens[-1].last_chunk
    assert not tokens[-1].append
    last = updates[-1]
    assert last.HasField("status_update")
    assert last.status_update.task_id == task_id
    assert last.status_update.status.state == COMPLETED
    assert text_of(last.status_update.status.message) == "echo: one two three"
    fetched = await agent.get_task(GetTaskRequest(id=task_id))
    assert fetched.status.state == COMPLETED


async def test_a_graph_that_asks_requires_input_and_the_reply_resumes_it(
    graphs_client: httpx.AsyncClient,
) -> None:
    agent = await agent_client(graphs_client, "hitl")
    asked = await send(agent, user_message("please deploy"))
    assert asked.status.state == INPUT_REQUIRED
    (question,) = asked.status.message.parts
    assert MessageToDict(question.data) == {"question": "approve?"}
    assert (await agent.get_task(GetTaskRequest(id=asked.id))).status.state == INPUT_REQUIRED

    # A reply on the same context answers the graph's interrupt(): the same task goes on.
    done = await send(agent, user_message("yes", context_id=asked.context_id))
    assert done.id == asked.id
    assert done.status.state == COMPLETED
    assert text_of(done.status.message) == "approved: yes"
    assert (await agent.get_task(GetTaskRequest(id=asked.id))).status.state == COMPLETED


async def test_a_reply_naming_the_task_resumes_it_with_data_and_streams(
    graphs_client: httpx.AsyncClient,
) -> None:
    streaming = await agent_client(graphs_client, "hitl", streaming=True)
    events = await events_of(streaming, SendMessageRequest(message=user_message("go")))
    last = events[-1].status_update
    assert last.status.state == INPUT_REQUIRED
    assert MessageToDict(last.status.message.parts[0].data) == {"question": "approve?"}
    reply = user_message(data={"ok": True}, task_id=last.task_id)
    resumed = await events_of(streaming, SendMessageRequest(message=reply))
    assert resumed[0].task.id == last.task_id
    final = resumed[-1].status_update
    assert final.status.state == COMPLETED
    assert text_of(final.status.message) == "approved: {'ok': True}"
    # A finished task takes no more messages.
    plain = await agent_client(graphs_client, "hitl")
    with pytest.raises(UnsupportedOperationError, match="takes no more messages"):
        await send(plain, user_message("again", task_id=last.task_id))


@pytest.fixture
def gated() -> GatedChatModel:
    return GatedChatModel()


async def test_a_long_task_can_be_canceled(
    settings: Settings, make_app: MakeApp, gated: GatedChatModel
) -> None:
    async with asgi_client(make_app(settings, FakeModelProvider(gated))) as http:
        agent = await agent_client(http)
        started = await send(agent, user_message("take your time"), return_immediately=True)
        assert started.status.state in (TaskState.TASK_STATE_SUBMITTED, WORKING)
        canceled = await agent.cancel_task(CancelTaskRequest(id=started.id))
        assert canceled.id == started.id
        assert canceled.status.state == TaskState.TASK_STATE_CANCELED
        fetched = await agent.get_task(GetTaskRequest(id=started.id))
        assert fetched.status.state == TaskState.TASK_STATE_CANCELED
        with pytest.raises(TaskNotCancelableError):
            await agent.cancel_task(CancelTaskRequest(id=started.id))
        # The model never answered: the run was stopped, not finished.
        assert not gated.prompts


async def test_a_client_can_follow_a_working_task_again(
    settings: Settings, make_app: MakeApp, gated: GatedChatModel
) -> None:
    # Over a real socket: httpx's ASGI transport hands a stream over only once it ends.
    async with (
        listening(make_app(settings, FakeModelProvider(gated))) as url,
        httpx.AsyncClient(timeout=30) as http,
    ):
        card = await A2ACardResolver(http, f"{url}/a2a/agent").get_agent_card()
        agent = ClientFactory(ClientConfig(httpx_client=http)).create(card)
        plain = ClientFactory(ClientConfig(httpx_client=http, streaming=False)).create(card)
        started = await send(plain, user_message("later"), return_immediately=True)
        events: list[StreamResponse] = []
        following = asyncio.Event()

        async def follow() -> None:
            async for event in agent.subscribe(SubscribeToTaskRequest(id=started.id)):
                events.append(event)
                following.set()

        follower = asyncio.create_task(follow())
        await asyncio.wait_for(following.wait(), 10)
        assert events[0].task.id == started.id
        assert events[0].task.status.state == WORKING
        gated.gate.set()
        await asyncio.wait_for(follower, 10)
        final = events[-1].status_update
        assert final.status.state == COMPLETED
        assert text_of(final.status.message) == "echo: later"
        # A task that has ended has nothing more to follow.
        with pytest.raises(UnsupportedOperationError):
            await events_of_subscription(agent, started.id)


@asynccontextmanager
async def listening(app: Litestar) -> AsyncIterator[str]:
    """The app served by uvicorn on a free local port, in this event loop; its URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        assert not serving.done(), "the server stopped before it started"
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving


async def events_of_subscription(client: Client, task_id: str) -> list[StreamResponse]:
    return [event async for event in client.subscribe(SubscribeToTaskRequest(id=task_id))]


async def test_list_tasks_pages_through_the_callers_tasks(client: httpx.AsyncClient) -> None:
    agent = await agent_client(client)
    first = await send(agent, user_message("first"))
    second = await send(agent, user_message("second", context_id=first.context_id))
    elsewhere = await send(agent, user_message("elsewhere"))
    listed = await agent.list_tasks(ListTasksRequest())
    assert [task.id for task in listed.tasks][:3] == [elsewhere.id, second.id, first.id]
    assert listed.total_size >= 3
    assert not any(task.artifacts for task in listed.tasks)

    in_context = await agent.list_tasks(
        ListTasksRequest(context_id=first.context_id, include_artifacts=True, history_length=0)
    )
    assert [task.id for task in in_context.tasks] == [second.id, first.id]
    assert in_context.total_size == 2
    assert text_of(in_context.tasks[0].artifacts[0]) == "echo: second"
    assert not in_context.tasks[0].history
    page = await agent.list_tasks(ListTasksRequest(context_id=first.context_id, page_size=1))
    assert [task.id for task in page.tasks] == [second.id]
    rest = await agent.list_tasks(
        ListTasksRequest(context_id=first.context_id, page_size=1, page_token=page.next_page_token)
    )
    assert [task.id for task in rest.tasks] == [first.id]
    assert rest.next_page_token == ""
    none_working = await agent.list_tasks(ListTasksRequest(status=WORKING))
    assert not [t for t in none_working.tasks if t.id in (first.id, second.id, elsewhere.id)]


# Raw JSON-RPC: the 0.3 slash names, and errors


async def test_the_slash_names_answer_in_the_0_3_shapes(client: httpx.AsyncClient) -> None:
    message = {"kind": "message", "messageId": str(uuid.uuid4()), "role": "user",
               "parts": [{"kind": "text", "text": "old style"}]}  # fmt: skip
    sent = (await rpc(client, "message/send", {"message": message}))["result"]
    assert sent["kind"] == "task"
    assert sent["status"]["state"] == "completed"
    assert sent["status"]["message"]["role"] == "agent"
    assert sent["status"]["message"]["parts"] == [{"kind": "text", "text": "echo: old style"}]
    assert sent["artifacts"][0]["parts"][0]["text"] == "echo: old style"
    got = (await rpc(client, "tasks/get", {"id": sent["id"], "historyLength": 1}))["result"]
    assert got["id"] == sent["id"]
    assert got["status"]["state"] == "completed"
    assert len(got["history"]) == 1
    refused = await rpc(client, "tasks/cancel", {"id": sent["id"]})
    assert refused["error"]["code"] == -32002
    assert refused["id"] == 7

    streamed = await client.post(
        "/a2a/agent",
        json={"jsonrpc": "2.0", "id": "s", "method": "message/stream",
              "params": {"message": {**message, "messageId": str(uuid.uuid4())}}},
    )  # fmt: skip
    assert streamed.headers["content-type"].startswith("text/event-stream")
    events = [
        json.loads(line.removeprefix("data: "))
        for line in streamed.text.splitlines()
        if line.startswith("data: ")
    ]
    assert all(event["id"] == "s" for event in events)
    results = [event["result"] for event in events]
    assert results[0]["kind"] == "task"
    assert results[1]["kind"] == "status-update"
    assert results[1]["status"]["state"] == "working"
    assert results[-1]["kind"] == "status-update"
    assert results[-1]["status"]["state"] == "completed"
    assert results[-1]["final"] is True
    assert not any(result.get("final") for result in results[:-1])


async def test_an_unknown_method_is_method_not_found(client: httpx.AsyncClient) -> None:
    for method in ("DoSomething", "tasks/list", "message/sendd"):
        answer = await rpc(client, method, {})
        assert answer["error"]["code"] == -32601, method
        assert answer["id"] == 7


async def test_bad_params_are_invalid_params_and_start_nothing(
    client: httpx.AsyncClient,
) -> None:
    cases = [
        ("SendMessage", {}),  # no message
        ("SendMessage", {"message": {"role": "ROLE_USER", "parts": [{"text": "x"}]}}),  # no id
        ("SendMessage", {"message": raw_message("x", contextId="not-a-uuid")}),
        ("SendMessage", {"message": {**raw_message("x"), "parts": [{"data": [1, 2]}]}}),
        ("SendMessage", {"message": raw_message("x", role="ROLE_AGENT")}),
        ("SendMessage", {"message": raw_message("x"), "configuration": {"historyLength": -1}}),
        ("SendMessage", {"message": {"messageId": "m", "role": "ROLE_USER", "parts": "text"}}),
        ("GetTask", {}),
        ("GetTask", {"id": 12}),
        ("GetTask", {"id": "a:b", "historyLength": -2}),
        ("ListTasks", {"pageSize": 1000}),
        ("ListTasks", {"pageToken": "next please"}),
        ("ListTasks", {"contextId": "nope"}),
        ("message/send", {"message": {"parts": []}}),
        ("tasks/get", {"id": ["x"]}),
    ]
    before = (await rpc(client, "ListTasks", {}))["result"]["totalSize"]
    for method, params in cases:
        answer = await rpc(client, method, params)
        assert answer["error"]["code"] == -32602, (method, params, answer)
    assert (await rpc(client, "ListTasks", {}))["result"]["totalSize"] == before


async def test_content_the_agent_cannot_take_is_refused(client: httpx.AsyncClient) -> None:
    file_part = {**raw_message("x"), "parts": [{"url": "https://example.com/a.png"}]}
    answer = await rpc(client, "SendMessage", {"message": file_part})
    assert answer["error"]["code"] == -32005
    modes = {"acceptedOutputModes": ["image/png"]}
    answer = await rpc(client, "SendMessage", {"message": raw_message("x"),
                                               "configuration": modes})  # fmt: skip
    assert answer["error"]["code"] == -32005


async def test_an_unknown_task_is_task_not_found(client: httpx.AsyncClient) -> None:
    unknown = f"{uuid.uuid4()}:{uuid.uuid4()}"
    for method, params in [
        ("GetTask", {"id": unknown}),
        ("GetTask", {"id": "no-such-task"}),
        ("CancelTask", {"id": unknown}),
        ("SubscribeToTask", {"id": unknown}),
        ("tasks/get", {"id": unknown}),
        ("SendMessage", {"message": raw_message("x", taskId=unknown)}),
    ]:
        answer = await rpc(client, method, params)
        assert answer["error"]["code"] == -32001, (method, answer)


async def test_push_notifications_and_the_extended_card_are_not_supported(
    client: httpx.AsyncClient,
) -> None:
    for method in ("CreateTaskPushNotificationConfig", "GetTaskPushNotificationConfig",
                   "ListTaskPushNotificationConfigs", "DeleteTaskPushNotificationConfig",
                   "tasks/pushNotificationConfig/set"):  # fmt: skip
        assert (await rpc(client, method, {}))["error"]["code"] == -32003, method
    config = {"taskPushNotificationConfig": {"url": "https://example.com/hook"}}
    answer = await rpc(client, "SendMessage", {"message": raw_message("x"),
                                               "configuration": config})  # fmt: skip
    assert answer["error"]["code"] == -32003
    assert (await rpc(client, "GetExtendedAgentCard", {}))["error"]["code"] == -32007


async def test_a_body_that_is_no_request_is_a_json_rpc_error(client: httpx.AsyncClient) -> None:
    not_json = await client.post(
        "/a2a/agent", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 200
    assert not_json.json()["error"]["code"] == -32700
    for body in (
        [{"jsonrpc": "2.0", "id": 1, "method": "GetTask"}],
        {"jsonrpc": "1.0", "id": 1, "method": "GetTask"},
        {"jsonrpc": "2.0", "method": "GetTask"},
        {"jsonrpc": "2.0", "id": True, "method": "GetTask"},
        {"jsonrpc": "2.0", "id": 1},
    ):
        answer = (await client.post("/a2a/agent", json=body)).json()
        assert answer["error"]["code"] == -32600, body
    body = {"jsonrpc": "2.0", "id": 3, "method": "GetTask", "params": [1]}
    params = (await client.post("/a2a/agent", json=body)).json()
    assert params["error"]["code"] == -32602
    assert params["id"] == 3
    body = {"jsonrpc": "2.0", "id": 4, "method": "GetTask", "params": {"id": "x"}}
    later = await client.post("/a2a/agent", json=body, headers={"A2A-Version": "2.0"})
    assert later.json()["error"]["code"] == -32009


# Authentication and ownership

ALICE, BOB = {"x-user": "alice"}, {"x-user": "bob"}


async def test_a2a_needs_credentials_and_keeps_each_users_tasks_apart(
    graphs_settings: Settings, serving: Serving
) -> None:
    async with serving(graphs_settings, HeaderAuthProvider()) as http:
        assert (await http.get("/a2a/agent/.well-known/agent-card.json")).status_code == 401
        assert (
            await http.get("/.well-known/agent-card.json?assistant_id=agent")
        ).status_code == 401
        anonymous = await http.post(
            "/a2a/agent", json={"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {}}
        )
        assert anonymous.status_code == 401

        http.headers.update(ALICE)
        alice = await agent_client(http, "hitl")
        asked = await send(alice, user_message("alice's secret"))
        assert asked.status.state == INPUT_REQUIRED
        http.headers.pop("x-user")

        task = {"id": asked.id}
        for method, params in [
            ("GetTask", task),
            ("CancelTask", task),
            ("SubscribeToTask", task),
            ("SendMessage", {"message": raw_message("mine now", taskId=asked.id)}),
            ("SendMessage", {"message": raw_message("mine now", contextId=asked.context_id)}),
        ]:
            answer = await rpc(http, method, params, assistant="hitl", headers=BOB)
            assert answer["error"]["code"] == -32001, (method, answer)
        listed = await rpc(http, "ListTasks", {}, assistant="hitl", headers=BOB)
        assert listed["result"]["tasks"] == []
        in_context = await rpc(http, "ListTasks", {"contextId": asked.context_id},
                               assistant="hitl", headers=BOB)  # fmt: skip
        assert in_context["result"]["tasks"] == []

        # Alice's task is as she left it, and still hers to answer.
        http.headers.update(ALICE)
        mine = await alice.get_task(GetTaskRequest(id=asked.id))
        assert mine.status.state == INPUT_REQUIRED
        assert [text_of(m) for m in mine.history] == ["alice's secret"]
        done = await send(alice, user_message("approved", context_id=asked.context_id))
        assert done.status.state == COMPLETED
        listed = await alice.list_tasks(ListTasksRequest())
        assert [t.id for t in listed.tasks] == [asked.id]


async def test_another_users_assistant_is_not_found(settings: Settings, serving: Serving) -> None:
    async with serving(settings, HeaderAuthProvider()) as http:
        made = await http.post(
            "/assistants", json={"graph_id": "agent", "name": "alice's"}, headers=ALICE
        )
        assistant_id = made.json()["assistant_id"]
        card = await http.get(f"/a2a/{assistant_id}", headers=ALICE)
        assert card.status_code == 200
        assert card.json()["name"] == "alice's"
        assert (await http.get(f"/a2a/{assistant_id}", headers=BOB)).status_code == 404
        body = {"jsonrpc": "2.0", "id": 1, "method": "SendMessage",
                "params": {"message": raw_message("hi")}}  # fmt: skip
        assert (await http.post(f"/a2a/{assistant_id}", json=body, headers=BOB)).status_code == 404
        answer = (await http.post(f"/a2a/{assistant_id}", json=body, headers=ALICE)).json()
        assert answer["result"]["task"]["status"]["state"] == "TASK_STATE_COMPLETED"


# The switch


async def test_disable_a2a_leaves_the_endpoint_out(settings: Settings, make_app: MakeApp) -> None:
    off = msgspec.structs.replace(settings, http=HttpSettings(disable_a2a=True))
    async with asgi_client(make_app(off)) as http:
        for path in ("/a2a/agent", "/a2a/agent/.well-known/agent-card.json",
                     "/.well-known/agent-card.json?assistant_id=agent"):  # fmt: skip
            assert (await http.get(path)).status_code == 404, path
        body = {"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": "x"}}
        assert (await http.post("/a2a/agent", json=body)).status_code == 404
        assert (await http.get("/ok")).status_code == 200


def test_disable_a2a_is_set_by_the_environment_and_by_langgraph_json(tmp_path: Path) -> None:
    assert load_settings(env={"LANGSTAR_HTTP__DISABLE_A2A": "true"}).http.disable_a2a
    assert not load_settings(env={}).http.disable_a2a
    project = tmp_path / "langgraph.json"
    project.write_text(json.dumps({"graphs": {"agent": "langstar.agents.chat:graph"},
                                   "http": {"disable_a2a": True}}))  # fmt: skip
    assert apply_project(Settings(graphs_from=str(project))).http.disable_a2a
