"""Thread search, count, patch, copy, delete, history, state by checkpoint and updates."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import psycopg

from langstar.settings import Settings


def say(text: str) -> dict[str, Any]:
    return {"assistant_id": "agent", "input": {"messages": [{"role": "user", "content": text}]}}


async def thread_with_turns(client: httpx.AsyncClient, *turns: str, **metadata: Any) -> str:
    thread = (await client.post("/threads", json={"metadata": metadata})).json()["thread_id"]
    for turn in turns:
        response = await client.post(f"/threads/{thread}/runs/wait", json=say(turn))
        assert response.status_code == 200, response.text
    return str(thread)


async def test_search_and_count_filter_by_metadata_status_values_and_ids(
    client: httpx.AsyncClient,
) -> None:
    tag = uuid.uuid4().hex
    busy_free = await thread_with_turns(client, "hello", tag=tag, kind="a")
    fresh = await thread_with_turns(client, tag=tag, kind="b")
    both = await client.post("/threads/search", json={"metadata": {"tag": tag}})
    assert {t["thread_id"] for t in both.json()} == {busy_free, fresh}
    only_a = await client.post("/threads/search", json={"metadata": {"tag": tag, "kind": "a"}})
    assert [t["thread_id"] for t in only_a.json()] == [busy_free]
    count = await client.post("/threads/count", json={"metadata": {"tag": tag}})
    assert count.json() == 2
    messages = (await client.get(f"/threads/{busy_free}/state")).json()["values"]["messages"]
    by_values = await client.post(
        "/threads/search", json={"metadata": {"tag": tag}, "values": {"messages": messages}}
    )
    assert [t["thread_id"] for t in by_values.json()] == [busy_free]
    by_ids = await client.post("/threads/search", json={"ids": [fresh], "status": "idle"})
    assert [t["thread_id"] for t in by_ids.json()] == [fresh]
    selected = await client.post(
        "/threads/search", json={"ids": [fresh], "select": ["thread_id", "status"]}
    )
    assert selected.json() == [{"thread_id": fresh, "status": "idle"}]
    ordered = await client.post(
        "/threads/search",
        json={"metadata": {"tag": tag}, "sort_by": "created_at", "sort_order": "asc", "limit": 1},
    )
    assert [t["thread_id"] for t in ordered.json()] == [busy_free]
    bad = await client.post("/threads/search", json={"select": ["secret_column"]})
    assert bad.status_code == 422


async def test_patch_merges_metadata(client: httpx.AsyncClient) -> None:
    thread = await thread_with_turns(client, a=1, b=2)
    patched = await client.patch(f"/threads/{thread}", json={"metadata": {"b": 3, "c": 4}})
    assert patched.json()["metadata"] == {"a": 1, "b": 3, "c": 4}
    refused = await client.patch(f"/threads/{thread}", json={"ttl": {"ttl": -5}})
    assert refused.status_code == 422


async def test_delete_removes_thread_and_checkpoints(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    thread = await thread_with_turns(client, "bye")
    assert (await client.delete(f"/threads/{thread}")).status_code == 204
    assert (await client.get(f"/threads/{thread}")).status_code == 404
    assert (await client.delete(f"/threads/{thread}")).status_code == 404
    with psycopg.connect(settings.database.url) as conn:
        for table in ("checkpoints", "checkpoint_blobs", "checkpoint_writes"):
            row = conn.execute(f"SELECT count(*) FROM {table} WHERE thread_id = %s", (thread,))
            assert row.fetchone() == (0,), table


async def test_copy_carries_history_and_then_diverges(client: httpx.AsyncClient) -> None:
    original = await thread_with_turns(client, "one", source="orig")
    copied = (await client.post(f"/threads/{original}/copy")).json()
    assert copied["thread_id"] != original
    assert copied["metadata"]["source"] == "orig"
    copy_id = copied["thread_id"]
    before = (await client.get(f"/threads/{original}/state")).json()
    after = (await client.get(f"/threads/{copy_id}/state")).json()
    assert after["values"] == before["values"]
    assert after["checkpoint"]["thread_id"] == copy_id
    await client.post(f"/threads/{copy_id}/runs/wait", json=say("two"))
    assert len((await client.get(f"/threads/{copy_id}/state")).json()["values"]["messages"]) == 4
    assert len((await client.get(f"/threads/{original}/state")).json()["values"]["messages"]) == 2
    missing = await client.post(f"/threads/{uuid.uuid4()}/copy")
    assert missing.status_code == 404


async def test_history_and_state_at_a_checkpoint(client: httpx.AsyncClient) -> None:
    thread = await thread_with_turns(client, "first", "second")
    history = (await client.post(f"/threads/{thread}/history", json={"limit": 100})).json()
    assert len(history) >= 4
    counts = [len(state["values"].get("messages", [])) for state in history]
    assert counts == sorted(counts, reverse=True)  # newest first
    older = history[2]
    checkpoint_id = older["checkpoint"]["checkpoint_id"]
    at = (await client.get(f"/threads/{thread}/state/{checkpoint_id}")).json()
    assert at["values"] == older["values"]
    posted = await client.post(
        f"/threads/{thread}/state/checkpoint", json={"checkpoint": {"checkpoint_id": checkpoint_id}}
    )
    assert posted.json()["values"] == older["values"]
    latest = await client.post(f"/threads/{thread}/state/checkpoint", json={"checkpoint": {}})
    assert latest.json()["values"] == history[0]["values"]
    before = await client.get(
        f"/threads/{thread}/history", params={"limit": 1, "before": checkpoint_id}
    )
    assert (
        before.json()[0]["checkpoint"]["checkpoint_id"] == history[3]["checkpoint"]["checkpoint_id"]
    )
    filtered = await client.post(
        f"/threads/{thread}/history", json={"limit": 100, "metadata": {"source": "input"}}
    )
    assert {s["metadata"]["source"] for s in filtered.json()} == {"input"}
    foreign = await client.post(
        f"/threads/{thread}/state/checkpoint",
        json={"checkpoint": {"thread_id": str(uuid.uuid4())}},
    )
    assert foreign.status_code == 422


async def test_update_state_as_a_node(client: httpx.AsyncClient) -> None:
    thread = await thread_with_turns(client, "hello")
    update = {
        "values": {"messages": [{"role": "ai", "content": "edited by a human", "id": "edit-1"}]},
        "as_node": "respond",
    }
    response = await client.post(f"/threads/{thread}/state", json=update)
    assert response.status_code == 200, response.text
    checkpoint = response.json()["checkpoint"]
    assert checkpoint["thread_id"] == thread
    assert checkpoint["checkpoint_id"]
    state = (await client.get(f"/threads/{thread}/state")).json()
    assert state["values"]["messages"][-1]["content"] == "edited by a human"
    assert state["checkpoint"]["checkpoint_id"] == checkpoint["checkpoint_id"]
    thread_row = (await client.get(f"/threads/{thread}")).json()
    assert thread_row["values"]["messages"][-1]["content"] == "edited by a human"
    bad = await client.post(f"/threads/{thread}/state", json={"values": {}, "as_node": "nope"})
    assert bad.status_code == 422


async def test_a_state_update_names_the_graph_in_its_checkpoint_metadata(
    client: httpx.AsyncClient,
) -> None:
    """As on LangGraph's server, so a history filtered by graph_id keeps the update."""
    thread = await thread_with_turns(client, "hello")
    update = {"values": {"messages": [{"role": "ai", "content": "edited", "id": "edit-1"}]}}
    assert (await client.post(f"/threads/{thread}/state", json=update)).status_code == 200
    state = (await client.get(f"/threads/{thread}/state")).json()
    assert state["metadata"]["source"] == "update"
    assert state["metadata"]["graph_id"] == "agent"


async def test_a_state_update_that_leaves_a_step_to_take_interrupts_the_thread(
    client: httpx.AsyncClient,
) -> None:
    """As after a run, and as on LangGraph's server: the thread waits for input."""
    thread = await thread_with_turns(client, "hello")
    update = {
        "values": {"messages": [{"role": "user", "content": "again"}]},
        "as_node": "__start__",
    }
    assert (await client.post(f"/threads/{thread}/state", json=update)).status_code == 200
    assert (await client.get(f"/threads/{thread}/state")).json()["next"] == ["remember"]
    assert (await client.get(f"/threads/{thread}")).json()["status"] == "interrupted"
