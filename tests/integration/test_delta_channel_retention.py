"""A thread whose state lives in a LangGraph `DeltaChannel` keeps all of it when its history
is trimmed to the latest state (TTL sweep or prune) or copied: its latest checkpoint holds
no value for the channel, which is rebuilt from the writes of the checkpoints before it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Annotated, Any

import httpx
import msgspec
import psycopg
import pytest
from langgraph.channels import DeltaChannel
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph
from litestar import Litestar
from typing_extensions import TypedDict

from langstar.app import container_of
from langstar.settings import Settings
from langstar.threads.sweeper import ThreadSweeper
from tests.support.apps import MakeApp
from tests.support.asgi import asgi_client

GRAPHS = {
    "items": "tests.integration.test_delta_channel_retention:items",
    "snapshotted": "tests.integration.test_delta_channel_retention:snapshotted",
}
TURNS = 10
# A TTL this short has passed by the time the test sweeps (in minutes: 6 ms).
PASSED = 0.0001


def _extend(state: list[str], writes: Sequence[list[str]]) -> list[str]:
    return [*state, *(item for write in writes for item in write)]


class Items(TypedDict):
    items: Annotated[list[str], DeltaChannel(_extend)]


class SnapshottedItems(TypedDict):
    items: Annotated[list[str], DeltaChannel(_extend, snapshot_frequency=6)]


def _answer(state: dict[str, Any]) -> dict[str, Any]:
    return {"items": [f"answer {len(state['items']) // 2}"]}


def _graph(schema: type[Any]) -> StateGraph[Any, Any, Any, Any]:
    builder: StateGraph[Any, Any, Any, Any] = StateGraph(schema)
    builder.add_node("answer", _answer)
    builder.add_edge(START, "answer")
    return builder


items = _graph(Items)
# Stores its value every 6 updates (three turns), the last time a turn before the tenth.
snapshotted = _graph(SnapshottedItems)


def said(turns: int) -> list[str]:
    return [item for n in range(turns) for item in (f"ask {n}", f"answer {n}")]


@pytest.fixture
def app(settings: Settings, make_app: MakeApp) -> Litestar:
    """The app serving this module's graphs, under the `client` fixture."""
    return make_app(msgspec.structs.replace(settings, graphs=GRAPHS))


async def talked(client: httpx.AsyncClient, graph: str = "items", **thread: Any) -> str:
    """A thread with `TURNS` turns on it, two items each."""
    made = (await client.post("/threads", json=thread)).json()["thread_id"]
    for n in range(TURNS):
        await turn(client, made, n, graph)
    return str(made)


async def turn(client: httpx.AsyncClient, thread: str, n: int, graph: str = "items") -> None:
    body = {"assistant_id": graph, "input": {"items": [f"ask {n}"]}}
    answer = await client.post(f"/threads/{thread}/runs/wait", json=body)
    assert answer.status_code == 200, answer.text


async def items_of(client: httpx.AsyncClient, thread: str) -> list[str]:
    state = await client.get(f"/threads/{thread}/state")
    assert state.status_code == 200, state.text
    return list(state.json()["values"].get("items", []))


async def checkpoints_of(settings: Settings, thread: str) -> int:
    async with await psycopg.AsyncConnection.connect(settings.database.url) as conn:
        cur = await conn.execute("SELECT count(*) FROM checkpoints WHERE thread_id = %s", (thread,))
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def test_a_keep_latest_sweep_keeps_every_item_and_the_next_turn_appends(
    app: Litestar, client: httpx.AsyncClient
) -> None:
    thread = await talked(client, ttl={"ttl": PASSED, "strategy": "keep_latest"})
    assert await items_of(client, thread) == said(TURNS)
    await asyncio.sleep(0.01)  # the TTL passes

    sweeper = await container_of(app).get(ThreadSweeper)
    assert await sweeper.sweep() == (0, 1)

    assert await items_of(client, thread) == said(TURNS)
    await turn(client, thread, TURNS)
    assert await items_of(client, thread) == said(TURNS + 1)


async def test_a_keep_latest_prune_keeps_every_item_and_the_next_turn_appends(
    client: httpx.AsyncClient,
) -> None:
    thread = await talked(client)
    assert await items_of(client, thread) == said(TURNS)

    body = {"thread_ids": [thread], "strategy": "keep_latest"}
    pruned = await client.post("/threads/prune", json=body)
    assert pruned.json() == {"pruned_count": 1}

    assert await items_of(client, thread) == said(TURNS)
    await turn(client, thread, TURNS)
    assert await items_of(client, thread) == said(TURNS + 1)


async def test_a_copy_has_every_item_and_its_next_turn_appends(
    client: httpx.AsyncClient,
) -> None:
    thread = await talked(client)
    copy = (await client.post(f"/threads/{thread}/copy")).json()["thread_id"]

    assert await items_of(client, copy) == said(TURNS)
    await turn(client, copy, TURNS)
    assert await items_of(client, copy) == said(TURNS + 1)
    assert await items_of(client, thread) == said(TURNS)


async def test_a_prune_still_deletes_the_checkpoints_before_the_channels_last_snapshot(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    thread = await talked(client, "snapshotted")
    before = await checkpoints_of(settings, thread)

    body = {"thread_ids": [thread], "strategy": "keep_latest"}
    assert (await client.post("/threads/prune", json=body)).json() == {"pruned_count": 1}

    # The last turn's checkpoints: the first holds the value the channel stored a turn before.
    assert await checkpoints_of(settings, thread) == before // TURNS
    assert await items_of(client, thread) == said(TURNS)
    await turn(client, thread, TURNS, "snapshotted")
    assert await items_of(client, thread) == said(TURNS + 1)


memory = InMemorySaver()


async def test_a_copy_on_a_projects_own_checkpointer_has_every_item(
    settings: Settings, make_app: MakeApp
) -> None:
    """Without `acopy_thread` (LangGraph's `InMemorySaver`), each checkpoint is put again."""
    own = msgspec.structs.replace(
        settings.database, checkpointer="tests.integration.test_delta_channel_retention:memory"
    )
    app = make_app(msgspec.structs.replace(settings, graphs=GRAPHS, database=own))
    async with asgi_client(app) as client:
        thread = await talked(client)
        copy = (await client.post(f"/threads/{thread}/copy")).json()["thread_id"]

        assert await items_of(client, copy) == said(TURNS)
        await turn(client, copy, TURNS)
        assert await items_of(client, copy) == said(TURNS + 1)
