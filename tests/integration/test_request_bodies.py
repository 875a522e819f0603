"""JSON request bodies are read as LangGraph's Agent Server reads them.

A field its OpenAPI schema does not name is ignored there, so it is here; a field it
knows and langstar cannot honour is still refused, by name.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

Client = httpx.AsyncClient
HELLO = {"messages": [{"role": "user", "content": "hi"}]}
RUN = {"assistant_id": "agent", "input": HELLO}
# What a client written for another API might send: `order_by` is not the Agent Server's.
UNKNOWN = {"order_by": "created_at DESC"}

BODIES = [
    ("POST", "/threads", {}),
    ("POST", "/threads/search", {}),
    ("POST", "/threads/count", {}),
    ("PATCH", "/threads/{thread}", {"metadata": {"team": "blue"}}),
    ("POST", "/threads/{thread}/history", {}),
    ("POST", "/threads/{thread}/state/checkpoint", {"checkpoint": {}}),
    ("POST", "/threads/{thread}/state", {"values": {"messages": []}}),
    ("POST", "/threads/{thread}/runs/wait", RUN),
    ("POST", "/threads/{thread}/runs", RUN),
    ("POST", "/runs/wait", RUN),
    ("POST", "/runs/batch", [RUN]),
    ("POST", "/threads/prune", {"thread_ids": ["{spare}"]}),
    ("POST", "/assistants", {"graph_id": "agent"}),
    ("POST", "/assistants/search", {}),
    ("POST", "/assistants/count", {}),
    ("PATCH", "/assistants/{assistant}", {"metadata": {"team": "blue"}}),
    ("POST", "/assistants/{assistant}/versions", {}),
    ("PUT", "/store/items", {"namespace": ["bodies"], "key": "k", "value": {}}),
    ("POST", "/store/items/search", {"namespace_prefix": ["bodies"]}),
    ("POST", "/store/namespaces", {}),
    ("DELETE", "/store/items", {"namespace": ["bodies"], "key": "k"}),
    ("POST", "/runs/crons/search", {}),
    ("POST", "/runs/crons/count", {}),
]


def filled(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**names)
    if isinstance(value, list):
        return [filled(item, names) for item in value]
    if isinstance(value, dict):
        return {key: filled(item, names) for key, item in value.items()}
    return value


async def created(client: Client, path: str, body: dict[str, Any], key: str) -> str:
    response = await client.post(path, json=body)
    assert response.status_code == 200, response.text
    return str(response.json()[key])


async def ids(client: Client) -> dict[str, str]:
    """A thread that has run once, one that may be pruned, and an assistant."""
    thread = await created(client, "/threads", {}, "thread_id")
    ran = await client.post(f"/threads/{thread}/runs/wait", json=RUN)
    assert ran.status_code == 200, ran.text
    return {
        "thread": thread,
        "spare": await created(client, "/threads", {}, "thread_id"),
        "assistant": await created(client, "/assistants", {"graph_id": "agent"}, "assistant_id"),
    }


def with_unknown(body: Any) -> Any:
    if isinstance(body, list):
        return [with_unknown(item) for item in body]
    return {**body, **UNKNOWN}


@pytest.mark.parametrize(("method", "path", "body"), BODIES, ids=[f"{m} {p}" for m, p, _ in BODIES])
async def test_a_field_the_agent_server_does_not_know_is_ignored(
    client: Client, method: str, path: str, body: Any
) -> None:
    names = await ids(client)
    response = await client.request(
        method, path.format(**names), json=with_unknown(filled(body, names))
    )
    assert response.status_code in (200, 201, 202, 204), response.text


async def test_a_cron_body_with_an_unknown_field_makes_the_cron(client: Client) -> None:
    body = {**RUN, "schedule": "0 0 1 1 *", **UNKNOWN}
    cron_id = await created(client, "/runs/crons", body, "cron_id")
    changed = await client.patch(f"/runs/crons/{cron_id}", json={"enabled": False, **UNKNOWN})
    assert changed.status_code == 200, changed.text
    assert (await client.delete(f"/runs/crons/{cron_id}")).status_code in (200, 204)


async def test_strict_resume_is_ignored_as_the_agent_server_ignores_it(client: Client) -> None:
    thread = await created(client, "/threads", {}, "thread_id")
    response = await client.post(
        f"/threads/{thread}/runs/wait", json={**RUN, "strict_resume": True}
    )
    assert response.status_code == 200, response.text


async def test_a_field_the_agent_server_knows_and_langstar_cannot_honour_is_refused(
    client: Client,
) -> None:
    response = await client.post("/runs/wait", json={**RUN, "feedback_keys": ["score"]})
    assert response.status_code == 422
    assert "feedback_keys" in response.json()["detail"]


async def test_an_unknown_field_does_not_hide_a_bad_known_one(client: Client) -> None:
    response = await client.post("/threads/search", json={**UNKNOWN, "limit": "ten"})
    assert response.status_code == 422
    assert "limit" in response.json()["detail"]


EMPTY = [
    ("POST", "/threads"),
    ("POST", "/threads/search"),
    ("POST", "/threads/count"),
    ("PATCH", "/threads/{thread}"),
    ("POST", "/threads/{thread}/state"),
    ("POST", "/threads/{thread}/history"),
    ("POST", "/threads/{thread}/runs/wait"),
    ("POST", "/threads/{thread}/runs/stream"),
    ("POST", "/runs/wait"),
    ("POST", "/runs/stream"),
    ("POST", "/runs/cancel"),
    ("POST", "/assistants"),
    ("POST", "/assistants/search"),
    ("PUT", "/store/items"),
    ("POST", "/store/items/search"),
    ("POST", "/runs/crons"),
    ("POST", "/runs/crons/search"),
]


@pytest.mark.parametrize(("method", "path"), EMPTY, ids=[f"{m} {p}" for m, p in EMPTY])
async def test_an_empty_body_is_refused_as_invalid_json_as_the_agent_server_does(
    client: Client, method: str, path: str
) -> None:
    thread = await created(client, "/threads", {}, "thread_id")
    # What `curl -X POST URL` sends: no body, no content type.
    response = await client.request(method, path.format(thread=thread))
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith("Invalid JSON in request body"), response.text
