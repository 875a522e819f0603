"""A graph that echoes each turn, and keeps what it was told in the long-term store."""

from __future__ import annotations

import asyncio
from typing import Any

from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.store.base import BaseStore


async def _reply(
    state: MessagesState, config: RunnableConfig, *, store: BaseStore
) -> dict[str, Any]:
    said = str(state["messages"][-1].content)
    if said == "take your time":
        await asyncio.sleep(3)
    thread_id = str(config["configurable"]["thread_id"])
    await store.aput(("told", thread_id), said, {"said": said})
    return {"messages": [AIMessage(f"you said: {said}")]}


builder = StateGraph(MessagesState)
builder.add_node("reply", _reply)
builder.add_edge(START, "reply")
builder.add_edge("reply", END)
echo = builder.compile()
