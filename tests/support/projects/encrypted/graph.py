"""A diary: each run adds its entry to what the thread has said so far, in plain strings."""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict


class State(TypedDict, total=False):
    entry: str
    said: str


def write(state: State) -> dict[str, Any]:
    said = " ".join(part for part in (state.get("said"), state.get("entry")) if part)
    return {"said": said}


builder = StateGraph(State)
builder.add_node("write", write)
builder.add_edge(START, "write")
builder.add_edge("write", END)
graph = builder.compile()
