"""A project whose `langgraph_sdk.Encryption` has JSON handlers answers its clients on
langstar as on `langgraph dev`: threads, runs, assistants and store items read back as
they were given, and the field the project leaves readable still filters."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph_sdk import get_client

from tests.support.langgraph_dev import beside_langgraph_dev
from tests.support.postgres import PostgresForTests

PROJECT = Path(__file__).resolve().parents[1] / "support" / "projects" / "encrypted"
MARKER = "wombat-cardamom-5150"
ALICE = {"Authorization": "Bearer token-alice"}


@pytest.fixture(scope="module")
def servers(
    postgres: PostgresForTests, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    project = tmp_path_factory.mktemp("encrypted")
    shutil.copytree(PROJECT, project, dirs_exist_ok=True)
    os.environ["DIARY_MASTER_KEY"] = "master-1"  # read by both servers' project module
    try:
        with (
            postgres.migrated("json_encryption") as url,
            beside_langgraph_dev(
                project, {"DATABASE_URL": url, "LANGSTAR_AUTH__MODE": ""}, "with_json.json"
            ) as (
                server,
                reference,
            ),
        ):
            yield {"langstar": server.url, "langgraph dev": reference}
    finally:
        del os.environ["DIARY_MASTER_KEY"]


async def what_a_client_reads(url: str) -> dict[str, Any]:
    sdk = get_client(url=url, headers=ALICE)
    thread = await sdk.threads.create(metadata={"topic": MARKER, "owner": "alice"})
    thread_id = thread["thread_id"]
    done = await sdk.runs.wait(
        thread_id, "diary", input={"entry": MARKER}, metadata={"note": MARKER}
    )
    await sdk.threads.update(thread_id, metadata={"mood": MARKER})
    shown = await sdk.threads.get(thread_id)
    run = (await sdk.runs.list(thread_id))[0]
    found = await sdk.threads.search(metadata={"owner": "alice"}, limit=100)
    assistant = await sdk.assistants.create("diary", metadata={"label": MARKER})
    await sdk.store.put_item(["notes"], "first", {"text": MARKER})
    item = await sdk.store.get_item(["notes"], "first")
    return {
        "answer": done,
        "thread metadata": {k: shown["metadata"].get(k) for k in ("topic", "owner", "mood")},
        "thread values": shown["values"],
        "run metadata": run["metadata"].get("note"),
        "run input": run["kwargs"]["input"],
        "found by the readable field": thread_id in [t["thread_id"] for t in found],
        "assistant metadata": (await sdk.assistants.get(assistant["assistant_id"]))["metadata"],
        "store value": None if item is None else item["value"],
    }


async def test_clients_read_back_what_they_gave_as_on_langgraph_dev(
    servers: dict[str, str],
) -> None:
    ours = await what_a_client_reads(servers["langstar"])
    assert ours["thread values"] == {"entry": MARKER, "said": MARKER}
    assert ours["found by the readable field"] is True
    assert ours == await what_a_client_reads(servers["langgraph dev"])
