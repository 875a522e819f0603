"""Small graphs that exercise what the built-in agent does not: interrupts, slowness, streams."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import interrupt
from langgraph_sdk import get_client
from typing_extensions import TypedDict


def _ask(state: MessagesState) -> dict[str, Any]:
    answer = interrupt({"question": "approve?"})
    return {"messages": [AIMessage(f"approved: {answer}")]}


def _build(node: Any, name: str) -> StateGraph[Any, Any, Any, Any]:
    builder: StateGraph[Any, Any, Any, Any] = StateGraph(MessagesState)
    builder.add_node(name, node)
    builder.add_edge(START, name)
    builder.add_edge(name, END)
    return builder


hitl = _build(_ask, "ask")


async def _nap(state: MessagesState, runtime: Runtime[dict[str, Any]]) -> dict[str, Any]:
    delay = float((runtime.context or {}).get("delay", 0.5))
    await asyncio.sleep(delay)
    return {"messages": [AIMessage(f"slept {delay}")]}


slow = _build(_nap, "nap")


def reply_of(tokens: int) -> str:
    """What `talker` answers: one letter per streamed chunk."""
    return "".join(chr(ord("a") + n % 26) for n in range(tokens))


async def _talk_slowly(state: MessagesState, runtime: Runtime[dict[str, Any]]) -> dict[str, Any]:
    context = runtime.context or {}
    model = FakeListChatModel(
        responses=[reply_of(int(context.get("tokens", 30)))],
        sleep=float(context.get("delay", 0.1)),
    )
    return {"messages": [await model.ainvoke(state["messages"])]}


# A model streaming `tokens` chunks, one every `delay` seconds (both from the run's context).
talker = _build(_talk_slowly, "talk")


def streamer(*, model: BaseChatModel) -> StateGraph[Any, Any, Any, Any]:
    async def talk(state: MessagesState) -> dict[str, Any]:
        get_stream_writer()({"progress": "thinking"})
        reply = await model.ainvoke(state["messages"])
        return {"messages": [reply]}

    return _build(talk, "talk")


def _fail(state: MessagesState) -> dict[str, Any]:
    raise ValueError("this graph always fails")


failing = _build(_fail, "fail")


def _inner(state: MessagesState) -> dict[str, Any]:
    return {"messages": [AIMessage("from the subgraph")]}


_child = _build(_inner, "inner").compile()
nested = _build(_child, "child")
# Interrupted inside its subgraph: the subgraph's state carries a checkpoint_map.
asks_in_subgraph = _build(hitl.compile(), "child")


def _route(state: MessagesState) -> dict[str, Any]:
    return {"messages": [AIMessage("routed")]}


def _other(state: MessagesState) -> dict[str, Any]:
    return {"messages": [AIMessage("other")]}


_branching: StateGraph[Any, Any, Any, Any] = StateGraph(MessagesState)
_branching.add_node("first", _route)
_branching.add_node("second", _other)
_branching.add_edge(START, "first")
_branching.add_edge("first", END)
_branching.add_edge("second", END)
branching = _branching


class Opaque:
    """A value pydantic has no JSON Schema for."""


class OpaqueState(TypedDict):
    thing: Opaque


_opaque: StateGraph[Any, Any, Any, Any] = StateGraph(OpaqueState)
_opaque.add_node("keep", lambda state: {})
_opaque.add_edge(START, "keep")
_opaque.add_edge("keep", END)
opaque = _opaque  # a graph whose input schema cannot be made

TEST_GRAPHS = {
    "agent": "langstar.agents.chat:graph",
    "hitl": "tests.support.graphs:hitl",
    "slow": "tests.support.graphs:slow",
    "streamer": "tests.support.graphs:streamer",
    "failing": "tests.support.graphs:failing",
    "nested": "tests.support.graphs:nested",
    "branching": "tests.support.graphs:branching",
}


def per_run(config: RunnableConfig) -> StateGraph[Any, Any, Any, Any]:
    """A factory LangGraph's server calls for every run, with that run's config."""
    built_for = (config.get("configurable") or {}).get("user_id", "nobody")

    def answer(state: MessagesState) -> dict[str, Any]:
        return {"messages": [AIMessage(f"built for {built_for}")]}

    return _build(answer, "answer")


OPENED = {"entered": 0, "exited": 0}


@asynccontextmanager
async def managed(config: RunnableConfig) -> AsyncIterator[Any]:
    """An async context manager factory: entered for a run, exited after it."""
    OPENED["entered"] += 1
    try:
        yield per_run(config)
    finally:
        OPENED["exited"] += 1


async def _schedule(state: MessagesState) -> dict[str, Any]:
    """As LangGraph templates do: schedule a background run on the graph's own server."""
    client = get_client()
    thread = await client.threads.create(metadata={"scheduled_by": "a graph"})
    run = await client.runs.create(
        thread["thread_id"], "agent", input={"messages": [{"role": "user", "content": "later"}]}
    )
    return {"messages": [AIMessage(f"{thread['thread_id']} {run['run_id']}")]}


scheduler = _build(_schedule, "schedule")


def _report(state: MessagesState, config: RunnableConfig) -> dict[str, Any]:
    """Says which x- headers reached the run's config."""
    seen = {k: v for k, v in (config.get("configurable") or {}).items() if k.startswith("x-")}
    return {"messages": [AIMessage(json.dumps(seen, sort_keys=True))]}


reporter = _build(_report, "report")


def _whoami(state: MessagesState, config: RunnableConfig) -> dict[str, Any]:
    """Says who the run's config names as the caller, as graphs and auth handlers read it."""
    configurable = config.get("configurable") or {}
    keys = ("langgraph_auth_user_id", "langgraph_auth_user", "langgraph_auth_permissions")
    seen = {key: configurable.get(key, "missing") for key in keys}
    return {"messages": [AIMessage(json.dumps(seen, sort_keys=True))]}


whoami = _build(_whoami, "whoami")
