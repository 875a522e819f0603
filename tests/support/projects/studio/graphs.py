"""A graph that says who asked, as the run's config names them."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, MessagesState, StateGraph


def _reply(state: MessagesState, config: RunnableConfig) -> dict[str, Any]:
    configurable = config["configurable"]
    user = configurable.get("langgraph_auth_user")
    who = f"{user['identity']} ({configurable.get('langgraph_auth_user_id')})" if user else None
    return {"messages": [AIMessage(f"{who} said: {state['messages'][-1].content}")]}


builder = StateGraph(MessagesState)
builder.add_node("reply", _reply)
builder.add_edge(START, "reply")
builder.add_edge("reply", END)
echo = builder.compile()
