"""A thread's state and history name their checkpoints as LangGraph's Agent Server does:
`checkpoint_map` only where LangGraph's own config has one (a subgraph's state), never
`null` on a root graph's checkpoint."""

from __future__ import annotations

from typing import Any

import httpx
import msgspec

from langstar.settings import Settings
from tests.support.apps import Serving

Client = httpx.AsyncClient
ROOT_CHECKPOINT_KEYS = {"thread_id", "checkpoint_ns", "checkpoint_id"}


def say(assistant_id: str, text: str) -> dict[str, Any]:
    return {
        "assistant_id": assistant_id,
        "input": {"messages": [{"role": "user", "content": text}]},
    }


async def ran_twice(client: Client) -> str:
    thread_id = str((await client.post("/threads", json={})).json()["thread_id"])
    for text in ("hello", "again"):
        response = await client.post(f"/threads/{thread_id}/runs/wait", json=say("agent", text))
        assert response.status_code == 200, response.text
    return thread_id


def checkpoints(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in (state["checkpoint"], state["parent_checkpoint"]) if c is not None]


async def test_state_of_a_root_graph_has_no_checkpoint_map_key(client: Client) -> None:
    thread_id = await ran_twice(client)
    latest = (await client.get(f"/threads/{thread_id}/state")).json()
    checkpoint_id = latest["parent_checkpoint"]["checkpoint_id"]
    earlier = (await client.get(f"/threads/{thread_id}/state/{checkpoint_id}")).json()
    for state in (latest, earlier):
        assert [set(c) for c in checkpoints(state)] == [ROOT_CHECKPOINT_KEYS] * 2


async def test_history_entries_have_no_checkpoint_map_key(client: Client) -> None:
    thread_id = await ran_twice(client)
    for history in (
        (await client.post(f"/threads/{thread_id}/history", json={"limit": 10})).json(),
        (await client.get(f"/threads/{thread_id}/history", params={"limit": 10})).json(),
    ):
        assert len(history) > 2
        found = [set(c) for state in history for c in checkpoints(state)]
        assert all(keys == ROOT_CHECKPOINT_KEYS for keys in found)


async def test_a_subgraphs_state_keeps_its_checkpoint_map(
    settings: Settings, serving: Serving
) -> None:
    graphs = {"asks": "tests.support.graphs:asks_in_subgraph"}
    async with serving(msgspec.structs.replace(settings, graphs=graphs)) as client:
        thread_id = str((await client.post("/threads", json={})).json()["thread_id"])
        await client.post(f"/threads/{thread_id}/runs/wait", json=say("asks", "may I?"))
        state = (await client.get(f"/threads/{thread_id}/state?subgraphs=true")).json()
    assert "checkpoint_map" not in state["checkpoint"]
    inner = state["tasks"][0]["state"]["checkpoint"]
    assert set(inner["checkpoint_map"]) == {"", inner["checkpoint_ns"]}


async def test_a_task_in_a_subgraph_names_its_checkpoint_by_thread_and_namespace_only(
    settings: Settings, serving: Serving
) -> None:
    graphs = {"asks": "tests.support.graphs:asks_in_subgraph"}
    async with serving(msgspec.structs.replace(settings, graphs=graphs)) as client:
        thread_id = str((await client.post("/threads", json={})).json()["thread_id"])
        await client.post(f"/threads/{thread_id}/runs/wait", json=say("asks", "may I?"))
        [task] = (await client.get(f"/threads/{thread_id}/state")).json()["tasks"]
    assert task["checkpoint"] == {
        "thread_id": thread_id,
        "checkpoint_ns": task["checkpoint"]["checkpoint_ns"],
    }
    assert task["checkpoint"]["checkpoint_ns"].startswith("child:")
