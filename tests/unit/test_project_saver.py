"""A project's own checkpointer and store are found however the project writes them,
entered for as long as the server runs, and probed for what langstar asks of them."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Any, cast

import pytest
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.store.memory import InMemoryStore
from psycopg import AsyncConnection
from psycopg.rows import DictRow

from langstar.db.custom import (
    SaverCheckpoints,
    missing_methods,
    project_saver,
    project_store,
    shortfall,
)
from langstar.errors import NotSupportedError
from langstar.settings import SettingsError

SHAPES = """
from contextlib import asynccontextmanager, contextmanager
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore

EXITED = []
instance = InMemorySaver()

def made():
    return InMemorySaver()

async def made_async():
    return InMemorySaver()

@asynccontextmanager
async def entered():
    yield InMemorySaver()
    EXITED.append("entered")

@contextmanager
def entered_sync():
    yield InMemorySaver()
    EXITED.append("entered_sync")

async def generated():
    yield InMemorySaver()
    EXITED.append("generated")

@asynccontextmanager
async def store():
    yield InMemoryStore()

not_a_saver = {"checkpoints": []}

class Partial(InMemorySaver):
    aput = None
"""


@pytest.fixture
def shapes(tmp_path: Path) -> Path:
    (tmp_path / "shapes.py").write_text(SHAPES)
    return tmp_path / "shapes.py"


@pytest.mark.parametrize(
    "attr", ["instance", "made", "made_async", "entered", "entered_sync", "generated"]
)
async def test_a_saver_is_found_however_the_project_writes_it(shapes: Path, attr: str) -> None:
    async with project_saver(f"{shapes}:{attr}") as saver:
        assert isinstance(saver, InMemorySaver)


async def test_a_saver_a_graph_cannot_run_on_stops_start_up_naming_its_methods(
    shapes: Path,
) -> None:
    with pytest.raises(SettingsError, match=r"checkpointer: Partial does not implement aput$"):
        async with project_saver(f"{shapes}:Partial"):
            pass


async def test_a_context_manager_is_left_when_the_server_stops(shapes: Path) -> None:
    for attr in ("entered", "entered_sync", "generated"):
        async with project_saver(f"{shapes}:{attr}"):
            assert _exited(shapes) == []
        assert _exited(shapes) == [attr]


def _exited(shapes: Path) -> list[str]:
    """What the project module, as last loaded, says was exited."""
    [module] = [m for m in sys.modules.values() if getattr(m, "__file__", None) == str(shapes)]
    return list(module.EXITED)


async def test_what_is_not_a_saver_or_a_store_stops_start_up_naming_the_key(shapes: Path) -> None:
    with pytest.raises(SettingsError, match=r"database\.checkpointer: .* gives a dict"):
        async with project_saver(f"{shapes}:not_a_saver"):
            pass
    with pytest.raises(SettingsError, match=r"store\.path: .* gives a InMemorySaver"):
        async with project_store(f"{shapes}:instance"):
            pass
    with pytest.raises(SettingsError, match=r"database\.checkpointer: .*no attribute 'missing'"):
        async with project_saver(f"{shapes}:missing"):
            pass
    async with project_store(f"{shapes}:store") as store:
        assert isinstance(store, InMemoryStore)


def test_the_probe_names_the_methods_a_saver_lacks() -> None:
    assert missing_methods(InMemorySaver()) == ("adelete_for_runs", "aprune", "acopy_thread")
    postgres = cast(BaseCheckpointSaver[Any], AsyncPostgresSaver.__new__(AsyncPostgresSaver))
    assert missing_methods(postgres) == ("adelete_for_runs", "acopy_thread")
    line = shortfall(InMemorySaver())
    assert "InMemorySaver does not implement adelete_for_runs, aprune, acopy_thread" in line
    assert "\n" not in line


def test_an_operator_who_set_an_encryption_key_is_told_the_projects_saver_ignores_it() -> None:
    line = shortfall(InMemorySaver(), keyed=True)
    assert line.startswith("LANGGRAPH_AES_KEY encrypts langstar's own checkpoints only")
    assert "InMemorySaver does not implement" in line
    assert "LANGGRAPH_AES_KEY" not in shortfall(InMemorySaver())


async def test_a_change_the_saver_cannot_make_is_refused_naming_its_method() -> None:
    checkpoints = SaverCheckpoints(InMemorySaver())
    conn = cast(AsyncConnection[DictRow], None)  # a project's saver is not in the transaction
    with pytest.raises(NotSupportedError, match="implement aprune"):
        await checkpoints.keep_latest(conn, uuid.uuid4())
    with pytest.raises(NotSupportedError, match="implement adelete_for_runs"):
        await checkpoints.delete_run(conn, uuid.uuid4(), uuid.uuid4())
    checkpoints.require("adelete_thread", "deleting a thread")  # InMemorySaver has it


async def test_a_copy_without_acopy_thread_puts_every_checkpoint_again() -> None:
    saver = InMemorySaver()
    builder = StateGraph(MessagesState)
    builder.add_node("reply", lambda state: {"messages": [("ai", "hello")]})
    builder.add_edge(START, "reply")
    builder.add_edge("reply", END)
    graph = builder.compile(checkpointer=saver)
    source, target = uuid.uuid4(), uuid.uuid4()
    for said in ("hi", "again"):
        await graph.ainvoke({"messages": [("user", said)]}, _config(source))
    conn = cast(AsyncConnection[DictRow], None)
    await SaverCheckpoints(saver).copy_thread(conn, source, target)
    copied = [s async for s in graph.aget_state_history(_config(target))]
    original = [s async for s in graph.aget_state_history(_config(source))]
    assert [len(s.values.get("messages", [])) for s in copied] == [
        len(s.values.get("messages", [])) for s in original
    ]
    assert [s.metadata for s in copied] == [s.metadata for s in original]
    await graph.ainvoke({"messages": [("user", "more")]}, _config(target))
    assert len((await graph.aget_state(_config(source))).values["messages"]) == 4


def _config(thread_id: uuid.UUID) -> Any:
    return {"configurable": {"thread_id": str(thread_id)}}
