"""A graph that answers with the caller its run was given, as a project's graph reads it."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, MessagesState, StateGraph


def _reply(state: MessagesState, config: RunnableConfig) -> dict[str, Any]:
    user = config["configurable"].get("langgraph_auth_user")
    said = state["messages"][-1].content
    return {"messages": [AIMessage(f"{user['identity'] if user else None} said: {said}")]}


builder = StateGraph(MessagesState)
builder.add_node("reply", _reply)
builder.add_edge(START, "reply")
builder.add_edge("reply", END)
echo = builder.compile()
