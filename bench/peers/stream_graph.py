"""The streaming workloads: a chat node whose fake model streams one character per chunk.

- `fast`: a reply of 200 short tokens, `t0 t1 ... t199` (889 characters, so 889
  `messages` events), sent with no delay: the time to the first event is the server's;
- `slow`: a reply of 100 characters, one every 50 ms (about five seconds), to hold many
  streams open at once.
"""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.graph.state import CompiledStateGraph

TOKENS = 200
SLOW_CHARACTERS = 100
SLOW_EVERY_S = 0.05


def chat_graph(model: BaseChatModel) -> CompiledStateGraph[Any]:
    """One node that answers with `model`; the server streams the model's chunks."""

    async def chat(state: MessagesState) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    builder = StateGraph(MessagesState)
    builder.add_node("chat", chat)
    builder.add_edge(START, "chat")
    return builder.compile()


fast = chat_graph(FakeListChatModel(responses=[" ".join(f"t{n}" for n in range(TOKENS))]))
slow = chat_graph(FakeListChatModel(responses=["x" * SLOW_CHARACTERS], sleep=SLOW_EVERY_S))
