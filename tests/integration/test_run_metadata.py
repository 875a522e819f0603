"""A run's `metadata`, as LangGraph's Agent Server sets it.

It is the assistant's metadata, then its thread's (with the graph and assistant the run
stamps on a thread that is not busy), then the request's; `assistant_id` is always the
run's own. A run that makes its thread (stateless, or `if_not_exists="create"`) takes
nothing from it.
"""

from __future__ import annotations

from langgraph_sdk.client import LangGraphClient

from langstar.graphs.registry import default_assistant_id

ASK = {"messages": [{"role": "user", "content": "hi"}]}
BRANCHING = str(default_assistant_id("branching"))


async def test_a_run_holds_its_assistants_its_threads_and_its_own_metadata(
    sdk: LangGraphClient,
) -> None:
    thread = (await sdk.threads.create(metadata={"owner": "zoe"}))["thread_id"]
    run = await sdk.runs.create(thread, "branching", input=ASK, metadata={"topic": "x"})
    expected = {
        "created_by": "system",
        "owner": "zoe",
        "graph_id": "branching",
        "assistant_id": BRANCHING,
        "topic": "x",
    }
    assert run["metadata"] == expected
    await sdk.runs.join(thread, run["run_id"])
    assert (await sdk.runs.get(thread, run["run_id"]))["metadata"] == expected
    assert [r["metadata"] for r in await sdk.runs.list(thread)] == [expected]


async def test_a_run_names_its_own_assistant_whatever_its_request_says(
    sdk: LangGraphClient,
) -> None:
    thread = (await sdk.threads.create())["thread_id"]
    spoofed = {"assistant_id": "someone-else", "created_by": "me"}
    run = await sdk.runs.create(thread, "branching", input=ASK, metadata=spoofed)
    assert run["metadata"]["assistant_id"] == BRANCHING
    assert run["metadata"]["created_by"] == "me"


async def test_an_assistants_metadata_is_in_its_runs(sdk: LangGraphClient) -> None:
    assistant = await sdk.assistants.create("branching", metadata={"team": "blue"})
    thread = (await sdk.threads.create())["thread_id"]
    run = await sdk.runs.create(thread, assistant["assistant_id"], input=ASK)
    assert run["metadata"]["team"] == "blue"
    assert run["metadata"]["assistant_id"] == assistant["assistant_id"]


async def test_a_stateless_run_holds_its_assistants_and_its_own_metadata(
    sdk: LangGraphClient,
) -> None:
    run = await sdk.runs.create(None, "branching", input=ASK, metadata={"topic": "x"})
    assert run["metadata"] == {"created_by": "system", "topic": "x", "assistant_id": BRANCHING}


async def test_a_thread_made_by_its_run_keeps_only_the_requests_metadata(
    sdk: LangGraphClient,
) -> None:
    thread = "6a1e3c55-0000-4000-8000-000000000001"
    run = await sdk.runs.create(
        thread, "branching", input=ASK, metadata={"topic": "x"}, if_not_exists="create"
    )
    assert run["metadata"] == {"created_by": "system", "topic": "x", "assistant_id": BRANCHING}
    await sdk.runs.join(thread, run["run_id"])
    found = await sdk.threads.search(metadata={"topic": "x"})
    assert [t["metadata"] for t in found] == [
        {"topic": "x", "graph_id": "branching", "assistant_id": BRANCHING}
    ]


async def test_a_run_queued_on_a_busy_thread_takes_the_thread_as_it_is(
    sdk: LangGraphClient,
) -> None:
    thread = (await sdk.threads.create())["thread_id"]
    first = await sdk.runs.create(thread, "slow", input=ASK, context={"delay": 1})
    queued = await sdk.runs.create(thread, "branching", input=ASK, multitask_strategy="enqueue")
    assert queued["metadata"]["graph_id"] == "slow"
    assert queued["metadata"]["assistant_id"] == BRANCHING
    await sdk.runs.join(thread, queued["run_id"])
    assert first["metadata"]["graph_id"] == "slow"


async def test_a_run_queued_on_a_busy_thread_leaves_the_threads_tags_alone(
    sdk: LangGraphClient,
) -> None:
    thread = (await sdk.threads.create())["thread_id"]
    first = await sdk.runs.create(thread, "slow", input=ASK, context={"delay": 1})
    queued = await sdk.runs.create(thread, "branching", input=ASK, multitask_strategy="enqueue")
    assert (await sdk.threads.get(thread))["metadata"]["graph_id"] == "slow"
    await sdk.runs.cancel(thread, queued["run_id"])
    await sdk.runs.join(thread, first["run_id"])
    assert (await sdk.threads.get(thread))["metadata"]["graph_id"] == "slow"


async def test_a_thread_names_the_graph_of_the_run_that_ended_last(sdk: LangGraphClient) -> None:
    """A run queued behind another tags its thread when it ends, as on LangGraph's server."""
    thread = (await sdk.threads.create())["thread_id"]
    first = await sdk.runs.create(thread, "slow", input=ASK, context={"delay": 1})
    queued = await sdk.runs.create(thread, "branching", input=ASK, multitask_strategy="enqueue")
    await sdk.runs.join(thread, first["run_id"])
    await sdk.runs.join(thread, queued["run_id"])
    assert (await sdk.threads.get(thread))["metadata"]["graph_id"] == "branching"
