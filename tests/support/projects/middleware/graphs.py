"""A graph with no model: it answers what it was told."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage
from langgraph.graph import END, START, MessagesState, StateGraph


def _reply(state: MessagesState) -> dict[str, Any]:
    return {"messages": [AIMessage(f"you said: {state['messages'][-1].content}")]}


builder = StateGraph(MessagesState)
builder.add_node("reply", _reply)
builder.add_edge(START, "reply")
builder.add_edge("reply", END)
echo = builder.compile()
