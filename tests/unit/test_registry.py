"""Graphs load from `module:attr`, `file.py:attr` or a langgraph.json, in every form."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore

from langstar.graphs.registry import GraphLoadError, build_registry, default_assistant_id
from langstar.models.offline import OfflineChatModel
from langstar.settings import Settings

GRAPH_FILE = """
from typing import TypedDict
from langgraph.graph import StateGraph, START, END

class State(TypedDict):
    n: int

def bump(state: State) -> State:
    return {"n": state["n"] + 1}

builder = StateGraph(State)
builder.add_node("bump", bump)
builder.add_edge(START, "bump")
builder.add_edge("bump", END)

uncompiled = builder
compiled = builder.compile()

def factory():
    return builder

async def async_factory():
    return builder

from contextlib import asynccontextmanager

@asynccontextmanager
async def managed_factory():
    yield builder.compile()

def with_model(model):
    assert model is not None
    return builder.compile()

not_a_graph = 42
"""


@pytest.fixture
def graph_file(tmp_path: Path) -> Path:
    path = tmp_path / "my_graphs.py"
    path.write_text(GRAPH_FILE)
    return path


async def registry_for(settings: Settings) -> object:
    return await build_registry(
        settings, checkpointer=InMemorySaver(), store=InMemoryStore(), model=OfflineChatModel()
    )


@pytest.mark.parametrize(
    "attr", ["uncompiled", "compiled", "factory", "with_model", "async_factory", "managed_factory"]
)
async def test_each_form_is_bound_to_the_server_checkpointer_and_store(
    graph_file: Path, attr: str
) -> None:
    saver, store = InMemorySaver(), InMemoryStore()
    registry = await build_registry(
        Settings(graphs={"g": f"{graph_file}:{attr}"}),
        checkpointer=saver,
        store=store,
        model=OfflineChatModel(),
    )
    graph = registry.graphs["g"].compiled
    assert graph.checkpointer is saver
    assert graph.store is store
    config = {"configurable": {"thread_id": "t"}}
    assert await graph.ainvoke({"n": 1}, config) == {"n": 2}
    assert registry.find("g") is registry.find(str(default_assistant_id("g")))


def test_default_assistant_id_matches_the_agent_server() -> None:
    # The id langgraph-sdk computes for graph "agent"'s default assistant.
    assert str(default_assistant_id("agent")) == "fe096781-5601-53d2-b2f6-0d3403f7e9ca"


async def test_langgraph_json_is_served_unchanged(graph_file: Path, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("LANGSTAR_TEST_FROM_DOTENV=yes\n")
    config = {
        "dependencies": ["."],
        "graphs": {
            "counter": "./my_graphs.py:compiled",
            "other": {"path": "./my_graphs.py:factory", "description": "Counts, built anew."},
        },
        "env": ".env",
    }
    (tmp_path / "langgraph.json").write_text(json.dumps(config))
    registry = await build_registry(
        Settings(graphs_from=str(tmp_path / "langgraph.json")),
        checkpointer=InMemorySaver(),
        store=InMemoryStore(),
        model=OfflineChatModel(),
    )
    assert sorted(registry.graphs) == ["counter", "other"]
    assert registry.graphs["other"].description == "Counts, built anew."
    assert registry.graphs["counter"].description is None
    import os

    assert os.environ.pop("LANGSTAR_TEST_FROM_DOTENV") == "yes"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("{file}:not_a_graph", "not a graph"),
        ("{file}:missing", "no attribute 'missing'"),
        ("no_such_module_xyz:graph", "import failed"),
        ("{dir}/absent.py:graph", "import failed"),
    ],
)
async def test_bad_specs_say_what_is_wrong(graph_file: Path, spec: str, message: str) -> None:
    spec = spec.format(file=graph_file, dir=graph_file.parent)
    with pytest.raises(GraphLoadError, match=message):
        await registry_for(Settings(graphs={"g": spec}))


async def test_a_langgraph_json_without_graphs_is_refused(tmp_path: Path) -> None:
    (tmp_path / "langgraph.json").write_text("{}")
    with pytest.raises(GraphLoadError, match='no "graphs"'):
        await registry_for(Settings(graphs_from=str(tmp_path / "langgraph.json")))
