"""Cancelling runs, through the official SDK.

As on LangGraph's Agent Server, a cancelled pending run is `interrupted` (or, rolled
back, gone) by the time the cancel answers.

Two apps on one database stand for two server processes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import NotFoundError

from langstar.settings import Settings
from tests.support.apps import MakeApp
from tests.support.asgi import asgi_client
from tests.support.graphs import TEST_GRAPHS
from tests.support.sdk import eventually, sdk_for

LONG = {"delay": 30}


def say(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


@pytest.fixture
def graphs_settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, graphs=TEST_GRAPHS)


@pytest.fixture
async def sdk(graphs_settings: Settings, make_app: MakeApp) -> AsyncIterator[LangGraphClient]:
    app = make_app(graphs_settings)
    async with asgi_client(app):
        yield sdk_for(app)


@pytest.fixture
async def two(
    graphs_settings: Settings, make_app: MakeApp
) -> AsyncIterator[tuple[LangGraphClient, LangGraphClient]]:
    """The SDK on two server processes sharing one database."""
    first, second = make_app(graphs_settings), make_app(graphs_settings)
    async with asgi_client(first), asgi_client(second):
        yield sdk_for(first), sdk_for(second)


async def running(sdk: LangGraphClient, thread_id: str, run_id: str) -> None:
    async def started() -> bool:
        return (await sdk.runs.get(thread_id, run_id))["status"] == "running"

    assert await eventually(started, 10)


async def thread_with_a_turn(sdk: LangGraphClient) -> str:
    """A thread with checkpoints already: one finished run."""
    thread_id = str((await sdk.threads.create())["thread_id"])
    await sdk.runs.wait(thread_id, "slow", input=say("first"), context={"delay": 0})
    return thread_id


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
