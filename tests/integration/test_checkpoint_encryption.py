"""`LANGGRAPH_AES_KEY` encrypts checkpoints at rest, as on LangGraph's server: nothing a run
said is left readable in the checkpoint tables, what was written before the key was set
still reads, and a missing or wrong key is a named error."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec
import psycopg
import pytest
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import InternalServerError

from langstar.settings import Settings
from tests.support.apps import MakeApp, StartupError
from tests.support.asgi import asgi_client
from tests.support.sdk import sdk_for

PROJECT = Path(__file__).resolve().parents[1] / "support" / "projects" / "pickled"
KEY = "k" * 32
OTHER_KEY = "o" * 32
MARKER = "zebra-marmalade-4711"

Serve = Callable[[str | None], AbstractAsyncContextManager[LangGraphClient]]


@pytest.fixture
def serve(settings: Settings, make_app: MakeApp, monkeypatch: pytest.MonkeyPatch) -> Serve:
    """`serve(key)`: the official SDK on a server started with `LANGGRAPH_AES_KEY=key` (none
    when None), serving a graph that keeps strings, and an object only pickle can store."""
    project = msgspec.structs.replace(settings, graphs_from=str(PROJECT / "langgraph.json"))

    @asynccontextmanager
    async def served(key: str | None) -> AsyncIterator[LangGraphClient]:
        if key is None:
            monkeypatch.delenv("LANGGRAPH_AES_KEY", raising=False)
        else:
            monkeypatch.setenv("LANGGRAPH_AES_KEY", key)
        app = make_app(project)
        async with asgi_client(app):
            yield sdk_for(app)

    return served


async def turn(sdk: LangGraphClient, thread: str, word: str) -> Any:
    return await sdk.runs.wait(thread, "tally", input={"word": word}, raise_error=False)


async def stored(url: str, thread: str) -> list[bytes]:
    """Every checkpoint row of the thread, as the bytes PostgreSQL holds."""
    queries = (
        "SELECT type, blob FROM checkpoint_blobs WHERE thread_id = %s",
        "SELECT type, blob FROM checkpoint_writes WHERE thread_id = %s",
        "SELECT checkpoint::text, metadata::text FROM checkpoints WHERE thread_id = %s",
    )
    found: list[bytes] = []
    async with await psycopg.AsyncConnection.connect(url) as conn:
        for query in queries:
            for row in await (await conn.execute(query, (thread,))).fetchall():
                found += [v if isinstance(v, bytes) else str(v).encode() for v in row if v]
    return found


async def test_with_a_key_no_checkpoint_table_holds_what_a_run_said(
    serve: Serve, migrated_url: str
) -> None:
    async with serve(KEY) as sdk:
        thread = (await sdk.threads.create())["thread_id"]
        assert (await turn(sdk, thread, MARKER))["said"] == MARKER
        assert (await turn(sdk, thread, "again"))["said"] == f"{MARKER} again"
        state = await sdk.threads.get_state(thread)
        assert state["values"]["word"] == "again"
    rows = await stored(migrated_url, thread)
    assert rows
    assert not [row for row in rows if MARKER.encode() in row]


async def test_checkpoints_written_before_the_key_was_set_stay_readable(serve: Serve) -> None:
    async with serve(None) as sdk:
        thread = (await sdk.threads.create())["thread_id"]
        assert (await turn(sdk, thread, "plain"))["said"] == "plain"
    async with serve(KEY) as sdk:
        assert (await sdk.threads.get_state(thread))["values"]["said"] == "plain"
        assert (await turn(sdk, thread, "secret"))["said"] == "plain secret"
        # `first`, written before the key and never again, is still there.
        assert (await turn(sdk, thread, "more"))["first"] == "plain"
        assert (await sdk.threads.get_state(thread))["values"]["first"] == "plain"


@pytest.mark.parametrize(("key", "reason"), [(OTHER_KEY, "does not decrypt"), (None, "is not set")])
async def test_encrypted_checkpoints_read_with_a_wrong_or_no_key_are_a_named_error(
    serve: Serve, key: str | None, reason: str
) -> None:
    async with serve(KEY) as sdk:
        thread = (await sdk.threads.create())["thread_id"]
        assert (await turn(sdk, thread, "secret"))["said"] == "secret"
    async with serve(key) as sdk:
        failed = (await turn(sdk, thread, "more"))["__error__"]
        assert failed["error"] == "CheckpointReadError"
        assert "LANGGRAPH_AES_KEY" in failed["message"]
        assert reason in failed["message"]
        with pytest.raises(InternalServerError) as refused:
            await sdk.threads.get_state(thread)
        assert "LANGGRAPH_AES_KEY" in str(refused.value)


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"LANGGRAPH_AES_KEY": "too short"}, "LANGGRAPH_AES_KEY: must be 16, 24 or 32 bytes"),
        (
            {"LANGGRAPH_AES_KEY": KEY, "LANGGRAPH_AES_JSON_KEYS": "secret"},
            "LANGGRAPH_AES_JSON_KEYS: not supported",
        ),
    ],
)
async def test_an_encryption_variable_langstar_cannot_honour_stops_start_up_naming_it(
    settings: Settings,
    startup_error: StartupError,
    monkeypatch: pytest.MonkeyPatch,
    variables: dict[str, str],
    named: str,
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert named in str(await startup_error(settings))
