"""Graphs load from `module:attr`, `file.py:attr` or a langgraph.json, in every form."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore

from langstar.graphs.factory import GraphFactory
from langstar.graphs.registry import GraphLoadError, build_registry, default_assistant_id
from langstar.identity import Identity
from langstar.models.offline import OfflineChatModel
from langstar.objects import load_object
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


# Factories as projects write them for LangGraph's server: which argument gets the runtime
# is read from its annotation, the other one gets the config, whatever its name.
RUNTIME_FACTORIES = """
from __future__ import annotations

from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Annotated

from langchain_core.runnables import RunnableConfig
from langgraph.graph import StateGraph, START, END
from typing_extensions import TypedDict

if TYPE_CHECKING:
    from langgraph.pregel import Pregel
    from langgraph_sdk.runtime import ServerRuntime

from langgraph_sdk.runtime import ServerRuntime as Runtime

class State(TypedDict):
    n: int

class Context(TypedDict, total=False):
    greeting: str

CALLS = []
builder = StateGraph(State)
builder.add_node("bump", lambda state: {"n": state["n"] + 1})
builder.add_edge(START, "bump")
builder.add_edge("bump", END)

def _seen(runtime=None, config=None):
    CALLS.append((runtime, config))
    return builder

def nothing():
    return _seen()

def config_by_any_name(cfg):
    return _seen(config=cfg)

def runtime_only(runtime: Runtime[Context]):
    return _seen(runtime=runtime)

def config_then_runtime(config: RunnableConfig, rt: Annotated[Runtime, "the server's"]):
    return _seen(rt, config)

async def runtime_then_config(runtime: Runtime, config):
    return _seen(runtime, config)

def written_for_type_checkers(runtime: ServerRuntime) -> Pregel:
    return _seen(runtime=runtime)

def model_and_runtime(model, runtime: Runtime):
    assert model is not None
    return _seen(runtime=runtime)

@asynccontextmanager
async def entered(runtime: Runtime):
    CALLS.append(("entered", runtime.access_context))
    yield _seen(runtime=runtime).compile()
    CALLS.append(("exited", runtime.access_context))

@contextmanager
def entered_sync(config):
    CALLS.append(("entered", None))
    yield _seen(config=config)
    CALLS.append(("exited", None))

def three(config, runtime: Runtime, extra):
    return builder

def two_configs(config, other):
    return builder
"""


@pytest.fixture
def factories(tmp_path: Path) -> Any:
    """The loaded module of RUNTIME_FACTORIES."""
    path = tmp_path / "runtime_factories.py"
    path.write_text(RUNTIME_FACTORIES)
    return sys.modules[load_object(f"{path}:nothing", tmp_path).__module__]


async def build(module: Any, attr: str, access: str, identity: Identity, **kwargs: Any) -> Any:
    factory = GraphFactory.of(getattr(module, attr), "g", OfflineChatModel())
    async with factory.build(
        access,  # type: ignore[arg-type]
        {"configurable": {"thread_id": "t"}},
        checkpointer=InMemorySaver(),
        store=InMemoryStore(),
        identity=identity,
        **kwargs,
    ) as graph:
        assert await graph.ainvoke({"n": 1}, {"configurable": {"thread_id": "t"}}) == {"n": 2}
    return factory


@pytest.mark.parametrize(
    ("attr", "gets"),
    [
        ("nothing", (False, False)),
        ("config_by_any_name", (False, True)),
        ("runtime_only", (True, False)),
        ("config_then_runtime", (True, True)),
        ("runtime_then_config", (True, True)),
        ("written_for_type_checkers", (True, False)),
        ("model_and_runtime", (True, False)),
    ],
)
async def test_a_factory_gets_the_runtime_and_config_its_signature_asks_for(
    factories: Any, attr: str, gets: tuple[bool, bool]
) -> None:
    calls = factories.CALLS
    await build(factories, attr, "threads.read", Identity())
    runtime, config = calls[-1]
    assert (runtime is not None, config is not None) == gets
    if runtime is not None:
        assert runtime.access_context == "threads.read"
        assert runtime.execution_runtime is None
    if config is not None:
        assert config["configurable"]["thread_id"] == "t"


async def test_a_runs_runtime_carries_its_context_and_caller(factories: Any) -> None:
    calls = factories.CALLS
    caller = Identity(user_id="ada", is_authenticated=True, permissions=("write",))
    await build(factories, "runtime_only", "threads.create_run", caller, context={"greeting": "hi"})
    runtime = calls[-1][0]
    assert runtime.execution_runtime is runtime
    assert runtime.context == {"greeting": "hi"}
    assert runtime.ensure_user().identity == "ada"
    assert list(runtime.user.permissions) == ["write"]


async def test_nobody_signed_in_is_no_user_for_a_run_and_the_anonymous_one_otherwise(
    factories: Any,
) -> None:
    calls = factories.CALLS
    await build(factories, "runtime_only", "threads.create_run", Identity())
    with pytest.raises(PermissionError):
        calls[-1][0].ensure_user()
    await build(factories, "runtime_only", "assistants.read", Identity())
    anonymous = calls[-1][0].ensure_user()
    assert (anonymous.identity, anonymous.is_authenticated) == ("", False)


@pytest.mark.parametrize("attr", ["entered", "entered_sync"])
async def test_a_context_manager_factory_is_entered_and_exited_for_each_use(
    factories: Any, attr: str
) -> None:
    calls = factories.CALLS
    for access in ("threads.create_run", "threads.read"):
        await build(factories, attr, access, Identity())
    marks = [call[0] for call in calls if call[0] in ("entered", "exited")]
    assert marks == ["entered", "exited", "entered", "exited"]


@pytest.mark.parametrize(
    ("attr", "message"),
    [("three", "at most two arguments"), ("two_configs", "annotated `ServerRuntime`")],
)
async def test_a_factory_the_server_cannot_call_is_refused_at_start_up(
    factories: Any, attr: str, message: str
) -> None:
    with pytest.raises(GraphLoadError, match=message):
        await registry_for(Settings(graphs={"g": f"{factories.__file__}:{attr}"}))


async def test_a_runtime_factory_serves_from_start_up_and_is_kept_for_each_use(
    factories: Any,
) -> None:
    registry = await registry_for(Settings(graphs={"g": f"{factories.__file__}:runtime_only"}))
    graph = registry.graphs["g"]  # type: ignore[attr-defined]
    assert graph.factory is not None
    # Loading the file again made the module anew.
    [(runtime, _)] = sys.modules[factories.__name__].CALLS
    assert runtime.access_context == "assistants.read"
