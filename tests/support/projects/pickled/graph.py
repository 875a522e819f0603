"""A graph whose state holds an object msgpack cannot encode: a plain class instance, kept
from one turn to the next, as projects keep a client, a parser or a tally in their state."""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict


class Tally:
    """Not a dataclass, a pydantic model or a namedtuple: only pickle can store it."""

    def __init__(self, words: list[str]) -> None:
        self.words = words

    def said(self) -> str:
        return " ".join(self.words)


class State(TypedDict, total=False):
    word: str
    first: str
    tally: Tally
    said: str


def count(state: State) -> dict[str, Any]:
    kept = state.get("tally")
    tally = Tally([*(kept.words if kept else []), state.get("word", "")])
    update: dict[str, Any] = {"tally": tally, "said": tally.said()}
    if "first" not in state:  # written once: later checkpoints carry it unchanged
        update["first"] = state.get("word", "")
    return update


builder = StateGraph(State)
builder.add_node("count", count)
builder.add_edge(START, "count")
builder.add_edge("count", END)
graph = builder.compile()
