"""A run's `command`, read as LangGraph's server reads it: goto targets, Sends, updates."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.graphs import TEST_GRAPHS

Client = httpx.AsyncClient
assert "hitl" in TEST_GRAPHS


def say(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


async def wait(client: Client, thread: str, **body: Any) -> Any:
    response = await client.post(f"/threads/{thread}/runs/wait", json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def new_thread(client: Client) -> str:
    return str((await client.post("/threads", json={})).json()["thread_id"])


async def test_a_resume_on_a_thread_with_nothing_to_resume_fails_the_run(
    graphs_client: Client,
) -> None:
    """What useStream sends on a fresh thread: LangGraph's server fails the run, it does not
    start the graph on an empty input."""
    thread = await new_thread(graphs_client)
    answer = await wait(graphs_client, thread, assistant_id="hitl", input={},
                        command={"resume": "yes"})  # fmt: skip
    assert answer["__error__"]["error"] == "TypeError"
    assert (await graphs_client.get(f"/threads/{thread}")).json()["status"] == "error"


async def test_a_goto_may_be_one_node_or_a_send_and_an_update_a_list_of_pairs(
    graphs_client: Client,
) -> None:
    thread = await new_thread(graphs_client)
    await wait(graphs_client, thread, assistant_id="hitl", input=say("may I?"))
    update = [["messages", [{"role": "user", "content": "from a pair"}]]]
    sent = {"node": "ask", "input": {"messages": [{"role": "user", "content": "sent"}]}}
    answer = await wait(graphs_client, thread, assistant_id="hitl",
                        command={"update": update, "goto": sent})  # fmt: skip
    assert [m["content"] for m in answer["messages"]] == ["may I?", "from a pair"]
    assert "__interrupt__" in answer, "the Send ran the node that asks again"


async def test_fields_a_command_does_not_have_are_ignored(graphs_client: Client) -> None:
    thread = await new_thread(graphs_client)
    await wait(graphs_client, thread, assistant_id="hitl", input=say("may I?"))
    answer = await wait(graphs_client, thread, assistant_id="hitl",
                        command={"resume": "yes", "bogus": 1})  # fmt: skip
    assert answer["messages"][-1]["content"] == "approved: yes"


async def test_a_failed_tasks_error_is_its_exceptions_repr(graphs_client: Client) -> None:
    thread = await new_thread(graphs_client)
    failed = await wait(graphs_client, thread, assistant_id="failing", input=say("x"))
    assert failed["__error__"]["error"] == "ValueError"
    [task] = (await graphs_client.get(f"/threads/{thread}/state")).json()["tasks"]
    assert task["error"] == "ValueError('this graph always fails')"
