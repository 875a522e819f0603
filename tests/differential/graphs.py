"""The differential harness's project: graphs written the way public projects write them.

Both servers load this file from the same `langgraph.json`. Models are fakes with fixed
replies and message ids, so two servers given the same requests produce the same state.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import interrupt


def _one_node(name: str, node: Any, **options: Any) -> Any:
    builder = StateGraph(MessagesState, **options)
    builder.add_node(name, node)
    builder.add_edge(START, name)
    builder.add_edge(name, END)
    return builder.compile()


def _last(state: MessagesState) -> str:
    return str(state["messages"][-1].content) if state["messages"] else ""


def _reply(state: MessagesState) -> dict[str, Any]:
    return {"messages": [AIMessage(f"echo: {_last(state)}", id=f"echo-{len(state['messages'])}")]}


async def _chat(state: MessagesState) -> dict[str, Any]:
    get_stream_writer()({"progress": "thinking"})
    reply = AIMessage("hello world again", id=f"chat-{len(state['messages'])}")
    model = GenericFakeChatModel(messages=iter([reply]))
    return {"messages": [await model.ainvoke(state["messages"])]}


def _ask(state: MessagesState) -> dict[str, Any]:
    answer = interrupt({"question": "approve?", "about": _last(state)})
    return {"messages": [AIMessage(f"approved: {answer}", id=f"ask-{len(state['messages'])}")]}


async def _nap(state: MessagesState) -> dict[str, Any]:
    await asyncio.sleep(1.0)
    return {"messages": [AIMessage("rested", id=f"nap-{len(state['messages'])}")]}


def _nested() -> Any:
    """A parent whose middle node is a compiled subgraph that streams and asks."""
    inner = StateGraph(MessagesState)
    inner.add_node("inner_chat", _chat)
    inner.add_edge(START, "inner_chat")
    inner.add_edge("inner_chat", END)
    outer = StateGraph(MessagesState)
    outer.add_node("before", _reply)
    outer.add_node("child", inner.compile())
    outer.add_edge(START, "before")
    outer.add_edge("before", "child")
    outer.add_edge("child", END)
    return outer.compile()


@dataclass
class Context:
    """What LangChain's templates put in a run's context: the model, with a default."""

    model: str = "fake/default-model"
    greeting: str = "hi"


def _contextual_reply(state: MessagesState, runtime: Runtime[Context]) -> dict[str, Any]:
    text = f"{runtime.context.greeting} from {runtime.context.model}"
    return {"messages": [AIMessage(text, id=f"ctx-{len(state['messages'])}")]}


echo = _one_node("reply", _reply)
chatty = _one_node("chat", _chat)
hitl = _one_node("ask", _ask)
slow = _one_node("nap", _nap)
nested = _nested()
contextual = _one_node("reply", _contextual_reply, context_schema=Context)
GRAPHS = ("echo", "chatty", "hitl", "slow", "nested", "contextual")
