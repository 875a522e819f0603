"""Answers that carry no choice of langstar's, given as LangGraph's Agent Server gives them:
a created run is `pending`, a thread's config after a run, the state of a thread with no
checkpoint."""

from __future__ import annotations

from typing import Any

from langgraph_sdk.client import LangGraphClient

GRAPHS = {"whoami": "tests.support.graphs:whoami"}
SAY: dict[str, Any] = {"messages": [{"role": "user", "content": "hi"}]}


async def test_a_created_run_is_answered_pending_even_when_nothing_is_ahead_of_it(
    sdk: LangGraphClient,
) -> None:
    thread = await sdk.threads.create()
    run = await sdk.runs.create(thread["thread_id"], "whoami", input=SAY)
    stateless = await sdk.runs.create(None, "whoami", input=SAY)
    batch = await sdk.runs.create_batch([{"assistant_id": "whoami", "input": SAY}])
    assert [r["status"] for r in (run, stateless, *batch)] == ["pending"] * 3
    await sdk.runs.join(thread["thread_id"], run["run_id"])
    assert (await sdk.runs.get(thread["thread_id"], run["run_id"]))["status"] == "success"


async def test_a_threads_config_is_set_by_its_first_run(sdk: LangGraphClient) -> None:
    thread = await sdk.threads.create()
    assert thread["config"] == {}
    await sdk.runs.wait(thread["thread_id"], "whoami", input=SAY)
    assert (await sdk.threads.get(thread["thread_id"]))["config"] == {"configurable": {}}
    stateless = await sdk.runs.create(None, "whoami", input=SAY, on_completion="keep")
    await sdk.runs.join(stateless["thread_id"], stateless["run_id"])
    assert (await sdk.threads.get(stateless["thread_id"]))["config"] == {"configurable": {}}


async def test_a_copy_of_a_thread_starts_with_an_empty_config(sdk: LangGraphClient) -> None:
    thread = await sdk.threads.create()
    await sdk.runs.wait(thread["thread_id"], "whoami", input=SAY)
    copy = await sdk.threads.copy(thread["thread_id"])
    assert copy["config"] == {}  # type: ignore[index]


async def test_a_threads_config_takes_the_assistants_then_the_runs_keys(
    sdk: LangGraphClient,
) -> None:
    assistant = await sdk.assistants.create("whoami", config={"tags": ["a"], "run_name": "n"})
    thread = await sdk.threads.create(metadata={"mark": "config"})
    config = {"tags": ["run"], "recursion_limit": 7}
    await sdk.runs.wait(thread["thread_id"], assistant["assistant_id"], input=SAY, config=config)
    expected = {"tags": ["run"], "run_name": "n", "recursion_limit": 7, "configurable": {}}
    assert (await sdk.threads.get(thread["thread_id"]))["config"] == expected
    found = await sdk.threads.search(metadata={"mark": "config"})
    assert [t["config"] for t in found] == [expected]


async def test_the_state_of_a_thread_with_no_checkpoint_has_no_checkpoint(
    sdk: LangGraphClient,
) -> None:
    fresh = await sdk.threads.create()
    for_a_graph = await sdk.threads.create(graph_id="whoami")
    for thread in (fresh, for_a_graph):
        state = await sdk.threads.get_state(thread["thread_id"])
        assert state["checkpoint"] is None
        assert state["parent_checkpoint"] is None
