"""Threads with a TTL expire: deleted, or trimmed to their latest state; never under a run."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import msgspec
import psycopg
from litestar import Litestar

from langstar.app import container_of
from langstar.settings import Settings, ThreadSettings
from langstar.threads.sweeper import ThreadSweeper
from tests.support.apps import MakeApp
from tests.support.asgi import asgi_client
from tests.support.graphs import TEST_GRAPHS

# A TTL this short has passed by the time the test sweeps (in minutes: 6 ms).
PASSED = 0.0001


def say(text: str, assistant: str = "agent", **extra: Any) -> dict[str, Any]:
    return {"assistant_id": assistant, "input": {"messages": [{"role": "user", "content": text}]},
            **extra}  # fmt: skip


async def checkpoints_of(url: str, thread: str) -> int:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        cur = await conn.execute("SELECT count(*) FROM checkpoints WHERE thread_id = %s", (thread,))
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def test_a_thread_takes_a_ttl_on_create_and_patch_and_shows_it_when_asked(
    client: httpx.AsyncClient,
) -> None:
    made = await client.post("/threads", json={"ttl": {"ttl": 60, "strategy": "keep_latest"}})
    thread = made.json()["thread_id"]
    assert "ttl" not in made.json()
    shown = (await client.get(f"/threads/{thread}", params={"include": "ttl"})).json()["ttl"]
    assert (shown["strategy"], shown["ttl_minutes"]) == ("keep_latest", 60)
    await client.patch(f"/threads/{thread}", json={"ttl": 5})
    shown = (await client.get(f"/threads/{thread}", params={"include": "ttl"})).json()["ttl"]
    assert (shown["strategy"], shown["ttl_minutes"]) == ("delete", 5)
    for bad in (0, -1, {"ttl": 5, "strategy": "archive"}, {"minutes": 5}):
        refused = await client.post("/threads", json={"ttl": bad})
        assert refused.status_code == 422, bad
    # Making it again with if_exists=do_nothing leaves its TTL and expiry alone.
    before = (await client.get(f"/threads/{thread}", params={"include": "ttl"})).json()["ttl"]
    again = {"thread_id": thread, "if_exists": "do_nothing", "ttl": 999}
    assert (await client.post("/threads", json=again)).status_code == 200
    after = (await client.get(f"/threads/{thread}", params={"include": "ttl"})).json()["ttl"]
    assert after == before
    plain = (await client.post("/threads", json={})).json()["thread_id"]
    assert "ttl" not in (await client.get(f"/threads/{plain}", params={"include": "ttl"})).json()
    bad_field = await client.get(f"/threads/{plain}", params={"include": "secrets"})
    assert bad_field.status_code == 422


async def test_a_sweep_deletes_or_trims_expired_threads_but_not_one_with_a_run_in_flight(
    graphs_app: Litestar, migrated_url: str
) -> None:
    async with asgi_client(graphs_app) as client:
        doomed = (await client.post("/threads", json={"ttl": PASSED})).json()["thread_id"]
        await client.post(f"/threads/{doomed}/runs/wait", json=say("forget me"))
        trimmed = (await client.post("/threads", json={"ttl": {"ttl": PASSED,
                   "strategy": "keep_latest"}})).json()["thread_id"]  # fmt: skip
        for turn in ("one", "two"):
            await client.post(f"/threads/{trimmed}/runs/wait", json=say(turn))
        busy = (await client.post("/threads", json={"ttl": PASSED})).json()["thread_id"]
        await client.post(f"/threads/{busy}/runs", json=say("wait", "slow", context={"delay": 3}))
        kept = (await client.post("/threads", json={})).json()["thread_id"]
        before = await checkpoints_of(migrated_url, trimmed)
        await asyncio.sleep(0.1)

        sweeper = await container_of(graphs_app).get(ThreadSweeper)
        await sweeper.sweep()

        assert (await client.get(f"/threads/{doomed}")).status_code == 404
        assert await checkpoints_of(migrated_url, doomed) == 0
        assert (await client.get(f"/threads/{trimmed}")).status_code == 200
        assert 0 < await checkpoints_of(migrated_url, trimmed) < before
        said = [m["content"] for m in (await client.get(f"/threads/{trimmed}/state")).json()
                ["values"]["messages"]]  # fmt: skip
        assert (len(said), said[0], said[2]) == (4, "one", "two")  # its latest state is whole
        assert (await client.get(f"/threads/{busy}")).json()["status"] == "busy"
        assert (await client.get(f"/threads/{kept}")).status_code == 200


async def test_expired_threads_are_swept_in_the_background(
    settings: Settings, make_app: MakeApp
) -> None:
    quick = ThreadSettings(ttl_default_minutes=PASSED, ttl_sweep_interval_minutes=0.005)
    app = make_app(msgspec.structs.replace(settings, graphs=TEST_GRAPHS, threads=quick))
    async with asgi_client(app) as client:
        thread = (await client.post("/threads", json={})).json()["thread_id"]
        deadline = time.monotonic() + 10
        while (await client.get(f"/threads/{thread}")).status_code == 200:
            assert time.monotonic() < deadline, "the thread was never swept"
            await asyncio.sleep(0.1)
