"""Real `langstar serve` processes behind a real PgBouncer.

In transaction mode, with `database.direct_url` to PostgreSQL for listening, then without
it (the polling fallback): the SDK's scenarios, a cancel and a live stream across two
servers, fifty concurrent runs, and a PostgreSQL restart under load. In session mode,
behind a pooler with fewer server connections than langstar's pool: 503s, never a wait
past `database.pool_timeout_seconds`.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient

from tests.support import pgbouncer
from tests.support.graphs import TEST_GRAPHS, reply_of
from tests.support.postgres import PostgresForTests
from tests.support.sdk import eventually
from tests.support.server import ServerProcess

pytestmark = pytest.mark.skipif(
    not pgbouncer.available(),
    reason="PgBouncer is not installed (apt-get install pgbouncer; .ci/run installs it)",
)

GRAPHS = {**TEST_GRAPHS, "talker": "tests.support.graphs:talker"}
ENV = {
    **{f"LANGSTAR_GRAPHS__{name.upper()}": spec for name, spec in GRAPHS.items()},
    "LANGSTAR_LOG_LEVEL": "warning",
    "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
}
# How soon a cancel must land: heard at once with a direct URL, polled for every second
# (`database.poll_seconds`) without.
CANCEL_WITHIN = {"direct": 1.0, "polling": 2.0}
Pair = tuple[ServerProcess, ServerProcess]


@pytest.fixture(scope="module")
def database(postgres: PostgresForTests) -> Iterator[str]:
    with postgres.migrated("pooled") as url:
        yield url


@pytest.fixture(scope="module")
def bouncer(postgres: PostgresForTests) -> Iterator[pgbouncer.PgBouncer]:
    running = pgbouncer.PgBouncer(postgres.admin_url, mode="transaction").start()
    yield running
    running.stop()


@pytest.fixture(scope="module", params=["direct", "polling"])
def pair(
    request: pytest.FixtureRequest,
    database: str,
    bouncer: pgbouncer.PgBouncer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, Pair]]:
    """Two servers whose DATABASE_URL is the pooler, with or without a direct URL."""
    env = {**ENV, "DATABASE_URL": bouncer.url(database)}
    if request.param == "direct":
        env["LANGSTAR_DATABASE__DIRECT_URL"] = database
    cwd = tmp_path_factory.mktemp(f"pooled-{request.param}")
    a = ServerProcess(env, cwd).start()
    b = ServerProcess(env, cwd).start()
    yield request.param, (a, b)
    a.stop()
    b.stop()


async def test_a_pooler_is_told_from_postgresql_itself(
    database: str, bouncer: pgbouncer.PgBouncer
) -> None:
    from langstar.db.pool import pooler_of
    from langstar.settings import DatabaseSettings

    auto = DatabaseSettings()
    assert await pooler_of(database, auto) == "none"
    assert await pooler_of(bouncer.url(database), auto) == "transaction"
    said = DatabaseSettings(pooler="session")
    assert await pooler_of(bouncer.url(database), said) == "session"


def say(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


def talk(tokens: int, delay: float) -> dict[str, Any]:
    return {"input": say("hi"), "context": {"tokens": tokens, "delay": delay}}


async def status_is(client: LangGraphClient, thread: str, run: str, *statuses: str) -> bool:
    return (await client.runs.get(thread, run))["status"] in statuses


async def test_the_sdk_scenarios_pass_through_the_pooler(pair: tuple[str, Pair]) -> None:
    _, (a, _) = pair
    client = get_client(url=a.url)
    thread_id = (await client.threads.create(metadata={"via": "pooler"}))["thread_id"]
    # Each statement runs more than once, so a prepared one would be reused.
    for turn in range(3):
        waited = await client.runs.wait(thread_id, "streamer", input=say(f"turn {turn}"))
        assert isinstance(waited, dict)
        assert waited["messages"][-1]["content"] == f"Noted. You said: turn {turn}"
    parts = [
        part
        async for part in client.runs.stream(
            thread_id, "streamer", input=say("streamed"), stream_mode=["values", "messages-tuple"]
        )
    ]
    assert parts[0].event == "metadata"
    assert parts[-1].data["messages"][-1]["content"] == "Noted. You said: streamed"
    state = await client.threads.get_state(thread_id)
    assert state["values"]["messages"][-1]["content"] == "Noted. You said: streamed"
    assert len(await client.threads.get_history(thread_id, limit=20)) >= 6
    assert len(await client.runs.list(thread_id)) == 4
    assert await client.threads.count(metadata={"via": "pooler"}) >= 1
    namespace = ["pooled", uuid.uuid4().hex]
    await client.store.put_item(namespace, "k", {"v": 1})
    item = await client.store.get_item(namespace, "k")
    assert item is not None
    assert item["value"] == {"v": 1}
    found = await client.store.search_items(namespace, filter={"v": 1})
    assert [i["key"] for i in found["items"]] == ["k"]


async def test_a_cancel_sent_to_another_server_stops_the_run_soon(pair: tuple[str, Pair]) -> None:
    mode, (a, b) = pair
    on_a, on_b = get_client(url=a.url), get_client(url=b.url)
    thread = (await on_a.threads.create())["thread_id"]
    for _ in range(2):  # twice: one could land by luck with the leases' renewal (every 10 s)
        run = await on_a.runs.create(thread, "slow", input=say("long"), context={"delay": 60})
        run_id = run["run_id"]
        assert await eventually(lambda r=run_id: status_is(on_a, thread, r, "running"))
        asked = time.monotonic()
        await on_b.runs.cancel(thread, run_id)  # B does not hold it: A hears, or finds the flag
        assert await eventually(lambda r=run_id: status_is(on_b, thread, r, "interrupted"), 30)
        took = time.monotonic() - asked
        print(f"cancel across servers through the pooler ({mode}): {took:.2f} s")
        assert took < CANCEL_WITHIN[mode]


async def test_a_run_on_one_server_is_followed_to_its_end_on_another(
    pair: tuple[str, Pair],
) -> None:
    mode, (a, b) = pair
    on_a, on_b = get_client(url=a.url), get_client(url=b.url)
    thread = (await on_a.threads.create())["thread_id"]
    run = (await on_a.runs.create(thread, "talker", stream_mode="messages-tuple", **talk(30, 0.1)))[
        "run_id"
    ]
    assert await eventually(lambda: status_is(on_a, thread, run, "running"))
    ended = asyncio.create_task(_ended_at(on_a, thread, run))
    tokens, values = [], []
    async with asyncio.timeout(30):
        async for part in on_b.runs.join_stream(thread, run):
            if part.event == "messages":
                tokens.append((part.data[0]["content"], time.monotonic()))
            elif part.event == "values":
                values.append(part.data)
    joined_end = time.monotonic()
    assert (await on_a.runs.get(thread, run))["status"] == "success"
    if mode == "direct":  # relayed live, token by token
        assert len(tokens) >= 15, tokens
        assert tokens[-1][1] - tokens[0][1] > 1.0
    else:  # nothing relayed: the stream ends with the run, its outcome as one event
        assert values[-1]["messages"][-1]["content"] == reply_of(30)
    # However it learnt of the end, the reader was not kept waiting long after it.
    took = joined_end - await ended
    print(f"a stream followed on another server ended {took:.2f} s after its run ({mode})")
    # Without a relay: the row is read every 2 s, and a non-resumable reader waits one
    # more read (END_GRACE_SECONDS) for late events, so 2 to 4 s.
    assert took < (1.5 if mode == "direct" else 5.0)


async def _ended_at(client: LangGraphClient, thread: str, run: str) -> float:
    """When the run was seen to end, looking every 0.1 s."""
    ended = await eventually(
        lambda: status_is(client, thread, run, "success", "error", "interrupted"), seconds=60
    )
    assert ended
    return time.monotonic()


async def test_fifty_concurrent_runs_get_no_5xx(pair: tuple[str, Pair]) -> None:
    _, (a, b) = pair

    async def one(index: int) -> tuple[int, str]:
        server = (a, b)[index % 2]
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            thread = (await http.post("/threads", json={})).json()["thread_id"]
            response = await http.post(
                f"/threads/{thread}/runs/wait",
                json={"assistant_id": "streamer", "input": say(f"run {index}")},
            )
            reply = response.json()["messages"][-1]["content"] if response.is_success else ""
            return response.status_code, reply

    answers = await asyncio.gather(*(one(i) for i in range(50)))
    assert [code for code, _ in answers] == [200] * 50
    assert [reply for _, reply in answers] == [f"Noted. You said: run {i}" for i in range(50)]


async def test_postgres_restarting_under_load_yields_no_5xx_but_its_own(
    pair: tuple[str, Pair], postgres: PostgresForTests
) -> None:
    if postgres.embedded is None:
        pytest.skip("restarting PostgreSQL needs the embedded server")
    _, (a, _) = pair
    codes: list[int] = []
    restarted: list[float] = []
    recovered: dict[int, float] = {}

    async def client_loop(http: httpx.AsyncClient, index: int) -> None:
        thread = (await http.post("/threads", json={})).json()["thread_id"]
        while index not in recovered:
            response = await asyncio.wait_for(
                http.post(
                    f"/threads/{thread}/runs/wait",
                    json={"assistant_id": "streamer", "input": say(f"{index}")},
                ),
                timeout=30,
            )
            codes.append(response.status_code)
            if response.status_code == 503:
                assert response.headers["retry-after"] == "1"
                await asyncio.sleep(0.2)
            elif restarted and "__error__" not in response.json():
                recovered[index] = time.monotonic() - restarted[0]

    async with httpx.AsyncClient(base_url=a.url, timeout=60) as http:
        loops = [asyncio.create_task(client_loop(http, i)) for i in range(8)]
        assert await eventually(lambda: len(codes) >= 16, seconds=30)
        await asyncio.to_thread(postgres.embedded.restart)
        restarted.append(time.monotonic())
        await asyncio.wait_for(asyncio.gather(*loops), timeout=90)
    assert set(codes) <= {200, 503}, codes
    assert max(recovered.values()) < 15, recovered


# Session mode: a pooler smaller than langstar's pool


@pytest.fixture
def small_session_pooler(postgres: PostgresForTests) -> Iterator[pgbouncer.PgBouncer]:
    running = pgbouncer.PgBouncer(postgres.admin_url, mode="session", pool_size=2).start()
    yield running
    running.stop()


async def test_requests_beyond_a_small_session_pooler_get_503_within_the_pool_timeout(
    database: str, small_session_pooler: pgbouncer.PgBouncer, tmp_path: Path
) -> None:
    env = {
        **ENV,
        "DATABASE_URL": small_session_pooler.url(database),
        "LANGSTAR_DATABASE__DIRECT_URL": database,
        "LANGSTAR_DATABASE__POOLER": "session",
        "LANGSTAR_DATABASE__POOL_MIN_SIZE": "1",
        "LANGSTAR_DATABASE__POOL_MAX_SIZE": "5",
        "LANGSTAR_DATABASE__POOL_TIMEOUT_SECONDS": "2",
    }
    server = ServerProcess(env, tmp_path).start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            thread = (await http.post("/threads", json={})).json()["thread_id"]
            answers = await _while_threads_are_locked(database, http, thread, hold=6.0)
    finally:
        server.stop()
    refused = [(seconds, r) for seconds, r in answers if r.status_code == 503]
    served = [(seconds, r) for seconds, r in answers if r.status_code == 200]
    # The pooler's two server connections wait on the lock; nobody else gets one.
    assert len(refused) >= 4, [(s, r.status_code) for s, r in answers]
    assert len(served) + len(refused) == len(answers)
    for seconds, response in refused:
        assert response.headers["retry-after"] == "1"
        assert "database unavailable" in response.json()["detail"]
        assert 1.5 <= seconds < 4.0, seconds  # after pool_timeout_seconds, not much later


async def _while_threads_are_locked(
    database: str, http: httpx.AsyncClient, thread: str, *, hold: float
) -> list[tuple[float, httpx.Response]]:
    """Eight reads of the thread while the threads table is locked for `hold` seconds."""

    async def read() -> tuple[float, httpx.Response]:
        started = time.monotonic()
        response = await http.get(f"/threads/{thread}")
        return time.monotonic() - started, response

    async with await psycopg.AsyncConnection.connect(database) as lock:
        await lock.execute("LOCK TABLE threads IN ACCESS EXCLUSIVE MODE")
        reads = [asyncio.create_task(read()) for _ in range(8)]
        await asyncio.sleep(hold)
        await lock.rollback()
    return list(await asyncio.gather(*reads))
