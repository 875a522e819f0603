"""Many runs at once all persist, and the checkpointer is not one global lock."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import msgspec
import psycopg
import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import empty_checkpoint

from langstar.db.pool import open_pool
from langstar.db.savers import PooledPostgresSaver
from langstar.settings import DatabaseSettings, LimitSettings, Settings
from tests.support.apps import MakeApp
from tests.support.asgi import asgi_client
from tests.support.fakes import FakeModelProvider, GatedChatModel


async def until_status(
    client: httpx.AsyncClient, thread: str, done: Callable[[str | None], bool]
) -> str | None:
    """Poll the thread until its status satisfies `done` (or four seconds pass)."""
    status = None
    for _ in range(200):
        status = (await client.get(f"/threads/{thread}")).json().get("status")
        if done(status):
            break
        await asyncio.sleep(0.02)
    return status


def say(text: str) -> dict[str, Any]:
    return {
        "assistant_id": "agent",
        "if_not_exists": "create",
        "input": {"messages": [{"role": "user", "content": text}]},
    }


async def test_fifty_concurrent_runs_on_different_threads_all_persist(
    settings: Settings, make_app: MakeApp
) -> None:
    # One user, fifty runs at once: above the default per-user cap, on purpose.
    settings = msgspec.structs.replace(settings, limits=LimitSettings(max_runs_per_user=100))
    app = make_app(settings)
    threads = [str(uuid.uuid4()) for _ in range(50)]
    async with asgi_client(app) as client:
        responses = await asyncio.gather(
            *(client.post(f"/threads/{t}/runs/wait", json=say(f"turn {t}")) for t in threads)
        )
        assert [r.status_code for r in responses] == [200] * 50
        states = await asyncio.gather(*(client.get(f"/threads/{t}/state") for t in threads))
    for thread, state in zip(threads, states, strict=True):
        contents = [m["content"] for m in state.json()["values"]["messages"]]
        assert contents == [f"turn {thread}", f"echo: turn {thread}"]


async def test_a_second_run_on_a_busy_thread_is_rejected_not_lost(
    settings: Settings, make_app: MakeApp
) -> None:
    model = GatedChatModel()
    gate = model.gate
    app = make_app(settings, FakeModelProvider(model))
    thread = str(uuid.uuid4())
    async with asgi_client(app) as client:
        first = asyncio.create_task(client.post(f"/threads/{thread}/runs/wait", json=say("one")))
        await until_status(client, thread, lambda status: status == "busy")
        second = await client.post(
            f"/threads/{thread}/runs/wait", json=say("two") | {"multitask_strategy": "reject"}
        )
        assert second.status_code == 409
        gate.set()
        assert (await first).status_code == 200
        state = (await client.get(f"/threads/{thread}/state")).json()
    assert [m["content"] for m in state["values"]["messages"]] == ["one", "echo: one"]


async def test_two_checkpoint_operations_are_in_flight_at_once(migrated_url: str) -> None:
    """One checkpoint write waits on a row lock; a read on another thread must not wait."""
    pool = await open_pool(migrated_url, DatabaseSettings(pool_min_size=2, pool_max_size=4))
    try:
        saver = PooledPostgresSaver(pool)
        blocked: RunnableConfig = {"configurable": {"thread_id": "blocked", "checkpoint_ns": ""}}
        free: RunnableConfig = {"configurable": {"thread_id": "free", "checkpoint_ns": ""}}
        checkpoint = empty_checkpoint()
        written = await saver.aput(blocked, checkpoint, {"source": "input", "step": -1}, {})
        await saver.aput(free, empty_checkpoint(), {"source": "input", "step": -1}, {})
        async with await psycopg.AsyncConnection.connect(migrated_url) as locker:
            await locker.execute("SELECT 1 FROM checkpoints WHERE thread_id = 'blocked' FOR UPDATE")
            # This upsert of the locked row now waits for the locker's transaction.
            stuck = asyncio.create_task(
                saver.aput(blocked, checkpoint, {"source": "loop", "step": 0}, {})
            )
            await asyncio.sleep(0.3)
            assert not stuck.done()
            read = await asyncio.wait_for(saver.aget_tuple(free), timeout=5)
            assert read is not None
            await locker.rollback()
        await asyncio.wait_for(stuck, timeout=5)
        assert written["configurable"]["thread_id"] == "blocked"
    finally:
        await pool.close()


async def test_a_client_that_disconnects_does_not_cancel_its_run(
    settings: Settings, make_app: MakeApp
) -> None:
    model = GatedChatModel()
    gate = model.gate
    app = make_app(settings, FakeModelProvider(model))
    thread = str(uuid.uuid4())
    async with asgi_client(app) as client:
        request = asyncio.create_task(client.post(f"/threads/{thread}/runs/wait", json=say("hi")))
        await until_status(client, thread, lambda status: status == "busy")
        request.cancel()  # the client goes away mid-run
        with contextlib.suppress(asyncio.CancelledError):
            await request
        gate.set()
        assert await until_status(client, thread, lambda status: status != "busy") == "idle"
        state = (await client.get(f"/threads/{thread}/state")).json()
    assert [m["content"] for m in state["values"]["messages"]] == ["hi", "echo: hi"]


@pytest.mark.parametrize("strategy", ["enqueue", "reject", "interrupt", "rollback"])
async def test_twenty_clients_double_texting_one_thread_lose_no_turn(
    settings: Settings, make_app: MakeApp, strategy: str
) -> None:
    settings = msgspec.structs.replace(settings, limits=LimitSettings(max_runs_per_user=100))
    app = make_app(settings)
    thread = str(uuid.uuid4())
    texts = [f"turn {i}" for i in range(20)]
    async with asgi_client(app) as client:
        await client.post("/threads", json={"thread_id": thread})
        responses = await asyncio.gather(
            *(
                client.post(
                    f"/threads/{thread}/runs/wait",
                    json=say(text) | {"multitask_strategy": strategy},
                )
                for text in texts
            )
        )
        runs = (await client.get(f"/threads/{thread}/runs", params={"limit": 100})).json()
        state = (await client.get(f"/threads/{thread}/state")).json()
        status = (await client.get(f"/threads/{thread}")).json()["status"]
    codes = [r.status_code for r in responses]
    assert set(codes) <= {200, 409}
    said = [m["content"] for m in state["values"]["messages"] if m["type"] == "human"]
    replies = [m["content"] for m in state["values"]["messages"] if m["type"] == "ai"]
    succeeded = [
        r["kwargs"]["input"]["messages"][0]["content"] for r in runs if r["status"] == "success"
    ]
    assert status == "idle"
    assert all(r["status"] in ("success", "interrupted") for r in runs)
    # Every turn that succeeded is in the thread, once, with its answer.
    assert succeeded
    for text in succeeded:
        assert said.count(text) == 1, (text, said)
        assert f"echo: {text}" in replies
    assert len(said) == len(set(said))
    if strategy == "enqueue":
        assert codes == [200] * 20
        assert sorted(said) == sorted(texts)
    if strategy == "reject":
        # Refused turns are refused out loud (409), never half-applied.
        refused = {t for t, code in zip(texts, codes, strict=True) if code == 409}
        assert refused
        assert not refused & set(said)
        assert sorted(said) == sorted(set(texts) - refused)
    if strategy == "rollback":
        assert sorted(said) == sorted(succeeded)  # a rolled-back turn leaves nothing behind


async def test_a_busy_pool_makes_requests_wait_then_retry_and_runs_wait_it_out(
    settings: Settings, make_app: MakeApp
) -> None:
    """While every connection is in use, a request waits `pool_busy_wait_seconds`, then
    gets 503; a run's own work waits longer (`runs.database_wait_seconds`).

    The run's checkpoint write comes while the test holds every pooled connection for
    three times the pool's timeout. Giving up then would fail a run already accepted.
    """
    from langstar.app import container_of
    from langstar.db.pool import Pool
    from tests.support.graphs import TEST_GRAPHS

    database = msgspec.structs.replace(
        settings.database,
        pool_min_size=1,
        pool_max_size=2,
        pool_timeout_seconds=0.5,
        pool_busy_wait_seconds=1.0,
    )
    configured = msgspec.structs.replace(settings, database=database, graphs=TEST_GRAPHS)
    app = make_app(configured)
    async with asgi_client(app) as client:
        pool = await container_of(app).get(Pool)
        thread = (await client.post("/threads", json={})).json()["thread_id"]
        # Busy for longer than the pool's timeout, shorter than the busy wait: served.
        held = [await pool.getconn(timeout=5), await pool.getconn(timeout=5)]
        asyncio.get_running_loop().call_later(
            0.7, lambda: [asyncio.ensure_future(pool.putconn(c)) for c in held]
        )
        assert (await client.get(f"/threads/{thread}")).status_code == 200
        started = await client.post(
            f"/threads/{thread}/runs",
            json={"assistant_id": "slow", "input": {"messages": []}, "context": {"delay": 0.2}},
        )
        assert started.status_code == 200, started.text
        held = [await pool.getconn(timeout=5), await pool.getconn(timeout=5)]
        try:
            refused = await client.get(f"/threads/{thread}")
            assert refused.status_code == 503
            assert refused.headers["retry-after"]
            await asyncio.sleep(0.5)
        finally:
            for conn in held:
                await pool.putconn(conn)
        joined = await client.get(f"/threads/{thread}/runs/{started.json()['run_id']}/join")
        assert joined.status_code == 200
        run = (await client.get(f"/threads/{thread}/runs/{started.json()['run_id']}")).json()
        assert run["status"] == "success", joined.text
        assert joined.json()["messages"][-1]["content"] == "slept 0.2"
