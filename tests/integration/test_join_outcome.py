"""What `/join` answers for a run that has ended: the same as while it ran, whichever
process it asks and however late."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
from langgraph_sdk.client import LangGraphClient

from langstar.settings import Settings
from tests.support.apps import MakeApp
from tests.support.asgi import asgi_client
from tests.support.graphs import TEST_GRAPHS
from tests.support.sdk import sdk_for


@pytest.fixture
async def two(settings: Settings, make_app: MakeApp) -> AsyncIterator[tuple[LangGraphClient, ...]]:
    """The SDK on two server processes sharing one database."""
    graphs = msgspec.structs.replace(settings, graphs=TEST_GRAPHS)
    first, second = make_app(graphs), make_app(graphs)
    async with asgi_client(first), asgi_client(second):
        yield sdk_for(first), sdk_for(second)


async def test_a_run_stopped_at_an_interrupt_joins_the_same_from_anywhere_and_later(
    two: tuple[LangGraphClient, LangGraphClient],
) -> None:
    here, elsewhere = two
    thread = (await here.threads.create())["thread_id"]
    say: dict[str, Any] = {"messages": [{"role": "user", "content": "may I?"}]}
    run = await here.runs.create(thread, "hitl", input=say, stream_mode=["values"])
    joined_here = await here.runs.join(thread, run["run_id"])
    joined_elsewhere = await elsewhere.runs.join(thread, run["run_id"])
    assert isinstance(joined_here, dict)
    assert sorted(joined_here) == ["__interrupt__", "messages"]
    assert joined_elsewhere == joined_here
