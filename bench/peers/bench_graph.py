"""The throughput workload: one chat node whose offline model always says the same thing.

Every server measured serves this same graph, so a run costs them the same graph work
and the figures compare what each adds around it: HTTP, threads, runs, checkpoints.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage
from langgraph.graph import START, MessagesState, StateGraph

REPLY = "Hello from the offline model, nice to meet you"


async def chat(state: MessagesState) -> dict[str, Any]:
    return {"messages": [AIMessage(content=REPLY)]}


builder = StateGraph(MessagesState)
builder.add_node("chat", chat)
builder.add_edge(START, "chat")
graph = builder.compile()
