"""A thread's interrupts as LangGraph's Agent Server shows them: `{id, value}`, with a
`response_schema` only when the graph gave one; a run's own output keeps LangGraph's."""

from __future__ import annotations

from typing import Any

import psycopg
from langchain_core.messages import AIMessage
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.types import interrupt
from langgraph_sdk.client import LangGraphClient

SCHEMA = {"type": "object", "properties": {"approved": {"type": "boolean"}}}
GRAPHS = {
    "hitl": "tests.support.graphs:hitl",
    "typed": "tests.integration.test_interrupts_shown:asks_with_a_schema",
}
SAY: dict[str, Any] = {"messages": [{"role": "user", "content": "may I?"}]}


def _ask_with_a_schema(state: MessagesState) -> dict[str, Any]:
    answer = interrupt({"question": "approve?"}, response_schema=SCHEMA)
    return {"messages": [AIMessage(f"approved: {answer}")]}


asks_with_a_schema = StateGraph(MessagesState).add_node("ask", _ask_with_a_schema)
asks_with_a_schema.add_edge(START, "ask")


async def interrupted(sdk: LangGraphClient, graph: str) -> tuple[str, Any]:
    thread = (await sdk.threads.create())["thread_id"]
    answer = await sdk.runs.wait(thread, graph, input=SAY)
    return thread, answer


async def shown(sdk: LangGraphClient, thread: str) -> list[Any]:
    """Every place a thread shows its interrupts, outside a run's own output."""
    state = await sdk.threads.get_state(thread)
    [task] = state["tasks"]
    [found] = await sdk.threads.search(ids=[thread])
    [latest, *_] = await sdk.threads.get_history(thread)
    return [
        state["interrupts"],
        task["interrupts"],
        latest["interrupts"],
        *(await sdk.threads.get(thread))["interrupts"].values(),
        *found["interrupts"].values(),
    ]


async def test_an_interrupt_without_a_schema_is_shown_as_its_id_and_value(
    sdk: LangGraphClient,
) -> None:
    thread, answer = await interrupted(sdk, "hitl")
    [asked] = answer["__interrupt__"]
    expected = [{"id": asked["id"], "value": {"question": "approve?"}}]
    assert await shown(sdk, thread) == [expected] * 5


async def test_an_interrupt_with_a_schema_shows_it(sdk: LangGraphClient) -> None:
    thread, answer = await interrupted(sdk, "typed")
    [asked] = answer["__interrupt__"]
    expected = [{"id": asked["id"], "value": {"question": "approve?"}, "response_schema": SCHEMA}]
    assert await shown(sdk, thread) == [expected] * 5


async def test_a_runs_own_output_keeps_langgraphs_interrupt_as_it_is(
    sdk: LangGraphClient,
) -> None:
    """As on LangGraph's server, which sends the graph's interrupts through unchanged."""
    _, answer = await interrupted(sdk, "hitl")
    [asked] = answer["__interrupt__"]
    assert asked == {"id": asked["id"], "value": {"question": "approve?"}, "response_schema": None}


async def test_a_thread_stored_with_a_null_response_schema_shows_none(
    sdk: LangGraphClient, migrated_url: str
) -> None:
    """Threads written by an earlier langstar kept LangGraph's null `response_schema`."""
    thread, answer = await interrupted(sdk, "hitl")
    [asked] = answer["__interrupt__"]
    async with await psycopg.AsyncConnection.connect(migrated_url, autocommit=True) as conn:
        await conn.execute(
            "UPDATE threads SET interrupts = jsonb_build_object('task', jsonb_build_array("
            "jsonb_build_object('value', 'v', 'id', %s::text, 'response_schema', null))) "
            "WHERE thread_id = %s",
            (asked["id"], thread),
        )
    expected = {"task": [{"id": asked["id"], "value": "v"}]}
    assert (await sdk.threads.get(thread))["interrupts"] == expected
    [found] = await sdk.threads.search(ids=[thread])
    assert found["interrupts"] == expected
