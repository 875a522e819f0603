"""A project's own `langgraph_sdk.Encryption` (langgraph.json `encryption.path`) encrypts
checkpoints at rest as on LangGraph's server: its blob handlers seal every checkpoint value
and pending write, each under the context its `@encryption.context` handler gave the
request that wrote it, and open them under that same context whoever reads them later."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec
import psycopg
import pytest
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import InternalServerError, UnprocessableEntityError

from langstar.settings import Settings, SettingsError
from tests.support.apps import MakeApp
from tests.support.asgi import asgi_client
from tests.support.sdk import sdk_for

PROJECT = Path(__file__).resolve().parents[1] / "support" / "projects" / "encrypted"
MARKER = "okapi-tangerine-9021"
ALICE = {"Authorization": "Bearer token-alice"}
BOB = {"Authorization": "Bearer token-bob"}

Serve = Callable[..., AbstractAsyncContextManager[Callable[..., LangGraphClient]]]


@pytest.fixture
def serve(settings: Settings, make_app: MakeApp, monkeypatch: pytest.MonkeyPatch) -> Serve:
    """`serve(config, key)`: the project served from `config` with `DIARY_MASTER_KEY=key`;
    it yields `sdk(**headers)`, the official SDK sending those headers."""

    @asynccontextmanager
    async def served(
        config: str = "langgraph.json", key: str = "master-1"
    ) -> AsyncIterator[Callable[..., LangGraphClient]]:
        monkeypatch.setenv("DIARY_MASTER_KEY", key)
        # No auth setting: the project's auth.path turns authentication on.
        auth = msgspec.structs.replace(settings.auth, mode="")
        app = make_app(
            msgspec.structs.replace(settings, graphs_from=str(PROJECT / config), auth=auth)
        )
        async with asgi_client(app):
            yield lambda **headers: sdk_for(app, **headers)

    return served


async def checkpoint_rows(url: str, thread: str) -> list[tuple[str, bytes]]:
    """Each blob and write of the thread as PostgreSQL holds it, and the checkpoints' JSON."""
    queries = (
        "SELECT type, blob FROM checkpoint_blobs WHERE thread_id = %s AND blob IS NOT NULL",
        "SELECT type, blob FROM checkpoint_writes WHERE thread_id = %s",
        "SELECT 'checkpoint', convert_to(checkpoint::text, 'UTF8') FROM checkpoints "
        "WHERE thread_id = %s",
    )
    async with await psycopg.AsyncConnection.connect(url) as conn:
        return [
            (row[0], bytes(row[1]))
            for query in queries
            for row in await (await conn.execute(query, (thread,))).fetchall()
        ]


def context_of(blob: bytes) -> dict[str, Any]:
    """The encryption context stored at the head of an encrypted blob."""
    size = int.from_bytes(blob[:4], "big")
    return dict(json.loads(blob[4 : 4 + size]))


async def diary(sdk: LangGraphClient, metadata: dict[str, Any] | None = None) -> str:
    """A thread holding the marker, from a run and from a state update."""
    thread = (await sdk.threads.create(metadata=metadata))["thread_id"]
    done = await sdk.runs.wait(thread, "diary", input={"entry": MARKER})
    assert done["said"] == MARKER
    await sdk.threads.update_state(thread, {"entry": "noted", "said": f"{MARKER} again"})
    return str(thread)


async def test_no_checkpoint_table_holds_what_runs_and_state_updates_wrote(
    serve: Serve, migrated_url: str
) -> None:
    async with serve() as sdk:
        alice = sdk(**ALICE)
        thread = await diary(alice, metadata={"topic": "garden"})
        state = await alice.threads.get_state(thread)
        assert state["values"] == {"entry": "noted", "said": f"{MARKER} again"}
        history = await alice.threads.get_history(thread)
        assert [h["values"].get("said") for h in history][:2] == [f"{MARKER} again", MARKER]
        # Thread metadata is the project's JSON handlers' to encrypt: kept as it was given,
        # it still filters.
        found = await alice.threads.search(metadata={"topic": "garden"})
        assert thread in [t["thread_id"] for t in found]
    rows = await checkpoint_rows(migrated_url, thread)
    assert all(kind.endswith("+encryption") for kind, _ in rows if kind != "checkpoint")
    assert len([kind for kind, _ in rows if kind == "msgpack+encryption"]) >= 4
    assert not [row for row in rows if MARKER.encode() in row[1]]


async def test_each_value_opens_under_the_context_it_was_written_with_whoever_reads_it(
    serve: Serve, migrated_url: str
) -> None:
    region = base64.b64encode(json.dumps({"region": "eu"}).encode()).decode()
    async with serve() as sdk:
        thread = await diary(sdk(**ALICE, **{"X-Encryption-Context": region}))
        # Bob's tenant has another key: his request's context does not decide how it opens.
        state = await sdk(**BOB).threads.get_state(thread)
        assert state["values"]["said"] == f"{MARKER} again"
        assert (await sdk(**BOB).runs.wait(thread, "diary", input={"entry": "x"}))["said"] == (
            f"{MARKER} again x"
        )
    contexts = [context_of(blob) for kind, blob in await checkpoint_rows(migrated_url, thread)
                if kind.endswith("+encryption")]  # fmt: skip
    assert {"tenant": "acme", "region": "eu"} in contexts
    assert {"tenant": "globex"} in contexts


async def test_a_value_that_does_not_decrypt_is_a_named_error(serve: Serve) -> None:
    async with serve() as sdk:
        thread = await diary(sdk(**ALICE))
    async with serve(key="another-master") as sdk:
        failed = await sdk(**ALICE).runs.wait(thread, "diary", input={"entry": "x"},
                                              raise_error=False)  # fmt: skip
        assert failed["__error__"]["error"] == "CheckpointReadError"
        assert "@encryption.decrypt.blob" in failed["__error__"]["message"]
        assert "authentication tag mismatch" in failed["__error__"]["message"]
        with pytest.raises(InternalServerError, match=r"decrypt\.blob"):
            await sdk(**ALICE).threads.get_state(thread)


async def test_encrypted_checkpoints_served_without_the_encryption_are_a_named_error(
    serve: Serve,
) -> None:
    async with serve() as sdk:
        thread = await diary(sdk(**ALICE))
    async with serve("plain.json") as sdk:
        with pytest.raises(InternalServerError, match=r"encryption\.path"):
            await sdk(**ALICE).threads.get_state(thread)


async def test_a_malformed_encryption_context_header_is_refused_with_422(serve: Serve) -> None:
    async with serve() as sdk:
        client = sdk(**ALICE, **{"X-Encryption-Context": "not base64 {"})
        with pytest.raises(UnprocessableEntityError, match="X-Encryption-Context"):
            await client.threads.create()


def test_an_encryption_with_one_json_handler_without_the_other_stops_start_up(
    settings: Settings, make_app: MakeApp
) -> None:
    project = msgspec.structs.replace(settings, graphs_from=str(PROJECT / "half_json.json"))
    with pytest.raises(SettingsError) as refused:
        make_app(project)
    assert str(refused.value).startswith("langgraph.json encryption.path")
    assert "add @decrypt.json" in str(refused.value)
