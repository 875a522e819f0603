"""Graphs that read their settings from `runtime.context`, as LangChain's react-agent
template reads its model: a dataclass context with defaults, and a TypedDict one."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AIMessage
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.runtime import Runtime
from typing_extensions import TypedDict


@dataclass(kw_only=True)
class Context:
    """The template's context: every field has a default."""

    system_prompt: str = field(
        default="You are a helpful AI assistant.",
        metadata={"description": "The system prompt to use for the agent's interactions."},
    )
    model: str = field(
        default="anthropic/claude-3-5-sonnet-latest",
        metadata={"description": "The language model to use, as provider/model-name."},
    )
    max_search_results: int = 10


async def call_model(state: MessagesState, runtime: Runtime[Context]) -> dict[str, Any]:
    context = runtime.context
    reply = f"{context.model} | {context.system_prompt} | {context.max_search_results}"
    return {"messages": [AIMessage(reply)]}


builder = StateGraph(MessagesState, context_schema=Context)
builder.add_node("call_model", call_model)
builder.add_edge(START, "call_model")
builder.add_edge("call_model", END)
graph = builder.compile(name="ReAct Agent")


class Preferences(TypedDict, total=False):
    model: str


def answer(state: MessagesState, runtime: Runtime[Preferences]) -> dict[str, Any]:
    """Says what context it got: LangGraph hands a TypedDict context over as a plain dict,
    and an empty one as None."""
    return {"messages": [AIMessage(json.dumps(runtime.context, sort_keys=True))]}


typed_builder = StateGraph(MessagesState, context_schema=Preferences)
typed_builder.add_node("answer", answer)
typed_builder.add_edge(START, "answer")
typed_builder.add_edge("answer", END)
typed = typed_builder.compile()
