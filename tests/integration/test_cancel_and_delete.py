"""Deleting a thread with runs in flight, and cancelling runs, through the official SDK.

As on LangGraph's Agent Server: deleting a thread cancels its pending and running runs
and answers at once; the runs' waiters get an end. The running graph is stopped, and
whatever it writes while it stops is removed with the thread. A cancelled pending run is
`interrupted` (or, rolled back, gone) by the time the cancel answers.

Two apps on one database stand for two server processes.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import psycopg
import pytest
from dishka import Provider, Scope, provide
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import NotFoundError

from langstar.db.notifications import Notifications
from langstar.db.providers import Database
from langstar.settings import Settings
from tests.support.apps import MakeApp
from tests.support.asgi import asgi_client
from tests.support.graphs import TEST_GRAPHS
from tests.support.sdk import eventually, sdk_for

LONG = {"delay": 30}
CHECKPOINT_TABLES = ("checkpoints", "checkpoint_blobs", "checkpoint_writes")


def say(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


@pytest.fixture
def graphs_settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, graphs=TEST_GRAPHS)


@pytest.fixture
async def two(
    graphs_settings: Settings, make_app: MakeApp
) -> AsyncIterator[tuple[LangGraphClient, LangGraphClient]]:
    """The SDK on two server processes sharing one database."""
    first, second = make_app(graphs_settings), make_app(graphs_settings)
    async with asgi_client(first), asgi_client(second):
        yield sdk_for(first), sdk_for(second)


class DeafProvider(Provider):
    """Notifications that are sent but never heard, as behind a transaction pooler."""

    @provide(scope=Scope.APP, override=True)
    async def provide_notifications(self, database: Database) -> AsyncIterator[Notifications]:
        notifications = Notifications(database.conninfo(direct=False), listening=False)
        notifications.open()
        yield notifications
        await notifications.aclose()


def rows_of(url: str, thread_id: str) -> dict[str, int]:
    """How many rows each table holds for the thread, beside its own row and its runs'."""
    with psycopg.connect(url, autocommit=True) as conn:
        counts = {
            table: conn.execute(
                f"SELECT count(*) FROM {table} WHERE thread_id = %s", (thread_id,)
            ).fetchone()[0]  # type: ignore[index]
            for table in CHECKPOINT_TABLES
        }
        for table in ("threads", "runs"):
            counts[table] = conn.execute(
                f"SELECT count(*) FROM {table} WHERE thread_id = %s", (uuid.UUID(thread_id),)
            ).fetchone()[0]  # type: ignore[index]
    return counts


NOTHING = dict.fromkeys((*CHECKPOINT_TABLES, "threads", "runs"), 0)


async def running(sdk: LangGraphClient, thread_id: str, run_id: str) -> None:
    async def started() -> bool:
        return (await sdk.runs.get(thread_id, run_id))["status"] == "running"

    assert await eventually(started, 10)


async def thread_with_a_turn(sdk: LangGraphClient) -> str:
    """A thread with checkpoints already: one finished run."""
    thread_id = str((await sdk.threads.create())["thread_id"])
    await sdk.runs.wait(thread_id, "slow", input=say("first"), context={"delay": 0})
    return thread_id


async def test_deleting_a_thread_with_a_running_run_stops_it_and_leaves_nothing_behind(
    sdk: LangGraphClient, migrated_url: str
) -> None:
    thread_id = await thread_with_a_turn(sdk)
    run = await sdk.runs.create(thread_id, "slow", input=say("z"), context={"delay": 1.0})
    await running(sdk, thread_id, run["run_id"])
    async with asyncio.timeout(2):  # it does not wait for the run
        await sdk.threads.delete(thread_id)
    with pytest.raises(NotFoundError):
        await sdk.threads.get(thread_id)
    with pytest.raises(NotFoundError):
        await sdk.runs.get(thread_id, run["run_id"])
    await asyncio.sleep(1.5)  # past when the graph would have written its last checkpoint
    assert rows_of(migrated_url, thread_id) == NOTHING


async def test_what_a_stopping_graph_writes_does_not_bring_a_deleted_thread_back(
    sdk: LangGraphClient, migrated_url: str
) -> None:
    """With `durability="exit"` a graph writes its checkpoint as it stops, cancelled or not:
    after the thread's rows were deleted."""
    thread_id = await thread_with_a_turn(sdk)
    run = await sdk.runs.create(thread_id, "slow", input=say("z"), context=LONG, durability="exit")
    await running(sdk, thread_id, run["run_id"])
    await sdk.threads.delete(thread_id)
    assert await eventually(lambda: rows_of(migrated_url, thread_id) == NOTHING, 5)
    await asyncio.sleep(0.5)
    assert rows_of(migrated_url, thread_id) == NOTHING


async def test_deleting_a_thread_with_a_pending_run_cancels_it(
    sdk: LangGraphClient, migrated_url: str
) -> None:
    thread_id = await thread_with_a_turn(sdk)
    run = await sdk.runs.create(thread_id, "slow", input=say("z"), after_seconds=1)
    assert run["status"] == "pending"
    await sdk.threads.delete(thread_id)
    with pytest.raises(NotFoundError):
        await sdk.runs.get(thread_id, run["run_id"])
    await asyncio.sleep(1.5)  # past when it would have started
    assert rows_of(migrated_url, thread_id) == NOTHING


async def test_clients_joined_on_a_run_get_an_end_when_its_thread_is_deleted(
    sdk: LangGraphClient,
) -> None:
    thread_id = str((await sdk.threads.create())["thread_id"])
    run = await sdk.runs.create(thread_id, "slow", input=say("z"), context=LONG)
    await running(sdk, thread_id, run["run_id"])

    async def streamed() -> list[str]:
        return [part.event async for part in sdk.runs.join_stream(thread_id, run["run_id"])]

    joined = asyncio.ensure_future(sdk.runs.join(thread_id, run["run_id"]))
    stream = asyncio.ensure_future(streamed())
    await asyncio.sleep(0.3)
    await sdk.threads.delete(thread_id)
    async with asyncio.timeout(5):
        answer, events = await asyncio.gather(joined, stream)
    assert set(answer) == {"__error__"}
    assert events == ["error"]


async def test_a_thread_deleted_through_another_process_stops_the_run_held_by_the_first(
    two: tuple[LangGraphClient, LangGraphClient], migrated_url: str
) -> None:
    first, second = two
    thread_id = await thread_with_a_turn(first)
    run = await first.runs.create(
        thread_id, "slow", input=say("z"), context=LONG, durability="exit"
    )
    await running(first, thread_id, run["run_id"])
    waiter = asyncio.ensure_future(first.runs.join(thread_id, run["run_id"]))
    await second.threads.delete(thread_id)
    async with asyncio.timeout(5):
        assert set(await waiter) == {"__error__"}
    assert await eventually(lambda: rows_of(migrated_url, thread_id) == NOTHING, 5)


async def test_a_process_that_hears_no_notifications_stops_a_run_whose_thread_went(
    graphs_settings: Settings, make_app: MakeApp, migrated_url: str
) -> None:
    """It finds the run's row gone when it next looks for cancels, within a second."""
    deaf, other = make_app(graphs_settings, DeafProvider()), make_app(graphs_settings)
    async with asgi_client(deaf), asgi_client(other):
        holder, deleter = sdk_for(deaf), sdk_for(other)
        thread_id = await thread_with_a_turn(holder)
        run = await holder.runs.create(
            thread_id, "slow", input=say("z"), context=LONG, durability="exit"
        )
        await running(holder, thread_id, run["run_id"])
        waiter = asyncio.ensure_future(holder.runs.join(thread_id, run["run_id"]))
        await deleter.threads.delete(thread_id)
        async with asyncio.timeout(5):
            assert set(await waiter) == {"__error__"}
        assert rows_of(migrated_url, thread_id) == NOTHING


@pytest.mark.parametrize("wait", [False, True])
async def test_a_cancelled_pending_run_is_interrupted_by_the_time_the_cancel_answers(
    two: tuple[LangGraphClient, LangGraphClient], wait: bool
) -> None:
    """On the process holding the run, and on another one."""
    for holder, canceller in (two, two[::-1]):
        thread_id = await thread_with_a_turn(holder)
        run = await holder.runs.create(thread_id, "slow", input=say("z"), after_seconds=5)
        await canceller.runs.cancel(thread_id, run["run_id"], wait=wait)
        assert (await canceller.runs.get(thread_id, run["run_id"]))["status"] == "interrupted"
        assert (await canceller.threads.get(thread_id))["status"] == "idle"


async def test_a_pending_run_rolled_back_is_gone_by_the_time_the_cancel_answers(
    two: tuple[LangGraphClient, LangGraphClient],
) -> None:
    for holder, canceller in (two, two[::-1]):
        thread_id = await thread_with_a_turn(holder)
        run = await holder.runs.create(thread_id, "slow", input=say("z"), after_seconds=5)
        await canceller.runs.cancel(thread_id, run["run_id"], action="rollback")
        with pytest.raises(NotFoundError):
            await canceller.runs.get(thread_id, run["run_id"])
        assert (await canceller.threads.get(thread_id))["status"] == "idle"


async def test_a_cancel_that_waits_answers_once_a_run_held_by_another_process_has_ended(
    two: tuple[LangGraphClient, LangGraphClient],
) -> None:
    first, second = two
    thread_id = str((await first.threads.create())["thread_id"])
    run = await first.runs.create(thread_id, "slow", input=say("z"), context=LONG)
    await running(first, thread_id, run["run_id"])
    await second.runs.cancel(thread_id, run["run_id"], wait=True)
    assert (await second.runs.get(thread_id, run["run_id"]))["status"] == "interrupted"
    assert (await second.threads.get(thread_id))["status"] == "idle"
