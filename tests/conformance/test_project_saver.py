"""A project's own checkpointer (`checkpointer.path`) and store (`store.path`) hold its
threads' state and its memories, on langstar as on `langgraph dev`; langstar's own tables
hold none of it, and what the project's saver cannot do is named, at start-up and by a 501
on the route that needs it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from langgraph_sdk import get_client

from tests.support.langgraph_dev import beside_langgraph_dev
from tests.support.postgres import PostgresForTests
from tests.support.server import ServerProcess

PROJECT = Path(__file__).resolve().parents[1] / "support" / "projects" / "saver"
BOTH = pytest.mark.parametrize("server", ["langstar", "langgraph dev"])


@pytest.fixture(scope="module")
def served(
    postgres: PostgresForTests, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    project = tmp_path_factory.mktemp("saver")
    shutil.copytree(PROJECT, project, dirs_exist_ok=True)
    with (
        postgres.migrated("saver") as url,
        beside_langgraph_dev(project, {"DATABASE_URL": url}) as (server, reference),
    ):
        yield {"langstar": server.url, "langgraph dev": reference, "db": url, "server": server}


def _said(said: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": said}]}


def _rows(url: str, table: str, where: str, value: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table} WHERE {where}", (value,)).fetchone()
    return int(row[0]) if row else 0


async def _thread_told(url: str, *turns: str, thread_id: str | None = None) -> str:
    client = get_client(url=url)
    thread = await client.threads.create(thread_id=thread_id)
    for said in turns:
        await client.runs.wait(thread["thread_id"], "echo", input=_said(said))
    return str(thread["thread_id"])


@BOTH
async def test_state_persists_across_runs_and_history_comes_from_the_projects_saver(
    served: dict[str, Any], server: str
) -> None:
    client = get_client(url=served[server])
    thread_id = await _thread_told(served[server], "hi", "again")
    state = await client.threads.get_state(thread_id)
    contents = [m["content"] for m in state["values"]["messages"]]
    assert contents == ["hi", "you said: hi", "again", "you said: again"]
    history = await client.threads.get_history(thread_id, limit=20)
    assert [len(h["values"].get("messages", [])) for h in history] == [4, 3, 2, 2, 1, 0]
    if server == "langstar":  # the project's saver held it all, langstar's tables nothing
        assert _rows(served["db"], "checkpoints", "thread_id = %s", thread_id) == 0


@BOTH
async def test_the_projects_store_holds_what_graphs_and_the_store_api_put(
    served: dict[str, Any], server: str
) -> None:
    client = get_client(url=served[server])
    thread_id = await _thread_told(served[server], "remember me")
    found = await client.store.search_items(["told", thread_id])
    assert [item["value"] for item in found["items"]] == [{"said": "remember me"}]
    await client.store.put_item(["notes", thread_id], "a", {"text": "kept"})
    item = await client.store.get_item(["notes", thread_id], "a")
    assert item is not None
    assert item["value"] == {"text": "kept"}
    if server == "langstar":
        assert _rows(served["db"], "store", "prefix LIKE %s", f"%{thread_id}%") == 0


@BOTH
async def test_a_copy_carries_the_threads_history_in_the_projects_saver(
    served: dict[str, Any], server: str
) -> None:
    client = get_client(url=served[server])
    thread_id = await _thread_told(served[server], "one", "two")
    copy = await client.threads.copy(thread_id)
    state = await client.threads.get_state(copy["thread_id"])
    assert [m["content"] for m in state["values"]["messages"]][-1] == "you said: two"
    history = await client.threads.get_history(copy["thread_id"], limit=20)
    assert len(history) == 6
    await client.runs.wait(copy["thread_id"], "echo", input=_said("three"))
    original = await client.threads.get_state(thread_id)
    assert len(original["values"]["messages"]) == 4


@BOTH
async def test_deleting_a_thread_deletes_its_state_in_the_projects_saver(
    served: dict[str, Any], server: str
) -> None:
    client = get_client(url=served[server])
    thread_id = await _thread_told(served[server], "forget me")
    await client.threads.delete(thread_id)
    await _thread_told(served[server], thread_id=thread_id)  # the same id, made anew
    state = await client.threads.get_state(thread_id)
    assert not state["values"]


async def test_start_up_names_in_one_line_what_the_projects_saver_cannot_do(
    served: dict[str, Any],
) -> None:
    server: ServerProcess = served["server"]
    [line] = [line for line in server.read_log().splitlines() if "aprune" in line]
    assert "InMemorySaver does not implement adelete_for_runs, aprune, acopy_thread" in line


async def test_pruning_to_the_latest_checkpoint_answers_501_naming_aprune(
    served: dict[str, Any],
) -> None:
    thread_id = await _thread_told(served["langstar"], "a", "b")
    async with httpx.AsyncClient(base_url=served["langstar"]) as http:
        answer = await http.post(
            "/threads/prune", json={"thread_ids": [thread_id], "strategy": "keep_latest"}
        )
    assert answer.status_code == 501
    assert "aprune" in answer.json()["detail"]
    history = await get_client(url=served["langstar"]).threads.get_history(thread_id, limit=20)
    assert len(history) == 6  # nothing was pruned


@BOTH
async def test_a_rollback_strategy_on_an_idle_thread_is_a_plain_run(
    served: dict[str, Any], server: str
) -> None:
    thread_id = await _thread_told(served[server], "a")
    client = get_client(url=served[server])
    answer = await client.runs.wait(
        thread_id, "echo", input=_said("b"), multitask_strategy="rollback"
    )
    assert isinstance(answer, dict)
    assert answer["messages"][-1]["content"] == "you said: b"


async def test_a_rollback_of_a_run_in_flight_answers_501_naming_adelete_for_runs(
    served: dict[str, Any],
) -> None:
    client = get_client(url=served["langstar"])
    thread_id = (await client.threads.create())["thread_id"]
    first = await client.runs.create(thread_id, "echo", input=_said("take your time"))
    async with httpx.AsyncClient(base_url=served["langstar"]) as http:
        answer = await http.post(
            f"/threads/{thread_id}/runs",
            json={"assistant_id": "echo", "input": _said("b"), "multitask_strategy": "rollback"},
        )
        assert answer.status_code == 501
        assert "adelete_for_runs" in answer.json()["detail"]
        cancel = await http.post(
            f"/threads/{thread_id}/runs/{first['run_id']}/cancel", params={"action": "rollback"}
        )
    assert cancel.status_code == 501
    assert "adelete_for_runs" in cancel.json()["detail"]
    await client.runs.join(thread_id, first["run_id"])  # neither stopped it nor queued a run
    assert [r["status"] for r in await client.runs.list(thread_id)] == ["success"]


async def test_an_item_with_a_ttl_answers_501_when_the_projects_store_has_no_ttl(
    served: dict[str, Any],
) -> None:
    async with httpx.AsyncClient(base_url=served["langstar"]) as http:
        answer = await http.put(
            "/store/items", json={"namespace": ["ttl"], "key": "k", "value": {}, "ttl": 5}
        )
    assert answer.status_code == 501
    assert "ttl" in answer.json()["detail"]
