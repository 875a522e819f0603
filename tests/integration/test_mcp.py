"""`/mcp`: each assistant a caller may use is an MCP tool, called as a stateless run.

Through the official `mcp` client where it can say it, raw HTTP for what the transport
must refuse or answer itself.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import msgspec
import pytest
from litestar import Litestar
from mcp.shared.exceptions import MCPError
from mcp.types import PaginatedRequestParams
from mcp_types import INVALID_PARAMS, METHOD_NOT_FOUND
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, LATEST_HANDSHAKE_VERSION

from langstar.mcp.tools import USER_MESSAGE
from langstar.settings import HttpSettings, Settings, load_settings
from tests.support.apps import MakeApp
from tests.support.asgi import asgi_client
from tests.support.auth import HeaderAuthProvider
from tests.support.graphs import TEST_GRAPHS
from tests.support.mcp import ACCEPT, mcp_client, mcp_session, rpc

AS_TEXT = {"type": "string", "title": "Messages", "description": USER_MESSAGE}


def with_graphs(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, graphs=TEST_GRAPHS)


async def post(client: httpx.AsyncClient, body: Any, **headers: str) -> httpx.Response:
    """POST a message as the official client does."""
    return await client.post("/mcp", json=body, headers={**ACCEPT, **headers})


# The official client


async def test_the_official_client_sees_each_assistant_as_a_tool(
    graphs_app: Litestar, graphs_client: httpx.AsyncClient
) -> None:
    async with mcp_session(graphs_app) as session:
        started = session.initialize_result
        assert started is not None
        assert started.protocol_version == LATEST_HANDSHAKE_VERSION
        assert started.server_info.name == "langstar"
        assert started.server_info.version
        assert started.capabilities.tools is not None
        assert started.capabilities.tools.list_changed is False
        await session.send_ping()
        listed = await session.list_tools()
    tools = {tool.name: tool for tool in listed.tools}
    assert set(TEST_GRAPHS) <= set(tools)
    assert listed.next_cursor is None
    agent = tools["agent"]
    assert (agent.title, agent.description) == ("agent", "Tool based on the agent assistant")
    # A list of LangChain messages is one string argument, the user's message.
    assert agent.input_schema["type"] == "object"
    assert agent.input_schema["properties"] == {"messages": AS_TEXT}
    assert agent.input_schema["required"] == ["messages"]
    assert "$defs" not in agent.input_schema
    schemas = (await graphs_client.get("/assistants/agent/schemas")).json()
    assert schemas["input_schema"]["properties"]["messages"]["type"] == "array"


async def test_an_assistant_whose_input_has_no_schema_is_left_out(
    settings: Settings, make_app: MakeApp
) -> None:
    graphs = {"agent": TEST_GRAPHS["agent"], "opaque": "tests.support.graphs:opaque"}
    app = make_app(msgspec.structs.replace(settings, graphs=graphs))
    async with asgi_client(app) as client:
        schemas = (await client.get("/assistants/opaque/schemas")).json()
        assert schemas["input_schema"] is None
        async with mcp_session(app) as session:
            names = {tool.name for tool in (await session.list_tools()).tools}
    assert "agent" in names
    assert "opaque" not in names


async def test_a_call_runs_the_assistant_and_answers_its_output_as_json(
    graphs_app: Litestar, graphs_client: httpx.AsyncClient
) -> None:
    async with mcp_session(graphs_app) as session:
        result = await session.call_tool("agent", {"messages": "My name is Ada."})
    assert not result.is_error
    [content] = result.content
    assert content.type == "text"
    output = json.loads(content.text)  # JSON, not a Python repr
    human, ai = output["messages"]
    assert (human["type"], human["content"]) == ("human", "My name is Ada.")
    assert (ai["type"], ai["content"]) == ("ai", "echo: My name is Ada.")


async def test_messages_may_also_be_given_as_a_list(
    graphs_app: Litestar, graphs_client: httpx.AsyncClient
) -> None:
    said = [{"role": "user", "content": "first"}, {"role": "user", "content": "second"}]
    async with mcp_session(graphs_app) as session:
        result = await session.call_tool("agent", {"messages": said})
    output = json.loads(result.content[0].text)
    assert output["messages"][-1]["content"] == "echo: second"


async def test_a_run_longer_than_a_heartbeat_answers_whole(
    settings: Settings, make_app: MakeApp
) -> None:
    runs = msgspec.structs.replace(settings.runs, heartbeat_seconds=0.1)
    app = make_app(msgspec.structs.replace(with_graphs(settings), runs=runs))
    async with asgi_client(app), mcp_session(app) as session:
        result = await session.call_tool("slow", {"messages": "nap"})  # sleeps 0.5 s
    assert json.loads(result.content[0].text)["messages"][-1]["content"] == "slept 0.5"


async def test_a_failing_run_is_a_tool_error_naming_the_failure(
    graphs_app: Litestar, graphs_client: httpx.AsyncClient
) -> None:
    async with mcp_session(graphs_app) as session:
        result = await session.call_tool("failing", {"messages": "go"})
    assert result.is_error
    assert result.content[0].text == "ValueError: this graph always fails"


async def test_an_unknown_tool_is_an_invalid_params_error(
    graphs_app: Litestar, graphs_client: httpx.AsyncClient
) -> None:
    async with mcp_session(graphs_app) as session:
        with pytest.raises(MCPError) as raised:
            await session.call_tool("no_such_assistant", {"messages": "hi"})
    assert raised.value.error.code == INVALID_PARAMS
    assert "no_such_assistant" in raised.value.error.message


async def test_the_default_client_probes_for_a_newer_protocol_then_shakes_hands(
    graphs_app: Litestar, graphs_client: httpx.AsyncClient
) -> None:
    async with mcp_client(graphs_app) as client:
        assert "agent" in {tool.name for tool in (await client.list_tools()).tools}
        result = await client.call_tool("agent", {"messages": "hello"})
    assert json.loads(result.content[0].text)["messages"][-1]["content"] == "echo: hello"


async def test_named_assistants_are_tools_by_their_names_and_the_newest_of_a_name_wins(
    settings: Settings, make_app: MakeApp
) -> None:
    user = {"x-user": f"mcp-{uuid.uuid4()}"}
    app = make_app(with_graphs(settings), HeaderAuthProvider())
    async with asgi_client(app) as client:
        made = {"graph_id": "agent", "name": "Ada's  helper!", "description": "Remembers Ada."}
        assert (await client.post("/assistants", json=made, headers=user)).status_code == 200
        for graph in ("hitl", "branching"):  # the same name twice: the newer one is the tool
            twin = {"graph_id": graph, "name": "twin"}
            assert (await client.post("/assistants", json=twin, headers=user)).status_code == 200
        async with mcp_session(app, headers=user) as session:
            tools = {tool.name: tool for tool in (await session.list_tools()).tools}
            called = await session.call_tool("twin", {"messages": "which?"})
    helper = tools["Adas_helper"]
    assert (helper.title, helper.description) == ("Ada's  helper!", "Remembers Ada.")
    assert helper.input_schema["properties"] == {"messages": AS_TEXT}
    assert [name for name in tools if name == "twin"] == ["twin"]
    assert json.loads(called.content[0].text)["messages"][-1]["content"] == "routed"


async def test_tools_come_in_pages_with_a_cursor(settings: Settings, make_app: MakeApp) -> None:
    user = {"x-user": f"mcp-{uuid.uuid4()}"}
    app = make_app(settings, HeaderAuthProvider())
    async with asgi_client(app) as client:
        for n in range(105):
            body = {"graph_id": "agent", "name": f"helper {n:03}"}
            assert (await client.post("/assistants", json=body, headers=user)).status_code == 200
        async with mcp_session(app, headers=user) as session:
            first = await session.list_tools()
            assert first.next_cursor is not None
            second = await session.list_tools(
                params=PaginatedRequestParams(cursor=first.next_cursor)
            )
            with pytest.raises(MCPError) as raised:
                await session.list_tools(params=PaginatedRequestParams(cursor="not-a-cursor"))
    assert raised.value.error.code == INVALID_PARAMS
    assert len(first.tools) == 100
    assert second.next_cursor is None
    names = [tool.name for tool in first.tools + second.tools]
    assert len(names) == len(set(names)) == 106  # the 105, and the built-in agent
    assert names[0] == "helper_104"  # newest first


# Raw HTTP: what the transport answers itself


async def test_a_request_answers_json_and_needs_no_session(client: httpx.AsyncClient) -> None:
    params = {"protocolVersion": "2025-06-18", "capabilities": {},
              "clientInfo": {"name": "raw", "version": "1"}}  # fmt: skip
    started = await post(client, rpc("initialize", params))
    assert started.status_code == 200
    assert started.headers["content-type"].startswith("application/json")
    assert "mcp-session-id" not in started.headers
    body = started.json()
    assert (body["jsonrpc"], body["id"]) == ("2.0", 1)
    assert body["result"]["protocolVersion"] == "2025-06-18"  # the client's, when we speak it
    assert body["result"]["capabilities"] == {"tools": {"listChanged": False}}
    assert body["result"]["serverInfo"]["name"] == "langstar"
    # Any later request stands alone: no initialize before it, no session id with it.
    listed = await post(client, rpc("tools/list", id=7), **{"mcp-protocol-version": "2025-06-18"})
    assert listed.status_code == 200
    assert listed.json()["id"] == 7
    assert "agent" in {tool["name"] for tool in listed.json()["result"]["tools"]}
    pinged = await post(client, rpc("ping", id="p"))
    assert pinged.json() == {"jsonrpc": "2.0", "id": "p", "result": {}}


async def test_an_unknown_protocol_version_is_answered_with_ours(client: httpx.AsyncClient) -> None:
    params = {"protocolVersion": "1999-01-01", "capabilities": {},
              "clientInfo": {"name": "raw", "version": "1"}}  # fmt: skip
    started = await post(client, rpc("initialize", params))
    assert started.json()["result"]["protocolVersion"] == LATEST_HANDSHAKE_VERSION
    refused = await post(client, rpc("tools/list"), **{"mcp-protocol-version": "2099-01-01"})
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == -32022
    assert error["data"] == {
        "supported": list(HANDSHAKE_PROTOCOL_VERSIONS),
        "requested": "2099-01-01",
    }


@pytest.mark.parametrize("accept", ["", "text/html", "text/event-stream"])
async def test_a_client_that_does_not_accept_json_is_refused(
    client: httpx.AsyncClient, accept: str
) -> None:
    response = await client.post("/mcp", json=rpc("ping"), headers={"accept": accept})
    assert response.status_code == 406
    assert response.json()["error"]["code"] == -32600


@pytest.mark.parametrize(
    "accept", ["application/json", "*/*", "application/json;q=0.9, text/event-stream"]
)
async def test_json_accepted_is_enough(client: httpx.AsyncClient, accept: str) -> None:
    response = await client.post("/mcp", json=rpc("ping"), headers={"accept": accept})
    assert response.status_code == 200


async def test_a_body_that_is_not_json_is_a_parse_error(client: httpx.AsyncClient) -> None:
    headers = {**ACCEPT, "content-type": "application/json"}
    response = await client.post("/mcp", content=b'{"jsonrpc": "2.0", "id": 1,', headers=headers)
    assert response.status_code == 400
    body = response.json()
    assert (body["jsonrpc"], body["id"], body["error"]["code"]) == ("2.0", None, -32700)


async def test_a_body_must_be_sent_as_json(client: httpx.AsyncClient) -> None:
    headers = {**ACCEPT, "content-type": "text/plain"}
    response = await client.post(
        "/mcp", content=b'{"jsonrpc": "2.0", "method": "x"}', headers=headers
    )
    assert response.status_code == 415


@pytest.mark.parametrize(
    "body", [{"hello": "world"}, [{"jsonrpc": "2.0", "id": 1, "method": "ping"}], 3]
)
async def test_what_is_not_one_json_rpc_message_is_an_invalid_request(
    client: httpx.AsyncClient, body: Any
) -> None:
    response = await post(client, body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == -32600


async def test_notifications_and_responses_are_accepted_with_202(client: httpx.AsyncClient) -> None:
    initialized = await post(client, rpc("notifications/initialized", id=None))
    assert (initialized.status_code, initialized.content) == (202, b"")
    cancelled = await post(client, rpc("notifications/cancelled", {"requestId": 1}, id=None))
    assert cancelled.status_code == 202
    answer = await post(client, {"jsonrpc": "2.0", "id": 5, "result": {}})
    assert answer.status_code == 202


async def test_other_methods_are_not_found(client: httpx.AsyncClient) -> None:
    for method in ("resources/list", "prompts/list", "bogus/method", "server/discover"):
        response = await post(client, rpc(method, id=3))
        assert response.status_code == 200
        assert response.json()["id"] == 3
        assert response.json()["error"]["code"] == METHOD_NOT_FOUND, method


async def test_bad_call_params_are_invalid_params(client: httpx.AsyncClient) -> None:
    for params in ({"name": "agent", "arguments": "hi"}, {"arguments": {}}, {"name": "nope"}):
        response = await post(client, rpc("tools/call", params))
        assert response.status_code == 200
        assert response.json()["error"]["code"] == INVALID_PARAMS, params


async def test_there_is_no_stream_to_open_and_no_session_to_end(client: httpx.AsyncClient) -> None:
    for method in ("GET", "DELETE"):
        response = await client.request(method, "/mcp", headers={"accept": "text/event-stream"})
        assert response.status_code == 405
        assert response.headers["allow"] == "POST"


async def test_a_page_from_an_origin_cors_does_not_allow_is_refused(
    settings: Settings, make_app: MakeApp
) -> None:
    app = make_app(msgspec.structs.replace(
        settings, http=HttpSettings(cors_allow_origins=["https://ui.example.com"])))  # fmt: skip
    async with asgi_client(app) as client:
        evil = await post(client, rpc("ping"), origin="http://rebound.example:8123")
        assert evil.status_code == 403
        allowed = await post(client, rpc("ping"), origin="https://ui.example.com")
        assert allowed.status_code == 200
        own = await post(client, rpc("ping"), origin="http://langstar.test")
        assert own.status_code == 200


# Switches, prefix, authentication


async def test_disable_mcp_leaves_the_route_out(settings: Settings, make_app: MakeApp) -> None:
    app = make_app(msgspec.structs.replace(settings, http=HttpSettings(disable_mcp=True)))
    async with asgi_client(app) as client:
        assert (await post(client, rpc("ping"))).status_code == 404
        assert (await client.post("/threads", json={})).status_code == 200
    assert load_settings(env={"LANGSTAR_HTTP__DISABLE_MCP": "true"}).http.disable_mcp


async def test_mcp_answers_under_the_mount_prefix(settings: Settings, make_app: MakeApp) -> None:
    app = make_app(msgspec.structs.replace(settings, http=HttpSettings(mount_prefix="/my-api")))
    async with asgi_client(app) as client:
        assert (await post(client, rpc("ping"))).status_code == 404
        async with mcp_session(app, path="/my-api/mcp") as session:
            result = await session.call_tool("agent", {"messages": "under a prefix"})
    assert json.loads(result.content[0].text)["messages"][-1]["content"] == "echo: under a prefix"


async def test_a_caller_sees_and_calls_only_the_assistants_it_may_use(
    settings: Settings, make_app: MakeApp
) -> None:
    alice, bob = ({"x-user": f"{name}-{uuid.uuid4()}"} for name in ("alice", "bob"))
    app = make_app(with_graphs(settings), HeaderAuthProvider())
    async with asgi_client(app) as client:
        assert (await post(client, rpc("tools/list"))).status_code == 401
        assert (await post(client, rpc("ping"))).status_code == 401
        secret = {"graph_id": "branching", "name": "bobs secret", "description": "Bob's own."}
        assert (await client.post("/assistants", json=secret, headers=bob)).status_code == 200
        async with mcp_session(app, headers=bob) as session:
            assert "bobs_secret" in {t.name for t in (await session.list_tools()).tools}
            mine = await session.call_tool("bobs_secret", {"messages": "mine"})
        assert json.loads(mine.content[0].text)["messages"][-1]["content"] == "routed"
        async with mcp_session(app, headers=alice) as session:
            seen = {t.name for t in (await session.list_tools()).tools}
            assert "bobs_secret" not in seen
            assert "agent" in seen  # the default assistants are everyone's
            with pytest.raises(MCPError) as raised:
                await session.call_tool("bobs_secret", {"messages": "let me in"})
        assert raised.value.error.code == INVALID_PARAMS
        assert "routed" not in raised.value.error.message
