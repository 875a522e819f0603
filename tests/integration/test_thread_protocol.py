"""The streaming protocol's commands and subscriptions: bad input is refused, nothing written."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import psycopg


def say(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


async def command(
    client: httpx.AsyncClient, thread_id: str, method: str, params: Any, command_id: int = 1
) -> dict[str, Any]:
    response = await client.post(
        f"/threads/{thread_id}/commands",
        json={"id": command_id, "method": method, "params": params},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["id"] == command_id
    return body


async def test_malformed_commands_answer_400(graphs_client: httpx.AsyncClient) -> None:
    thread_id = str(uuid.uuid4())
    path = f"/threads/{thread_id}/commands"
    not_json = await graphs_client.post(
        path, content=b"{no", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 400
    for body in ({"method": "run.start"}, {"id": "1", "method": "run.start"}, {"id": 1}, [1]):
        response = await graphs_client.post(path, json=body)
        assert response.status_code == 400, body
        assert response.json()["error"] == "invalid_argument"
    bad_thread = await graphs_client.post("/threads/nope/commands", json={"id": 1, "method": "x"})
    assert bad_thread.status_code == 422


async def test_command_errors_name_the_problem_and_write_nothing(
    graphs_client: httpx.AsyncClient, migrated_url: str
) -> None:
    thread_id = str(uuid.uuid4())
    cases = [
        ("bogus", {}, "unknown_command"),
        ("run.start", {}, "invalid_argument"),
        ("run.start", {"assistant_id": "nope", "input": say("x")}, "invalid_argument"),
        ("run.start", {"assistant_id": "hitl", "webhook": "http://x"}, "invalid_argument"),
        ("run.start", {"assistant_id": "hitl", "multitaskStrategy": "later"}, "invalid_argument"),
        ("run.start", {"assistant_id": "hitl", "config": {"configurable": {"thread_id": "x"}}},
         "invalid_argument"),
        ("run.start", "not an object", "invalid_argument"),
        ("input.respond", {"interrupt_id": "nope", "response": 1}, "no_such_run"),
        ("input.respond", {"response": 1}, "invalid_argument"),
        ("agent.getTree", {}, "not_supported"),
    ]  # fmt: skip
    for method, params, code in cases:
        body = await command(graphs_client, thread_id, method, params)
        assert body["type"] == "error", (method, params)
        assert body["error"] == code, (method, params, body)
        assert body["message"]
    async with await psycopg.AsyncConnection.connect(migrated_url) as conn:
        cur = await conn.execute("SELECT count(*) FROM threads WHERE thread_id = %s", (thread_id,))
        row = await cur.fetchone()
    assert row is not None
    assert row[0] == 0


async def test_respond_to_an_unknown_interrupt_is_refused(
    graphs_client: httpx.AsyncClient,
) -> None:
    thread_id = str(uuid.uuid4())
    started = await command(
        graphs_client, thread_id, "run.start", {"assistant_id": "hitl", "input": say("q")}
    )
    assert started["type"] == "success"
    assert uuid.UUID(started["result"]["run_id"])
    await graphs_client.get(f"/threads/{thread_id}/runs/{started['result']['run_id']}/join")
    state = (await graphs_client.get(f"/threads/{thread_id}/state")).json()
    [interrupt] = state["interrupts"]
    wrong = await command(
        graphs_client, thread_id, "input.respond", {"interrupt_id": "not-it", "response": "yes"}, 2
    )
    assert wrong["error"] == "no_such_interrupt"
    assert (await graphs_client.get(f"/threads/{thread_id}")).json()["status"] == "interrupted"
    right = await command(
        graphs_client,
        thread_id,
        "input.respond",
        {"interrupt_id": interrupt["id"], "namespace": [], "response": "yes"},
        3,
    )
    assert right == {"type": "success", "id": 3, "result": {}, "meta": right["meta"]}
    [resumed, _] = (await graphs_client.get(f"/threads/{thread_id}/runs")).json()
    await graphs_client.get(f"/threads/{thread_id}/runs/{resumed['run_id']}/join")
    final = (await graphs_client.get(f"/threads/{thread_id}/state")).json()
    assert final["values"]["messages"][-1]["content"] == "approved: yes"
    again = await command(
        graphs_client,
        thread_id,
        "input.respond",
        {"interrupt_id": interrupt["id"], "response": 1},
        4,
    )
    assert again["error"] == "no_such_interrupt"


async def test_event_stream_refuses_bad_subscriptions(graphs_client: httpx.AsyncClient) -> None:
    path = f"/threads/{uuid.uuid4()}/stream/events"
    for body in (
        {},
        {"channels": []},
        {"channels": ["values", "nope"]},
        {"channels": ["custom:"]},
        {"channels": ["values"], "since": -1},
        {"channels": ["values"], "since": True},
        {"channels": ["values"], "depth": "1"},
        {"channels": ["values"], "namespaces": ["a"]},
        {"channels": ["values"], "bogus": 1},
        ["values"],
    ):
        response = await graphs_client.post(path, json=body)
        assert response.status_code == 400, body
        assert response.json()["detail"]
    not_json = await graphs_client.post(
        path, content=b"{", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 400


async def test_a_missing_thread_is_the_protocols_not_found_not_a_bad_argument(
    graphs_client: httpx.AsyncClient,
) -> None:
    thread_id = str(uuid.uuid4())
    body = await command(
        graphs_client, thread_id, "input.respond", {"interrupt_id": "i", "response": 1}
    )
    assert body["type"] == "error"
    assert body["error"] == "no_such_run"
    assert body["message"] == f"Thread {thread_id} not found"
