"""Which graph a request is about: named by its assistant, else its thread's; never guessed."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import psycopg
import pytest

from langstar.settings import Settings
from tests.support.apps import MakeApp
from tests.support.asgi import asgi_client


def say(text: str, assistant: str = "agent") -> dict[str, Any]:
    return {"assistant_id": assistant, "input": {"messages": [{"role": "user", "content": text}]}}


async def test_a_thread_that_never_ran_reads_as_empty_and_refuses_a_state_update(
    graphs_client: httpx.AsyncClient,
) -> None:
    """With several graphs served, nothing says which one a fresh thread is about."""
    thread = (await graphs_client.post("/threads", json={})).json()["thread_id"]
    state = await graphs_client.get(f"/threads/{thread}/state")
    assert state.status_code == 200
    assert (state.json()["values"], state.json()["next"]) == ({}, [])
    history = await graphs_client.post(f"/threads/{thread}/history", json={})
    assert history.json() == []
    update = await graphs_client.post(f"/threads/{thread}/state", json={"values": {"messages": []}})
    assert update.status_code == 422
    assert update.json()["detail"].startswith(f"graph_id: thread {thread} has not run yet")


async def test_a_thread_is_read_with_the_graph_it_ran_or_its_metadata_names(
    graphs_client: httpx.AsyncClient,
) -> None:
    ran = (await graphs_client.post("/threads", json={})).json()["thread_id"]
    await graphs_client.post(f"/threads/{ran}/runs/wait", json=say("hello", "slow"))
    named = (await graphs_client.post("/threads", json={"metadata": {"graph_id": "slow"}})).json()[
        "thread_id"
    ]
    for thread in (ran, named):
        update = await graphs_client.post(
            f"/threads/{thread}/state",
            json={"values": {"messages": [{"role": "user", "content": "set"}]}},
        )
        assert update.status_code == 200, update.text
        state = (await graphs_client.get(f"/threads/{thread}/state")).json()
        assert state["values"]["messages"][-1]["content"] == "set"


async def test_a_thread_whose_graph_is_no_longer_served_is_404_naming_it(
    settings: Settings, make_app: MakeApp, migrated_url: str
) -> None:
    thread = str(uuid.uuid4())
    async with await psycopg.AsyncConnection.connect(migrated_url, autocommit=True) as conn:
        await conn.execute(
            "INSERT INTO threads (thread_id, owner, graph_id) VALUES (%s, 'anonymous', 'gone')",
            (thread,),
        )
    async with asgi_client(make_app()) as client:
        state = await client.get(f"/threads/{thread}/state")
    assert state.status_code == 404
    assert state.json()["detail"] == f"Graph 'gone' of thread {thread} is not served"


@pytest.mark.parametrize("assistant", ["nope", str(uuid.uuid4())])
async def test_a_run_on_an_unknown_assistant_is_404_whatever_graphs_are_served(
    graphs_client: httpx.AsyncClient, assistant: str
) -> None:
    thread = (await graphs_client.post("/threads", json={})).json()["thread_id"]
    response = await graphs_client.post(f"/threads/{thread}/runs/wait", json=say("x", assistant))
    assert response.status_code == 404
    assert response.json()["detail"] == f"Assistant {assistant} not found"
