"""Each limit refuses what goes past it, names the setting, and writes nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import msgspec
import psycopg
import pytest

from langstar.settings import LimitSettings, Settings
from tests.support.apps import Serving
from tests.support.auth import HeaderAuthProvider
from tests.support.graphs import TEST_GRAPHS

ALICE = {"x-user": "alice"}
BOB = {"x-user": "bob"}


def limited(settings: Settings, **limits: Any) -> Settings:
    return msgspec.structs.replace(settings, graphs=TEST_GRAPHS, limits=LimitSettings(**limits))


def say(*texts: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": t} for t in texts]}


async def runs_of(url: str, thread_id: str) -> int:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        cur = await conn.execute("SELECT count(*) FROM runs WHERE thread_id = %s", (thread_id,))
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def test_bodies_messages_and_metadata_have_limits(
    settings: Settings, migrated_url: str, serving: Serving
) -> None:
    configured = limited(
        settings, max_body_bytes=4096, max_input_messages=3, max_message_bytes=200,
        max_metadata_bytes=100,
    )  # fmt: skip
    async with serving(configured, HeaderAuthProvider()) as client:
        big = await client.post("/threads", json={"metadata": {"x": "y" * 5000}}, headers=ALICE)
        assert big.status_code == 413
        meta = await client.post("/threads", json={"metadata": {"x": "y" * 150}}, headers=ALICE)
        assert meta.status_code == 422
        assert "limits.max_metadata_bytes" in meta.json()["detail"]
        thread = (await client.post("/threads", json={}, headers=ALICE)).json()["thread_id"]
        patched = await client.patch(
            f"/threads/{thread}", json={"metadata": {"x": "y" * 150}}, headers=ALICE
        )
        assert patched.status_code == 422
        assistant = await client.post(
            "/assistants", json={"graph_id": "hitl", "metadata": {"x": "y" * 150}}, headers=ALICE
        )
        assert assistant.status_code == 422
        cases = [
            ({"input": say("a", "b", "c", "d")}, "limits.max_input_messages"),
            ({"input": say("z" * 300)}, "limits.max_message_bytes"),
            ({"input": say("ok"), "metadata": {"x": "y" * 150}}, "limits.max_metadata_bytes"),
        ]
        for extra, setting in cases:
            response = await client.post(
                f"/threads/{thread}/runs/wait",
                json={"assistant_id": "agent", **extra},
                headers=ALICE,
            )
            assert response.status_code == 422, extra
            assert setting in response.json()["detail"]
        assert await runs_of(migrated_url, thread) == 0
        fine = await client.post(
            f"/threads/{thread}/runs/wait",
            json={"assistant_id": "agent", "input": say("a", "b", "c")},
            headers=ALICE,
        )
        assert fine.status_code == 200


async def test_a_body_over_the_limit_is_refused_naming_the_setting_and_the_limit(
    settings: Settings, serving: Serving
) -> None:
    async with serving(limited(settings, max_body_bytes=4096)) as client:
        big = await client.post("/threads", json={"metadata": {"x": "y" * 5000}})
    assert big.status_code == 413
    detail = big.json()["detail"]
    assert "limits.max_body_bytes" in detail, detail
    assert "LANGSTAR_LIMITS__MAX_BODY_BYTES" in detail, detail
    assert "4096" in detail, detail


async def test_a_run_past_its_wall_clock_limit_ends_as_timeout(
    settings: Settings, serving: Serving
) -> None:
    async with serving(limited(settings, run_timeout_seconds=0.5), HeaderAuthProvider()) as c:
        thread = (await c.post("/threads", json={}, headers=ALICE)).json()["thread_id"]
        started = asyncio.get_running_loop().time()
        result = await c.post(
            f"/threads/{thread}/runs/wait",
            json={"assistant_id": "slow", "input": say("zz"), "context": {"delay": 30}},
            headers=ALICE,
        )
        time_now = asyncio.get_running_loop().time()
        assert time_now - started < 10
        assert result.json()["__error__"]["error"] == "RunTimeoutError"
        [run] = (await c.get(f"/threads/{thread}/runs", headers=ALICE)).json()
        assert run["status"] == "timeout"
        assert (await c.get(f"/threads/{thread}", headers=ALICE)).json()["status"] == "error"
        # The thread takes the next run.
        again = await c.post(
            f"/threads/{thread}/runs/wait",
            json={"assistant_id": "slow", "input": say("z"), "context": {"delay": 0}},
            headers=ALICE,
        )
        assert again.json()["messages"][-1]["content"] == "slept 0.0"


async def test_runs_per_user_are_capped_with_429(
    settings: Settings, migrated_url: str, serving: Serving
) -> None:
    async with serving(limited(settings, max_runs_per_user=1), HeaderAuthProvider()) as client:
        first = (await client.post("/threads", json={}, headers=ALICE)).json()["thread_id"]
        second = (await client.post("/threads", json={}, headers=ALICE)).json()["thread_id"]
        slow = {"assistant_id": "slow", "input": say("z"), "context": {"delay": 2}}
        running = await client.post(f"/threads/{first}/runs", json=slow, headers=ALICE)
        assert running.status_code == 200
        refused = await client.post(f"/threads/{second}/runs", json=slow, headers=ALICE)
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "1"
        assert "limits.max_runs_per_user" in refused.json()["detail"]
        assert await runs_of(migrated_url, second) == 0
        # Another user is not held back by Alice's runs.
        bobs = (await client.post("/threads", json={}, headers=BOB)).json()["thread_id"]
        assert (
            await client.post(f"/threads/{bobs}/runs", json=slow, headers=BOB)
        ).status_code == 200
        await client.get(f"/threads/{first}/runs/{running.json()['run_id']}/join", headers=ALICE)
        again = await client.post(f"/threads/{second}/runs/wait", json=slow, headers=ALICE)
        assert again.status_code == 200


@pytest.mark.parametrize("limit", [0, 1001])
async def test_page_sizes_are_capped(client: httpx.AsyncClient, limit: int) -> None:
    response = await client.post("/threads/search", json={"limit": limit})
    assert response.status_code == 422
    assert "limit" in response.json()["detail"]


SLOW = {"assistant_id": "slow", "input": {"messages": []}, "context": {"delay": 1.0}}


async def test_anonymous_callers_are_not_capped_as_one_user(
    settings: Settings, serving: Serving
) -> None:
    """Without authentication everyone is the same anonymous user: the per-user cap
    (20 here) must not become a cap on the whole server."""
    async with serving(limited(settings, max_runs_per_user=20)) as client:
        answers = await asyncio.gather(*(client.post("/runs/wait", json=SLOW) for _ in range(64)))
    assert [a.status_code for a in answers] == [200] * 64


async def test_a_full_queue_answers_503_with_retry_after_and_writes_nothing(
    settings: Settings, migrated_url: str, serving: Serving
) -> None:
    async with serving(limited(settings, max_queued_runs=2)) as client:
        thread = (await client.post("/threads", json={})).json()["thread_id"]
        path = f"/threads/{thread}/runs"
        assert (await client.post(path, json=SLOW)).status_code == 200
        await asyncio.sleep(0.3)  # it runs; the next two wait for their turn
        for _ in range(2):
            assert (await client.post(path, json=SLOW)).status_code == 200
        refused = await client.post(path, json=SLOW)
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1"
        assert "limits.max_queued_runs" in refused.json()["detail"]
        assert await runs_of(migrated_url, thread) == 3
