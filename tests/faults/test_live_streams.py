"""Real server processes on one database: a run executing on one is followed live on another."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient

from tests.support.graphs import TEST_GRAPHS, reply_of
from tests.support.postgres import PostgresForTests
from tests.support.sdk import eventually
from tests.support.server import ServerProcess

GRAPHS = {**TEST_GRAPHS, "talker": "tests.support.graphs:talker"}
ENV = {f"LANGSTAR_GRAPHS__{name.upper()}": spec for name, spec in GRAPHS.items()}
# A run whose process dies is failed by another once its lease lapses: keep that short.
LEASE = {"LANGSTAR_RUNS__LEASE_SECONDS": "3", "LANGSTAR_LOG_LEVEL": "warning"}


@pytest.fixture(scope="module")
def database(postgres: PostgresForTests) -> Iterator[str]:
    with postgres.migrated("live") as url:
        yield url


def server(url: str, cwd: Path) -> ServerProcess:
    env = {"DATABASE_URL": url, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return ServerProcess({**env, **ENV, **LEASE}, cwd).start()


@pytest.fixture(scope="module")
def pair(
    database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    cwd = tmp_path_factory.mktemp("live")
    a, b = server(database, cwd), server(database, cwd)
    yield a, b
    a.stop()
    b.stop()


def talk(tokens: int, delay: float) -> dict[str, Any]:
    return {
        "input": {"messages": [{"role": "user", "content": "hi"}]},
        "context": {"tokens": tokens, "delay": delay},
    }


def token(part: Any) -> str:
    return str(part.data[0]["content"])


async def stream_here(
    client: LangGraphClient, thread: str, run_id: asyncio.Future[str], tokens: list[str]
) -> float:
    """Start a talk on `client`'s server and stream it there; returns when it ended."""
    async for part in client.runs.stream(
        thread, "talker", stream_mode="messages-tuple", **talk(30, 0.1)
    ):
        if part.event == "metadata":
            run_id.set_result(part.data["run_id"])
        elif part.event == "messages":
            tokens.append(token(part))
    return time.monotonic()


async def test_a_run_joined_on_another_server_streams_its_tokens_live(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = pair
    on_a, on_b = get_client(url=a.url), get_client(url=b.url)
    thread = (await on_a.threads.create())["thread_id"]
    run_id: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    on_a_tokens: list[str] = []
    streaming = asyncio.create_task(stream_here(on_a, thread, run_id, on_a_tokens))
    run = await run_id
    assert await eventually(lambda: len(on_a_tokens) >= 3)  # under way
    on_b_tokens, arrived = [], []
    async with asyncio.timeout(30):
        async for part in on_b.runs.join_stream(thread, run):
            if part.event == "messages":
                on_b_tokens.append(token(part))
                arrived.append(time.monotonic())
    joined_end = time.monotonic()
    ended = await streaming
    # The tokens came as the model made them, not with the run's end...
    assert len(on_b_tokens) >= 15, on_b_tokens
    assert arrived[0] < ended - 1.0
    assert arrived[-1] - arrived[0] > 1.0
    # ...the same ones, in the same order, from the moment B joined...
    assert on_b_tokens == on_a_tokens[-len(on_b_tokens) :]
    # ...and the stream ended with the run.
    assert abs(joined_end - ended) < 1.5
    assert (await on_b.runs.get(thread, run))["status"] == "success"


async def test_a_thread_stream_on_another_server_sees_the_runs_live(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = pair
    on_a, on_b = get_client(url=a.url), get_client(url=b.url)
    thread = (await on_a.threads.create())["thread_id"]
    seen: list[tuple[Any, float]] = []

    async def watch() -> None:
        stream = await on_b.threads.join_stream(thread, stream_mode=["run_modes"])
        async for part in stream:
            seen.append((part, time.monotonic()))
            if part.event == "metadata" and part.data.get("status") == "run_done":
                return

    watching = asyncio.create_task(watch())
    await asyncio.sleep(1.0)  # the watch is open, and B has said it follows the thread
    run_id: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    on_a_tokens: list[str] = []
    ended = await stream_here(on_a, thread, run_id, on_a_tokens)
    await asyncio.wait_for(watching, 10)
    messages = [(token(p), at) for p, at in seen if p.event == "messages"]
    assert [t for t, _ in messages] == on_a_tokens
    assert messages[0][1] < ended - 1.0  # live
    done = seen[-1]
    assert done[0].data == {"status": "run_done", "run_id": await run_id}
    assert done[1] - ended < 1.5


async def test_a_resumable_run_joined_on_another_server_replays_then_goes_on_live(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = pair
    on_a, on_b = get_client(url=a.url), get_client(url=b.url)
    thread = (await on_a.threads.create())["thread_id"]
    run = await on_a.runs.create(
        thread, "talker", stream_mode="messages-tuple", stream_resumable=True, **talk(40, 0.1)
    )
    await asyncio.sleep(1.5)  # some tokens are stored already
    parts, arrived = [], []
    async with asyncio.timeout(30):
        async for part in on_b.runs.join_stream(thread, run["run_id"], last_event_id="3"):
            parts.append(part)
            arrived.append(time.monotonic())
    everything = [p async for p in on_a.runs.join_stream(thread, run["run_id"], last_event_id="-1")]
    assert [int(p.id) for p in parts] == list(range(4, len(parts) + 4))
    assert [(p.event, p.data) for p in parts] == [(p.event, p.data) for p in everything[3:]]
    # What was stored came at once; the rest as the model made it, a token every 0.1 s,
    # not in bunches as a reader polling the stored events would get it.
    live = [at for p, at in zip(parts, arrived, strict=True) if p.event == "messages"][-20:]
    gaps = [later - earlier for earlier, later in itertools.pairwise(live)]
    assert statistics.median(gaps) > 0.05, gaps


async def test_a_join_on_another_server_filters_modes_and_cancels_when_its_client_leaves(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = pair
    on_a, on_b = get_client(url=a.url), get_client(url=b.url)
    thread = (await on_a.threads.create())["thread_id"]
    modes = ["values", "messages-tuple"]
    run = await on_a.runs.create(thread, "talker", stream_mode=modes, **talk(10, 0.1))
    only_values = [
        p async for p in on_b.runs.join_stream(thread, run["run_id"], stream_mode="values")
    ]
    assert {p.event for p in only_values} == {"values"}
    assert only_values[-1].data["messages"][-1]["content"] == reply_of(10)

    doomed = await on_a.runs.create(thread, "talker", stream_mode=modes, **talk(200, 0.1))
    joined = on_b.runs.join_stream(thread, doomed["run_id"], cancel_on_disconnect=True)
    tokens = 0
    async for part in joined:
        tokens += part.event == "messages"
        if tokens == 3:
            break
    await joined.aclose()  # type: ignore[attr-defined]  # the client leaves
    status = await eventually(
        lambda: _status_is(on_a, thread, doomed["run_id"], "interrupted"), seconds=10
    )
    assert status


async def _status_is(client: LangGraphClient, thread: str, run: str, status: str) -> bool:
    return bool((await client.runs.get(thread, run))["status"] == status)


async def test_a_follower_whose_runs_server_dies_follows_its_next_attempt_elsewhere(
    database: str, pair: tuple[ServerProcess, ServerProcess], tmp_path: Path
) -> None:
    _, b = pair
    doomed = server(database, tmp_path)
    assert doomed.proc is not None
    try:
        on_doomed, on_b = get_client(url=doomed.url), get_client(url=b.url)
        thread = (await on_doomed.threads.create())["thread_id"]
        run = await on_doomed.runs.create(
            thread, "talker", stream_mode="messages-tuple", **talk(600, 0.1)
        )
        before = after = 0
        killed = 0.0
        async with asyncio.timeout(40):
            async for part in on_b.runs.join_stream(thread, run["run_id"]):
                if part.event != "messages":
                    continue
                if not killed:
                    before += 1
                    if before == 5:
                        os.kill(doomed.proc.pid, signal.SIGKILL)
                        killed = time.monotonic()
                elif time.monotonic() - killed > 1:  # the dead server's last words are past
                    after += 1
                    if after == 5:
                        break
        # Queued again once its lease lapsed (3 s), resumed by a live server, and its
        # tokens reach the follower again.
        assert time.monotonic() - killed < 15
        again = await on_b.runs.get(thread, run["run_id"])
        assert again["status"] == "running"
        await on_b.runs.cancel(thread, run["run_id"], wait=True)
    finally:
        doomed.stop()
