"""A state value msgpack cannot encode is stored pickled, as LangGraph's server stores it, and
is read back unless the project's `checkpointer.serde.pickle_fallback` forbids it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec
import pytest
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import InternalServerError

from langstar.settings import Settings
from tests.support.apps import MakeApp
from tests.support.asgi import asgi_client
from tests.support.sdk import sdk_for

PROJECT = Path(__file__).resolve().parents[1] / "support" / "projects" / "pickled"

Serve = Callable[[str], AbstractAsyncContextManager[LangGraphClient]]


@pytest.fixture
def serve(settings: Settings, make_app: MakeApp) -> Serve:
    """`serve("langgraph.json")`: the official SDK on the project under that file."""

    @asynccontextmanager
    async def served(config: str) -> AsyncIterator[LangGraphClient]:
        project = msgspec.structs.replace(settings, graphs_from=str(PROJECT / config))
        app = make_app(project)
        async with asgi_client(app):
            yield sdk_for(app)

    return served


async def turn(sdk: LangGraphClient, thread: str, word: str) -> Any:
    return await sdk.runs.wait(thread, "tally", input={"word": word}, raise_error=False)


@pytest.mark.parametrize("config", ["langgraph.json", "plain.json"])
async def test_an_object_msgpack_cannot_encode_round_trips_unless_pickle_fallback_is_off(
    serve: Serve, config: str
) -> None:
    async with serve(config) as sdk:
        thread = (await sdk.threads.create())["thread_id"]
        assert (await turn(sdk, thread, "one"))["said"] == "one"
        # The second turn reads the first turn's object back from its checkpoint.
        assert (await turn(sdk, thread, "two"))["said"] == "one two"
        state = await sdk.threads.get_state(thread)
        assert state["values"]["said"] == "one two"


async def test_a_pickled_value_is_stored_but_not_read_back_when_the_project_forbids_it(
    serve: Serve,
) -> None:
    async with serve("refused.json") as sdk:
        thread = (await sdk.threads.create())["thread_id"]
        assert (await turn(sdk, thread, "one"))["said"] == "one"
        failed = await turn(sdk, thread, "two")
        error = failed["__error__"]
        assert error["error"] == "CheckpointReadError"
        assert "Tally" in error["message"]
        assert "pickle_fallback" in error["message"]
        with pytest.raises(InternalServerError) as refused:
            await sdk.threads.get_state(thread)
        assert "Tally" in str(refused.value)
        assert "pickle_fallback" in str(refused.value)
