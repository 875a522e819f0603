"""Connections cut by the server under load, as a provider's idle cut or a failover does."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import msgspec
import psycopg
from langgraph_sdk import get_client

from langstar.app import container_of
from langstar.db.pool import Pool
from tests.support.apps import MakeApp
from tests.support.asgi import asgi_client
from tests.support.postgres import database_name
from tests.support.sdk import eventually
from tests.support.server import ServerProcess
from tests.support.settings import settings_for

CLIENTS = 12
KILLS = 6
REQUEST_DEADLINE = 30.0  # no request may take longer: nothing hangs


def say(text: str) -> dict[str, object]:
    return {"assistant_id": "agent", "input": {"messages": [{"role": "user", "content": text}]}}


def kill_langstar_connections(url: str) -> int:
    """Terminate every backend langstar holds on the database; how many there were."""
    with psycopg.connect(url, autocommit=True, application_name="killer") as conn:
        row = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = %s AND application_name = 'langstar'",
            (database_name(url),),
        ).fetchone()
    assert row is not None
    return int(row[0])


def unfinished_runs(url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(
            "SELECT run_id, status FROM runs WHERE status IN ('pending', 'running')"
        ).fetchall()


class Load:
    """Clients taking turns and reading their threads, each noting what it was answered."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.outcomes: list[tuple[str, int, str, Any]] = []
        self.reads: list[int] = []
        self.killed_until: float | None = None
        self.recovered_after: dict[int, float] = {}
        self.under_way = asyncio.Event()

    async def client(self, index: int) -> None:
        async with httpx.AsyncClient(base_url=self.base, timeout=REQUEST_DEADLINE) as http:
            thread = (await http.post("/threads", json={})).json()["thread_id"]
            turn = 0
            while index not in self.recovered_after:
                text = f"client {index} turn {turn}"
                turn += 1
                answer = await asyncio.wait_for(
                    http.post(f"/threads/{thread}/runs/wait", json=say(text)), REQUEST_DEADLINE
                )
                read = await asyncio.wait_for(http.get(f"/threads/{thread}"), REQUEST_DEADLINE)
                self.outcomes.append((thread, answer.status_code, text, answer.json()))
                self.reads.append(read.status_code)
                if len(self.outcomes) >= 2 * CLIENTS:
                    self.under_way.set()
                for response in (answer, read):
                    if response.status_code == 503:
                        assert "database unavailable" in response.json()["detail"]
                        assert response.headers["retry-after"] == "1"
                ok = answer.status_code == 200 and "__error__" not in answer.json()
                if ok and read.status_code == 200 and self.killed_until is not None:
                    self.recovered_after[index] = time.monotonic() - self.killed_until
                elif not ok:
                    await asyncio.sleep(0.2)


async def test_connections_killed_under_load_hang_nothing_and_leave_no_run_running(
    migrated_database: str, tmp_path: Path
) -> None:
    server = ServerProcess({"DATABASE_URL": migrated_database}, tmp_path).start()
    try:
        load = Load(server.url)
        loops = [asyncio.create_task(load.client(i)) for i in range(CLIENTS)]
        await asyncio.wait_for(load.under_way.wait(), timeout=60)
        before = len(load.outcomes)
        killed = []
        for _ in range(KILLS):  # repeatedly, while requests are in flight
            killed.append(await asyncio.to_thread(kill_langstar_connections, migrated_database))
            await asyncio.sleep(0.7)
        load.killed_until = time.monotonic()
        await asyncio.wait_for(asyncio.gather(*loops), timeout=90)

        # Every client is served again, through the official SDK too.
        sdk = get_client(url=server.url)
        threads = sorted({thread for thread, _, _, _ in load.outcomes})
        for thread in threads[:3]:
            answer = await sdk.runs.wait(thread, "agent", input=say("after")["input"])
            assert isinstance(answer, dict)
            assert "__error__" not in answer, answer
        states = {thread: await sdk.threads.get_state(thread) for thread in threads}
        # No run is left pending or running by a connection cut under it (asked while
        # the server still runs: stopping it would end such runs itself).
        left = await eventually(lambda: not unfinished_runs(migrated_database), 10)
        assert left, unfinished_runs(migrated_database)
    finally:
        server.stop()
    assert all(count > 0 for count in killed), killed  # each round cut live connections
    assert len(load.outcomes) > before  # the load went on while they were cut
    assert {code for _, code, _, _ in load.outcomes} <= {200, 503}
    assert set(load.reads) <= {200, 503}
    assert max(load.recovered_after.values()) < 10, load.recovered_after
    # Every turn a client was told succeeded is in its thread, answered.
    for thread, code, text, body in load.outcomes:
        if code == 200 and "__error__" not in body:
            contents = [m["content"] for m in states[thread]["values"]["messages"]]
            assert text in contents


async def test_a_request_after_every_idle_connection_was_cut_is_served_at_once(
    migrated_database: str, tmp_path: Path, make_app: MakeApp
) -> None:
    """An idle cut or a failover ends every pooled connection; the next request must not
    wait out the dead ones one by one (1, 2, 4... seconds each) while PostgreSQL is up."""
    settings = settings_for(migrated_database, tmp_path)
    database = msgspec.structs.replace(settings.database, pool_min_size=6, pool_max_size=6)
    app = make_app(msgspec.structs.replace(settings, database=database))
    async with asgi_client(app) as client:
        thread = (await client.post("/threads", json={})).json()["thread_id"]
        pool = await container_of(app).get(Pool)
        assert await eventually(lambda: pool.get_stats()["pool_available"] == 6)
        assert await asyncio.to_thread(kill_langstar_connections, migrated_database) >= 6
        await asyncio.sleep(0.2)  # the terminations have reached the sockets
        started = time.monotonic()
        for _ in range(6):  # as many as there were dead connections
            answer = await client.get(f"/threads/{thread}")
            assert answer.status_code == 200, answer.text
        took = time.monotonic() - started
        assert took < 0.6, took  # psycopg_pool alone pauses 1 s after the first dead one
        assert pool.get_stats()["pool_size"] == 6  # the dead ones were replaced
