"""Graphs that both langstar and `langgraph dev` can load, for comparing their answers."""

from __future__ import annotations

import asyncio
from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.types import interrupt


def _one_node(name: str, node: Any) -> Any:
    builder = StateGraph(MessagesState)
    builder.add_node(name, node)
    builder.add_edge(START, name)
    builder.add_edge(name, END)
    return builder.compile()


def _reply(state: MessagesState) -> dict[str, Any]:
    return {"messages": [AIMessage(f"echo: {state['messages'][-1].content}", id="echo-reply")]}


async def _chat(state: MessagesState) -> dict[str, Any]:
    get_stream_writer()({"progress": "thinking"})
    model = GenericFakeChatModel(messages=iter([AIMessage("hello world again", id="chat-reply")]))
    return {"messages": [await model.ainvoke(state["messages"])]}


def _ask(state: MessagesState) -> dict[str, Any]:
    answer = interrupt({"question": "approve?"})
    return {"messages": [AIMessage(f"approved: {answer}", id="approval")]}


async def _nap(state: MessagesState) -> dict[str, Any]:
    await asyncio.sleep(1.5)
    return {"messages": [AIMessage("rested", id="nap")]}


echo = _one_node("reply", _reply)
chatty = _one_node("chat", _chat)
hitl = _one_node("ask", _ask)
slow = _one_node("nap", _nap)


def _inner_reply(state: MessagesState) -> dict[str, Any]:
    return {"messages": [AIMessage("from the subgraph", id="inner-reply")]}


async def _inner_chat(state: MessagesState) -> dict[str, Any]:
    model = GenericFakeChatModel(messages=iter([AIMessage("inner words", id="inner-chat")]))
    return {"messages": [await model.ainvoke(state["messages"])]}


def _inner_fail(state: MessagesState) -> dict[str, Any]:
    raise ValueError("the subgraph fails")


_chatting_child = _one_node("inner", _inner_chat)


async def _call_child(state: MessagesState) -> dict[str, Any]:
    return dict(await _chatting_child.ainvoke(state))


# A compiled subgraph added as a node, and one a node invokes.
nested = _one_node("child", _one_node("inner", _inner_reply))
calling = _one_node("caller", _call_child)
# A subgraph that pauses at an interrupt, and one that fails.
asks_in_child = _one_node("child", _one_node("ask", _ask))
fails_in_child = _one_node("child", _one_node("inner", _inner_fail))
SUBGRAPH_GRAPHS = ("nested", "calling", "asks_in_child", "fails_in_child")
