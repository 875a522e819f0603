"""Threads, runs/wait and state over HTTP, bad input included."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import psycopg
import pytest

from langstar.graphs.registry import default_assistant_id
from langstar.settings import Settings

Client = httpx.AsyncClient


def say(text: str, **extra: Any) -> dict[str, Any]:
    return {
        "assistant_id": "agent",
        "input": {"messages": [{"role": "user", "content": text}]},
        **extra,
    }


def count_threads(settings: Settings) -> int:
    with psycopg.connect(settings.database.url) as conn:
        row = conn.execute("SELECT count(*) FROM threads").fetchone()
        assert row is not None
        return int(row[0])


async def new_thread(client: Client) -> str:
    response = await client.post("/threads", json={})
    assert response.status_code == 200, response.text
    return str(response.json()["thread_id"])


async def test_created_thread_is_idle_and_can_be_read_back(client: Client) -> None:
    response = await client.post("/threads", json={"metadata": {"team": "blue"}})
    assert response.status_code == 200
    thread = response.json()
    assert thread["status"] == "idle"
    assert thread["metadata"] == {"team": "blue"}
    assert set(thread) >= {"thread_id", "created_at", "updated_at", "values", "interrupts"}
    fetched = await client.get(f"/threads/{thread['thread_id']}")
    assert fetched.status_code == 200
    assert fetched.json()["thread_id"] == thread["thread_id"]


async def test_creating_an_existing_thread_is_409_unless_do_nothing(client: Client) -> None:
    thread_id = str(uuid.uuid4())
    assert (await client.post("/threads", json={"thread_id": thread_id})).status_code == 200
    again = await client.post("/threads", json={"thread_id": thread_id})
    assert again.status_code == 409
    assert "detail" in again.json()
    kept = await client.post("/threads", json={"thread_id": thread_id, "if_exists": "do_nothing"})
    assert kept.status_code == 200
    assert kept.json()["thread_id"] == thread_id


async def test_wait_returns_final_values_and_state_keeps_them(client: Client) -> None:
    thread_id = await new_thread(client)
    response = await client.post(f"/threads/{thread_id}/runs/wait", json=say("hello there"))
    assert response.status_code == 200, response.text
    messages = response.json()["messages"]
    assert [m["type"] for m in messages] == ["human", "ai"]
    assert messages[1]["content"] == "echo: hello there"

    state = (await client.get(f"/threads/{thread_id}/state")).json()
    assert [m["content"] for m in state["values"]["messages"]] == [
        "hello there",
        "echo: hello there",
    ]
    assert state["next"] == []
    assert state["checkpoint"]["thread_id"] == thread_id
    assert state["checkpoint"]["checkpoint_id"]
    assert state["metadata"]["graph_id"] == "agent"

    thread = (await client.get(f"/threads/{thread_id}")).json()
    assert thread["status"] == "idle"
    assert thread["metadata"]["graph_id"] == "agent"
    assert thread["values"]["messages"][1]["content"] == "echo: hello there"


async def test_assistant_may_be_named_by_its_default_id(client: Client) -> None:
    thread_id = await new_thread(client)
    body = say("hi") | {"assistant_id": str(default_assistant_id("agent"))}
    response = await client.post(f"/threads/{thread_id}/runs/wait", json=body)
    assert response.status_code == 200, response.text


async def test_if_not_exists_create_makes_the_thread(client: Client) -> None:
    thread_id = str(uuid.uuid4())
    response = await client.post(
        f"/threads/{thread_id}/runs/wait", json=say("hi", if_not_exists="create")
    )
    assert response.status_code == 200, response.text
    assert (await client.get(f"/threads/{thread_id}")).json()["status"] == "idle"


@pytest.mark.parametrize(
    ("body", "status", "mentions"),
    [
        pytest.param(b"{not json", 422, "Invalid JSON", id="malformed-json"),
        pytest.param({"metadata": "not a dict"}, 422, "metadata", id="wrong-type"),
        pytest.param({"thread_id": "not-a-uuid"}, 422, "thread_id", id="bad-uuid"),
        pytest.param({"ttl": {"ttl": 0}}, 422, "ttl", id="ttl"),
        pytest.param({"supersteps": []}, 422, "supersteps", id="supersteps"),
    ],
)
async def test_bad_thread_bodies_are_refused_and_write_nothing(
    client: Client, settings: Settings, body: Any, status: int, mentions: str
) -> None:
    before = count_threads(settings)
    if isinstance(body, bytes):
        response = await client.post(
            "/threads", content=body, headers={"content-type": "application/json"}
        )
    else:
        response = await client.post("/threads", json=body)
    assert response.status_code == status, response.text
    assert mentions in response.json()["detail"]
    assert count_threads(settings) == before


@pytest.mark.parametrize(
    ("body", "status", "mentions"),
    [
        pytest.param(say("x") | {"assistant_id": "nope"}, 404, "nope", id="unknown-assistant"),
        pytest.param(
            say("x", webhook="http://10.0.0.1/hook"), 422, "webhook", id="private-webhook"
        ),
        pytest.param(say("x", feedback_keys=["score"]), 422, "feedback_keys", id="feedback"),
        pytest.param(say("x", stream_mode="nonsense"), 422, "stream_mode", id="bad-stream-mode"),
        pytest.param(
            say("x", config={"configurable": {"thread_id": str(uuid.uuid4())}}),
            422,
            "thread_id",
            id="foreign-thread-id",
        ),
        pytest.param(
            say("x", config={"configurable": {"__pregel_x": 1}}), 422, "__pregel_x", id="dunder"
        ),
        pytest.param(
            say("x", config={"configurable": {"model": "big"}}), 422, "model", id="undeclared"
        ),
        pytest.param(say("x", config={"recursion_limit": 10**6}), 422, "recursion_limit", id="cap"),
        pytest.param(say("x", config={"callbacks": []}), 422, "callbacks", id="config-key"),
    ],
)
async def test_bad_runs_are_refused_and_write_nothing(
    client: Client, body: dict[str, Any], status: int, mentions: str
) -> None:
    thread_id = await new_thread(client)
    response = await client.post(f"/threads/{thread_id}/runs/wait", json=body)
    assert response.status_code == status, response.text
    assert mentions in response.json()["detail"]
    state = (await client.get(f"/threads/{thread_id}/state")).json()
    assert state["values"] == {}
    assert (await client.get(f"/threads/{thread_id}")).json()["status"] == "idle"


async def test_sdk_defaults_are_accepted(client: Client) -> None:
    thread_id = await new_thread(client)
    body = say(
        "hi",
        stream_subgraphs=False,
        stream_resumable=False,
        on_disconnect="continue",
        multitask_strategy="enqueue",
        langsmith_tracer={"project_name": "ignored"},
    )
    response = await client.post(f"/threads/{thread_id}/runs/wait", json=body)
    assert response.status_code == 200, response.text


async def test_unknown_and_malformed_thread_ids(client: Client) -> None:
    missing = str(uuid.uuid4())
    for path in (f"/threads/{missing}", f"/threads/{missing}/state"):
        response = await client.get(path)
        assert response.status_code == 404
        assert missing in response.json()["detail"]
    assert (await client.get("/threads/not-a-uuid")).status_code == 422
    run = await client.post(f"/threads/{missing}/runs/wait", json=say("hi"))
    assert run.status_code == 404


async def test_client_metadata_reaches_checkpoints_but_cannot_override_server_keys(
    client: Client,
) -> None:
    thread_id = await new_thread(client)
    body = say("hi", metadata={"source": "forged", "ticket": "T-1"})
    assert (await client.post(f"/threads/{thread_id}/runs/wait", json=body)).status_code == 200
    metadata = (await client.get(f"/threads/{thread_id}/state")).json()["metadata"]
    assert metadata["ticket"] == "T-1"
    assert metadata["source"] == "loop"
    assert metadata["graph_id"] == "agent"


async def test_graph_failure_answers_error_body_and_marks_thread(
    client: Client, chat_model: Any
) -> None:
    thread_id = await new_thread(client)

    def boom(messages: Any) -> str:
        raise RuntimeError("model exploded")

    object.__setattr__(chat_model, "_reply", boom)
    response = await client.post(f"/threads/{thread_id}/runs/wait", json=say("hi"))
    assert response.status_code == 200
    assert response.json()["__error__"] == {"error": "RuntimeError", "message": "model exploded"}
    thread = (await client.get(f"/threads/{thread_id}")).json()
    assert thread["status"] == "error"
    assert thread["error"]["message"] == "model exploded"


async def test_health_endpoints_and_openapi(client: Client) -> None:
    assert (await client.get("/ok")).json() == {"ok": True}
    assert (await client.get("/ready")).status_code == 200
    info = (await client.get("/info")).json()
    assert info["version"]
    schema = (await client.get("/openapi.json")).json()
    assert "/threads/{thread_id}/runs/wait" in schema["paths"]
    assert (await client.get("/docs")).status_code == 200


async def test_values_postgres_cannot_store_are_422(client: Client) -> None:
    response = await client.post("/threads", json={"metadata": {"bad": "nul\u0000byte"}})
    assert response.status_code == 422
    assert "cannot store" in response.json()["detail"]
