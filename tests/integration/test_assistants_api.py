"""Assistants: the default one per graph, user-made ones with config, versions, schemas."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from langstar.graphs.registry import default_assistant_id
from tests.support.fakes import RecordingChatModel

AGENT_ID = str(default_assistant_id("agent"))


async def test_each_graph_has_its_default_assistant(client: httpx.AsyncClient) -> None:
    by_id = await client.get(f"/assistants/{AGENT_ID}")
    assert by_id.status_code == 200
    assistant = by_id.json()
    assert assistant["graph_id"] == "agent"
    assert assistant["metadata"] == {"created_by": "system"}
    assert assistant["version"] == 1
    assert set(assistant) == {
        "assistant_id", "graph_id", "config", "context", "created_at", "updated_at",
        "metadata", "version", "name", "description",
    }  # fmt: skip
    by_name = await client.get("/assistants/agent")
    assert by_name.json()["assistant_id"] == AGENT_ID
    found = await client.post("/assistants/search", json={"graph_id": "agent", "limit": 100})
    assert AGENT_ID in [a["assistant_id"] for a in found.json()]
    refused = await client.patch(f"/assistants/{AGENT_ID}", json={"name": "mine"})
    assert refused.status_code == 409
    assert (await client.delete(f"/assistants/{AGENT_ID}")).status_code == 409


async def test_create_patch_versions_and_delete(client: httpx.AsyncClient) -> None:
    tag = uuid.uuid4().hex
    created = await client.post(
        "/assistants",
        json={"graph_id": "agent", "name": "helper", "metadata": {"tag": tag}},
    )
    assert created.status_code == 200, created.text
    assistant_id = created.json()["assistant_id"]
    assert created.json()["version"] == 1

    patched = await client.patch(
        f"/assistants/{assistant_id}", json={"name": "helper v2", "metadata": {"stage": "b"}}
    )
    assert patched.json()["version"] == 2
    assert patched.json()["metadata"] == {"tag": tag, "stage": "b"}
    versions = await client.post(f"/assistants/{assistant_id}/versions", json={})
    assert [v["version"] for v in versions.json()] == [2, 1]
    assert [v["name"] for v in versions.json()] == ["helper v2", "helper"]

    rolled_back = await client.post(f"/assistants/{assistant_id}/latest", params={"version": 1})
    assert rolled_back.json()["name"] == "helper"
    assert rolled_back.json()["version"] == 1

    assert (await client.post("/assistants/count", json={"metadata": {"tag": tag}})).json() == 1
    again = await client.post(
        "/assistants", json={"graph_id": "agent", "assistant_id": assistant_id}
    )
    assert again.status_code == 409
    kept = await client.post(
        "/assistants",
        json={"graph_id": "agent", "assistant_id": assistant_id, "if_exists": "do_nothing"},
    )
    assert kept.json()["name"] == "helper"
    assert (await client.delete(f"/assistants/{assistant_id}")).status_code == 204
    assert (await client.get(f"/assistants/{assistant_id}")).status_code == 404


async def test_a_run_uses_its_assistants_config(
    client: httpx.AsyncClient, chat_model: RecordingChatModel
) -> None:
    created = await client.post(
        "/assistants",
        json={"graph_id": "agent", "config": {"configurable": {"user_id": "assistant-user"}}},
    )
    assistant_id = created.json()["assistant_id"]
    thread = (await client.post("/threads", json={})).json()["thread_id"]
    body: dict[str, Any] = {
        "assistant_id": assistant_id,
        "input": {"messages": [{"role": "user", "content": "I am a pilot."}]},
    }
    assert (await client.post(f"/threads/{thread}/runs/wait", json=body)).status_code == 200
    stored = await client.post(
        "/store/items/search", json={"namespace_prefix": ["memories", "assistant-user"]}
    )
    assert [i["value"]["text"] for i in stored.json()["items"]] == ["I am a pilot."]
    state = (await client.get(f"/threads/{thread}/state")).json()
    assert state["metadata"]["assistant_id"] == assistant_id


async def test_bad_assistants_are_refused(client: httpx.AsyncClient) -> None:
    unknown_graph = await client.post("/assistants", json={"graph_id": "nope"})
    assert unknown_graph.status_code == 404
    forged = await client.post(
        "/assistants",
        json={"graph_id": "agent", "config": {"configurable": {"thread_id": "x"}}},
    )
    assert forged.status_code == 422
    assert (await client.get(f"/assistants/{uuid.uuid4()}")).status_code == 404
    assert (await client.get("/assistants/not-a-graph")).status_code == 404


async def test_graph_drawing_and_schemas(client: httpx.AsyncClient) -> None:
    drawing = (await client.get(f"/assistants/{AGENT_ID}/graph")).json()
    node_ids = {node["id"] for node in drawing["nodes"]}
    assert {"__start__", "remember", "respond", "__end__"} <= node_ids
    assert {"source": "remember", "target": "respond"} in [
        {"source": e["source"], "target": e["target"]} for e in drawing["edges"]
    ]
    xray = await client.get(f"/assistants/{AGENT_ID}/graph", params={"xray": "true"})
    assert xray.status_code == 200
    schemas = (await client.get("/assistants/agent/schemas")).json()
    assert schemas["graph_id"] == "agent"
    assert "messages" in schemas["state_schema"]["properties"]
    assert "messages" in schemas["input_schema"]["properties"]
