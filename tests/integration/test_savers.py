"""langstar's checkpointer writes and reads exactly what LangGraph's stock saver does, but
for the thread's id that a run's config names, which it keeps as LangGraph's server does."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import psycopg
import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    ERROR,
    INTERRUPT,
    BaseCheckpointSaver,
    Checkpoint,
    empty_checkpoint,
)
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.serde.types import _DeltaSnapshot
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.types import Command, interrupt
from psycopg.rows import dict_row

from langstar.db.pool import Pool, open_pool
from langstar.db.savers import INLINE_ITEMS, PooledPostgresSaver, checkpoint_serializer
from langstar.settings import DatabaseSettings


@pytest.fixture
async def pool(migrated_url: str) -> AsyncIterator[Pool]:
    pool = await open_pool(migrated_url, DatabaseSettings(pool_min_size=1, pool_max_size=4))
    yield pool
    await pool.close()


def state(messages: int) -> Checkpoint:
    checkpoint = empty_checkpoint()
    checkpoint["ts"] = "2026-01-01T00:00:00+00:00"
    checkpoint["channel_values"] = {
        "messages": [
            HumanMessage(f"question {i}", id=f"h{i}")
            if i % 2 == 0
            else AIMessage(f"answer {i}", id=f"a{i}")
            for i in range(messages)
        ],
        "count": 3,
        "name": "ada",
        "ratio": 0.5,
        "flag": False,
        "nothing": None,
        "settings": {"depth": [1, 2, 3]},
        "summary": _DeltaSnapshot(["first", "second"]),
    }
    versions = {channel: f"0000{i}" for i, channel in enumerate(checkpoint["channel_values"])}
    checkpoint["channel_versions"] = versions
    return checkpoint


async def write_history(saver: BaseCheckpointSaver[str], thread_id: str, messages: int) -> None:
    """Two checkpoints, the second after the first, then writes of two kinds of channel.

    `messages` sets the size of everything: the message lists and the number of writes.
    """
    root: RunnableConfig = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
    first = state(messages)
    first["id"] = "1f0a0000-0000-6000-8000-000000000001"
    after_first = await saver.aput(
        root, first, {"source": "input", "step": -1}, first["channel_versions"]
    )
    second = state(messages + 1)
    second["id"] = "1f0a0000-0000-6000-8000-000000000002"
    second["channel_values"]["count"] = 4
    changed = {"messages": "00010", "count": "00011"}
    second["channel_versions"].update(changed)
    after_second = await saver.aput(after_first, second, {"source": "loop", "step": 0}, changed)
    big = [HumanMessage(f"note {i}", id=f"n{i}") for i in range(messages)]
    await saver.aput_writes(after_second, [("messages", big), ("count", 5)], "task-1", "~0")
    await saver.aput_writes(after_second, [(ERROR, "boom"), (INTERRUPT, {"why": 1})], "task-2")
    await saver.aput_writes(after_second, [(f"c{i}", i) for i in range(messages)], "task-3")


async def rows(url: str, thread_id: str) -> dict[str, list[dict[str, Any]]]:
    queries = {
        "checkpoints": "SELECT checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, "
        "checkpoint, metadata FROM checkpoints WHERE thread_id = %s ORDER BY checkpoint_id",
        "blobs": "SELECT checkpoint_ns, channel, version, type, blob FROM checkpoint_blobs "
        "WHERE thread_id = %s ORDER BY channel, version",
        "writes": "SELECT checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel, type, "
        "blob FROM checkpoint_writes WHERE thread_id = %s ORDER BY task_id, idx",
    }
    async with await psycopg.AsyncConnection.connect(url, row_factory=dict_row) as conn:
        return {
            name: await (await conn.execute(sql, (thread_id,))).fetchall()  # type: ignore[arg-type]
            for name, sql in queries.items()
        }


def without_thread(value: Any, thread_id: str) -> Any:
    return repr(value).replace(thread_id, "<thread>")


@pytest.mark.parametrize("messages", [2, INLINE_ITEMS * 2], ids=["small", "large"])
async def test_the_pooled_saver_writes_and_reads_what_the_stock_saver_does(
    pool: Pool, migrated_url: str, messages: int
) -> None:
    serde = checkpoint_serializer(DatabaseSettings())
    stock, pooled = AsyncPostgresSaver(pool, serde=serde), PooledPostgresSaver(pool, serde=serde)
    ids = {saver: f"parity-{uuid.uuid4()}" for saver in (stock, pooled)}
    for saver, thread_id in ids.items():
        await write_history(saver, thread_id, messages)

    assert await rows(migrated_url, ids[stock]) == await rows(migrated_url, ids[pooled])
    assert len((await rows(migrated_url, ids[pooled]))["writes"]) == 4 + messages
    for checkpoint_id in (None, "1f0a0000-0000-6000-8000-000000000001"):
        read = [
            await saver.aget_tuple(
                {
                    "configurable": {
                        "thread_id": t,
                        "checkpoint_ns": "",
                        "checkpoint_id": checkpoint_id,
                    }
                }
            )
            for saver, t in ids.items()
        ]
        assert read[0] is not None
        assert read[1] is not None
        assert without_thread(read[0], ids[stock]) == without_thread(read[1], ids[pooled])
    latest = await pooled.aget_tuple({"configurable": {"thread_id": ids[pooled]}})
    assert latest is not None
    assert len(latest.checkpoint["channel_values"]["messages"]) == messages + 1
    assert latest.checkpoint["channel_values"]["count"] == 4
    channels = [w[1] for w in latest.pending_writes or []]
    assert sorted(channels) == sorted(
        ["messages", "count", ERROR, INTERRUPT] + [f"c{i}" for i in range(messages)]
    )


async def test_only_large_checkpoints_are_serialised_in_a_worker_thread(
    pool: Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    handed_off: list[str] = []
    to_thread = asyncio.to_thread

    async def counting(func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        handed_off.append(func.__name__)
        return await to_thread(func, *args, **kwargs)

    monkeypatch.setattr(asyncio, "to_thread", counting)
    pooled = PooledPostgresSaver(pool)

    small = f"small-{uuid.uuid4()}"
    await write_history(pooled, small, 2)
    assert await pooled.aget_tuple({"configurable": {"thread_id": small}}) is not None
    assert handed_off == []

    large = f"large-{uuid.uuid4()}"
    await write_history(pooled, large, INLINE_ITEMS * 2)
    assert await pooled.aget_tuple({"configurable": {"thread_id": large}}) is not None
    assert handed_off == [
        "_dump_blobs",
        "_dump_blobs",
        "_dump_writes",
        "_dump_writes",
        "_load_writes",
    ]

    # The stock saver hands every call off, which is what this test would notice.
    handed_off.clear()
    await write_history(AsyncPostgresSaver(pool), f"stock-{uuid.uuid4()}", 2)
    assert handed_off == ["_dump_blobs", "_dump_blobs"] + ["_dump_writes"] * 3


def blob_rows_read(plan: dict[str, Any]) -> float:
    """Rows the plan took from `checkpoint_blobs`, over all its loops."""
    own = plan.get("Actual Rows", 0) * plan.get("Actual Loops", 0)
    read = own if plan.get("Relation Name") == "checkpoint_blobs" else 0
    return read + sum(blob_rows_read(child) for child in plan.get("Plans", []))


async def test_reading_the_latest_checkpoint_does_not_read_the_threads_older_blobs(
    pool: Pool,
) -> None:
    """Latest-state reads stay flat in thread length: one blob lookup per channel."""
    saver = PooledPostgresSaver(pool)
    thread_id = f"long-{uuid.uuid4()}"
    config: RunnableConfig = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
    for step in range(200):  # every checkpoint writes a new version of each blob channel
        checkpoint = empty_checkpoint()
        checkpoint["id"] = f"1f0a0000-0000-6000-8000-{step:012d}"
        checkpoint["channel_values"] = {"messages": [HumanMessage(f"m{step}")], "n": step}
        versions = {"messages": f"{step:05d}", "n": f"{step:05d}"}
        checkpoint["channel_versions"] = versions
        config = await saver.aput(config, checkpoint, {"step": step}, versions)
    async with pool.connection() as conn:
        await conn.execute("ANALYZE checkpoint_blobs")
        cur = await conn.execute(
            "EXPLAIN (ANALYZE, FORMAT JSON) "
            + saver.SELECT_SQL
            + "WHERE thread_id = %s AND checkpoint_ns = '' ORDER BY checkpoint_id DESC LIMIT 1",
            (thread_id,),
        )
        explained = await cur.fetchone()
    assert explained is not None
    [plan] = next(iter(explained.values()))
    assert blob_rows_read(plan["Plan"]) <= 2  # messages; `n` is stored inline
    latest = await saver.aget_tuple(config)
    assert latest is not None
    assert latest.checkpoint["channel_values"]["messages"][0].content == "m199"


async def test_the_thread_a_configs_metadata_names_is_kept_in_checkpoint_metadata(
    pool: Pool,
) -> None:
    saver = PooledPostgresSaver(pool, serde=checkpoint_serializer(DatabaseSettings()))
    thread_id = f"named-{uuid.uuid4()}"
    configurable = {"thread_id": thread_id, "checkpoint_ns": ""}
    first = state(2)
    await saver.aput(
        {"configurable": configurable, "metadata": {"thread_id": thread_id, "mark": "m"}},
        first,
        {"source": "input", "step": -1},
        first["channel_versions"],
    )
    saved = await saver.aget_tuple({"configurable": configurable})
    assert saved is not None
    assert saved.metadata == {"source": "input", "step": -1, "mark": "m", "thread_id": thread_id}


def _asking() -> Any:
    def ask(state: MessagesState) -> dict[str, Any]:
        return {"messages": [AIMessage(f"approved: {interrupt('approve?')}", id="ask")]}

    return _one_node("ask", ask)


def _echoing() -> Any:
    def reply(state: MessagesState) -> dict[str, Any]:
        return {"messages": [AIMessage("echo", id=f"echo-{len(state['messages'])}")]}

    return _one_node("reply", reply)


def _one_node(name: str, node: Any) -> Any:
    builder = StateGraph(MessagesState)
    builder.add_node(name, node)
    builder.add_edge(START, name)
    builder.add_edge(name, END)
    return builder


async def _pending_after_another_graph(saver: BaseCheckpointSaver[Any]) -> tuple[str, ...]:
    """What is left to do on a thread where a graph stopped at an interrupt, another graph
    then ran, and the first is told to end."""
    asking, echoing = _asking().compile(saver), _echoing().compile(saver)
    config: RunnableConfig = {"configurable": {"thread_id": f"mixed-{uuid.uuid4()}"}}
    await asking.ainvoke({"messages": [HumanMessage("first")]}, config)
    await echoing.ainvoke({"messages": [HumanMessage("second")]}, config)
    await asking.ainvoke(Command(goto=END), config)
    return tuple((await asking.aget_state(config)).next)


async def test_a_graph_forgets_its_pending_step_after_another_graph_ran_as_the_stock_saver_does(
    pool: Pool,
) -> None:
    """In PostgreSQL, LangGraph's saver keeps small values inside the checkpoint, so the
    trigger of a step of a graph the last run did not know is not carried forward. Its
    in-memory saver keeps every version's value: `langgraph dev` still has the step to do
    (a listed difference, in `tests/differential/differences.py`)."""
    serde = checkpoint_serializer(DatabaseSettings())
    pooled = await _pending_after_another_graph(PooledPostgresSaver(pool, serde=serde))
    stock = await _pending_after_another_graph(AsyncPostgresSaver(pool, serde=serde))
    in_memory = await _pending_after_another_graph(InMemorySaver())
    assert pooled == stock == ()
    assert in_memory == ("ask",)
