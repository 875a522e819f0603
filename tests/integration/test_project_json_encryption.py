"""A project's JSON handlers (`@encryption.encrypt.json`, `@encryption.decrypt.json`) encrypt
what langstar keeps as JSON, as on LangGraph's server: thread metadata, config, values and
interrupts; run metadata and kwargs; assistant metadata, config and context; cron metadata
and payload; store values; checkpoint metadata. Clients read it all back as they gave it;
no table holds it readable; the fields the project keeps readable still filter; what was
written before the handlers were set still reads; a value that does not decrypt is a
named error."""

from __future__ import annotations

import uuid
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
from tests.support.apps import MakeApp
from tests.support.asgi import asgi_client
from tests.support.sdk import sdk_for
from tests.support.settings import settings_for

PROJECT = Path(__file__).resolve().parents[1] / "support" / "projects" / "encrypted"
MARKER = "quokka-saffron-3318"
ALICE = {"Authorization": "Bearer token-alice"}
# Every table that holds what clients send or runs write.
TABLES = (
    "threads", "runs", "assistants", "assistant_versions", "crons", "store", "checkpoints",
    "checkpoint_blobs", "checkpoint_writes", "webhook_deliveries",
)  # fmt: skip

Serve = Callable[..., AbstractAsyncContextManager[LangGraphClient]]


@pytest.fixture
def settings(migrated_database: str, tmp_path: Path) -> Settings:
    """A database of its own: what these tests seal cannot be read by a server without the
    project's Encryption, as other tests' servers are."""
    return settings_for(migrated_database, tmp_path)


@pytest.fixture
def serve(settings: Settings, make_app: MakeApp, monkeypatch: pytest.MonkeyPatch) -> Serve:
    """`serve(config, key)`: the SDK, as Alice, on the project served from `config` with
    `DIARY_MASTER_KEY=key`."""

    @asynccontextmanager
    async def served(
        config: str = "with_json.json", key: str = "master-1"
    ) -> AsyncIterator[LangGraphClient]:
        monkeypatch.setenv("DIARY_MASTER_KEY", key)
        auth = msgspec.structs.replace(settings.auth, mode="")
        runs = msgspec.structs.replace(settings.runs, configurable_keys=["secret"])
        project = str(PROJECT / config)
        app = make_app(msgspec.structs.replace(settings, graphs_from=project, auth=auth, runs=runs))
        async with asgi_client(app):
            yield sdk_for(app, **ALICE)

    return served


async def readable(url: str) -> list[str]:
    """Each table whose rows, as PostgreSQL holds them (text and bytes), hold the marker."""
    found = []
    async with await psycopg.AsyncConnection.connect(url) as conn:
        for table in TABLES:
            cur = await conn.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = %s AND data_type = 'bytea'",
                (table,),
            )
            clauses = ["position(%s in t::text) > 0"]
            for (column,) in await cur.fetchall():
                clauses.append(f"position(convert_to(%s, 'UTF8') in t.{column}) > 0")
            cur = await conn.execute(
                f"SELECT count(*) FROM {table} t WHERE {' OR '.join(clauses)}",
                [MARKER] * len(clauses),
            )
            if (await cur.fetchone() or (0,))[0]:
                found.append(table)
    return found


def an_owner() -> str:
    """A value of the field the project's handler leaves readable, new for each test, so
    that a search by it finds only that test's objects."""
    return f"alice-{uuid.uuid4().hex[:8]}"


async def thread_with_a_run(sdk: LangGraphClient, owner: str = "") -> tuple[str, dict[str, Any]]:
    thread = await sdk.threads.create(metadata={"topic": MARKER, "owner": owner or an_owner()})
    run = await sdk.runs.create(
        thread["thread_id"],
        "diary",
        input={"entry": MARKER},
        metadata={"note": MARKER},
        config={"configurable": {"secret": MARKER}, "tags": [MARKER]},
    )
    await sdk.runs.join(thread["thread_id"], run["run_id"])
    return thread["thread_id"], run


async def test_threads_and_runs_read_back_as_given_and_no_table_holds_them(
    serve: Serve, settings: Settings
) -> None:
    owner = an_owner()
    async with serve() as sdk:
        thread, run = await thread_with_a_run(sdk, owner)
        assert run["metadata"]["note"] == MARKER
        assert run["kwargs"]["input"] == {"entry": MARKER}
        shown = await sdk.threads.get(thread)
        assert shown["metadata"]["topic"] == MARKER
        assert shown["values"] == {"entry": MARKER, "said": MARKER}
        assert shown["config"]["configurable"] == {}  # only the assistant's, as on the server
        again = await sdk.runs.get(thread, run["run_id"])
        assert again["kwargs"]["config"]["configurable"]["secret"] == MARKER
        assert again["kwargs"]["config"]["tags"] == [MARKER]
        assert again["metadata"]["note"] == MARKER
        assert (await sdk.runs.list(thread))[0]["kwargs"]["input"] == {"entry": MARKER}
        await sdk.threads.update(thread, metadata={"mood": MARKER})
        # The readable field still filters; what `extract` picks is read once opened.
        found = await sdk.threads.search(
            metadata={"owner": owner}, extract={"said": "values.said", "mood": "metadata.mood"}
        )
        assert [(t["thread_id"], t["extracted"]) for t in found] == [
            (thread, {"said": MARKER, "mood": MARKER})
        ]
        history = await sdk.threads.get_history(thread)
        assert history[0]["values"]["said"] == MARKER
        assert history[0]["metadata"]["note"] == MARKER
    assert await readable(settings.database.url) == []


async def test_assistants_crons_and_store_items_read_back_as_given_and_no_table_holds_them(
    serve: Serve, settings: Settings
) -> None:
    owner = an_owner()
    async with serve() as sdk:
        assistant = await sdk.assistants.create(
            "diary",
            config={"configurable": {"secret": MARKER}},
            context={"voice": MARKER},
            metadata={"label": MARKER, "owner": owner},
        )
        assert assistant["config"]["configurable"]["secret"] == MARKER
        assistant_id = assistant["assistant_id"]
        patched = await sdk.assistants.update(assistant_id, metadata={"more": MARKER})
        assert (patched["metadata"]["label"], patched["metadata"]["more"]) == (MARKER, MARKER)
        shown = await sdk.assistants.get(assistant_id)
        assert shown["context"] == {"voice": MARKER}
        versions = await sdk.assistants.get_versions(assistant_id)
        assert [v["metadata"]["label"] for v in versions] == [MARKER, MARKER]
        found = await sdk.assistants.search(metadata={"owner": owner})
        assert [a["config"]["configurable"]["secret"] for a in found] == [MARKER]
        # A run on it takes the assistant's config and metadata, opened.
        thread = (await sdk.threads.create())["thread_id"]
        await sdk.runs.wait(thread, assistant_id, input={"entry": "hello"})
        run = (await sdk.runs.list(thread))[0]
        assert run["metadata"]["label"] == MARKER
        cron = await sdk.crons.create_for_thread(
            thread, assistant_id, schedule="0 0 1 1 *", input={"entry": MARKER},
            metadata={"why": MARKER},
        )  # fmt: skip
        crons = await sdk.crons.search(thread_id=thread)
        assert [(c["metadata"]["why"], c["payload"]["input"]) for c in crons] == [
            (MARKER, {"entry": MARKER})
        ]
        updated = await sdk.crons.update(cron["cron_id"], input={"entry": f"{MARKER}!"})
        assert updated["payload"]["input"] == {"entry": f"{MARKER}!"}
        await sdk.store.put_item(["notes"], "first", {"text": MARKER, "owner": owner})
        item = await sdk.store.get_item(["notes"], "first")
        assert item is not None
        assert item["value"] == {"text": MARKER, "owner": owner}
        searched = await sdk.store.search_items(["notes"], filter={"owner": owner})
        assert [i["value"]["text"] for i in searched["items"]] == [MARKER]
    assert await readable(settings.database.url) == []


async def test_what_was_written_before_the_json_handlers_were_set_still_reads(
    serve: Serve,
) -> None:
    async with serve("langgraph.json") as sdk:
        thread, run = await thread_with_a_run(sdk)
    async with serve() as sdk:
        assert (await sdk.threads.get(thread))["metadata"]["topic"] == MARKER
        assert (await sdk.runs.get(thread, run["run_id"]))["metadata"]["note"] == MARKER
        await sdk.runs.wait(thread, "diary", input={"entry": "more"})
        assert (await sdk.threads.get(thread))["values"]["said"] == f"{MARKER} more"


async def test_json_that_does_not_decrypt_is_a_named_error(serve: Serve) -> None:
    async with serve() as sdk:
        thread, _ = await thread_with_a_run(sdk)
    async with serve(key="another-master") as sdk:
        with pytest.raises(InternalServerError, match=r"decrypt\.json"):
            await sdk.threads.get(thread)
    async with serve("plain.json") as sdk:
        with pytest.raises(InternalServerError, match=r"encryption\.path"):
            await sdk.threads.get(thread)
