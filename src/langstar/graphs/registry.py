"""The graphs langstar serves, loaded once from settings or a langgraph.json."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import logging
import os
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dotenv import load_dotenv
from langchain_core.language_models import BaseChatModel
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import StateGraph
from langgraph.pregel import Pregel
from langgraph.store.base import BaseStore

from langstar.project import read_project
from langstar.settings import Settings

log = logging.getLogger(__name__)
# The namespace LangGraph's Agent Server uses for a graph's default assistant id.
ASSISTANT_NAMESPACE = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")


class GraphLoadError(RuntimeError):
    """A configured graph could not be imported or is not a graph."""


def default_assistant_id(graph_id: str) -> uuid.UUID:
    return uuid.uuid5(ASSISTANT_NAMESPACE, graph_id)


@dataclass(frozen=True, slots=True)
class RegisteredGraph:
    """A graph as a run sees it: through an assistant, with that assistant's config."""

    graph_id: str
    assistant_id: uuid.UUID
    compiled: Pregel[Any, Any, Any, Any]
    config: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    description: str | None = None


@dataclass(frozen=True, slots=True)
class ThreadGraph:
    """The graph a thread's state is read with; None for a thread that has not run yet."""

    graph: RegisteredGraph | None

    @property
    def compiled(self) -> Pregel[Any, Any, Any, Any] | None:
        return None if self.graph is None else self.graph.compiled


@dataclass(slots=True)
class GraphRegistry:
    """Compiled graphs by graph id, each already bound to the server's checkpointer and store.

    A compiled graph holds no per-run state, so one instance serves every request.
    """

    graphs: dict[str, RegisteredGraph] = field(default_factory=dict)
    _by_assistant: dict[str, RegisteredGraph] = field(default_factory=dict)

    def add(self, graph: RegisteredGraph) -> None:
        self.graphs[graph.graph_id] = graph
        self._by_assistant[graph.graph_id] = graph
        self._by_assistant[str(graph.assistant_id)] = graph

    def find(self, assistant_id: str) -> RegisteredGraph | None:
        """By graph name or default assistant id."""
        return self._by_assistant.get(assistant_id) or self._by_assistant.get(assistant_id.lower())


@dataclass(frozen=True, slots=True)
class GraphSpec:
    """Where a graph is (`module:attr` or `path/to/file.py:attr`) and what it is for."""

    target: str
    description: str | None = None


def graph_specs(settings: Settings) -> tuple[dict[str, GraphSpec], Path]:
    """The `name -> spec` table, and the folder that relative file paths start from."""
    if not settings.graphs_from:
        return {name: GraphSpec(spec) for name, spec in settings.graphs.items()}, Path.cwd()
    project = read_project(settings.graphs_from)
    graphs = project.config.get("graphs")
    if not isinstance(graphs, dict) or not graphs:
        raise GraphLoadError(f'graphs_from: {project.path} has no "graphs" table')
    specs = {name: _graph_spec(name, spec) for name, spec in graphs.items()}
    _add_dependencies(project.config.get("dependencies", []), project.base)
    _load_env(project.config.get("env"), project.base)
    return specs, project.base


def _graph_spec(name: str, spec: object) -> GraphSpec:
    # langgraph.json allows {"path": "...", "description": "..."} as well as a string.
    target = spec.get("path") if isinstance(spec, dict) else spec
    if not isinstance(target, str) or ":" not in target:
        raise GraphLoadError(f"graphs_from: graph {name!r} has no 'file.py:attr' path")
    description = spec.get("description") if isinstance(spec, dict) else None
    return GraphSpec(target, description if isinstance(description, str) else None)


def _add_dependencies(dependencies: object, base: Path) -> None:
    """Local folders become importable; packages must be installed beside langstar."""
    for dependency in dependencies if isinstance(dependencies, list) else []:
        if not isinstance(dependency, str):
            continue
        folder = (base / dependency).resolve()
        if dependency.startswith(("http", "git+")) or not folder.is_dir():
            log.info("langgraph.json: dependency %r is not a local folder; install it "
                     "where langstar runs if the graphs need it", dependency)  # fmt: skip
        elif str(folder) not in sys.path:
            sys.path.insert(0, str(folder))


def _load_env(env: object, base: Path) -> None:
    if isinstance(env, dict):
        for key, value in env.items():
            os.environ.setdefault(str(key), str(value))
    elif isinstance(env, str):
        load_dotenv(base / env, override=False)


def load_object(spec: str, base: Path) -> Any:
    """Import `module:attr` or `path/to/file.py:attr`."""
    target, _, attr = spec.rpartition(":")
    try:
        if target.endswith(".py") or "/" in target:
            file = (base / target).resolve()
            name = "langstar_graph_" + uuid.uuid5(ASSISTANT_NAMESPACE, str(file)).hex
            module_spec = importlib.util.spec_from_file_location(name, file)
            if module_spec is None or module_spec.loader is None:
                raise GraphLoadError(f"{spec}: cannot load {file}")
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[name] = module
            module_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(target)
    except GraphLoadError:
        raise
    except Exception as exc:
        raise GraphLoadError(f"{spec}: import failed: {type(exc).__name__}: {exc}") from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        raise GraphLoadError(f"{spec}: module has no attribute {attr!r}") from None


def compile_graph(
    obj: Any,
    *,
    name: str,
    checkpointer: BaseCheckpointSaver[Any],
    store: BaseStore,
    model: BaseChatModel,
) -> Pregel[Any, Any, Any, Any]:
    """A compiled graph bound to our checkpointer and store, from whatever the spec named."""
    if isinstance(obj, StateGraph):
        return obj.compile(checkpointer=checkpointer, store=store, name=name)
    if isinstance(obj, Pregel):
        # Named after its graph id, as the Agent Server names it in traces and events.
        return obj.copy(update={"checkpointer": checkpointer, "store": store, "name": name})
    if callable(obj):
        params = inspect.signature(obj).parameters
        kwargs: dict[str, Any] = {}
        if "model" in params:
            kwargs["model"] = model
        if "config" in params:
            kwargs["config"] = {"configurable": {}}
        built = obj(**kwargs)
        if inspect.isawaitable(built):
            raise GraphLoadError(f"graph {name!r}: async factories are not supported")
        if callable(built) and not isinstance(built, (StateGraph, Pregel)):
            raise GraphLoadError(f"graph {name!r}: factory returned {type(built).__name__}")
        return compile_graph(built, name=name, checkpointer=checkpointer, store=store, model=model)
    raise GraphLoadError(f"graph {name!r} is a {type(obj).__name__}, not a graph")


def build_registry(
    settings: Settings,
    *,
    checkpointer: BaseCheckpointSaver[Any],
    store: BaseStore,
    model: BaseChatModel,
) -> GraphRegistry:
    specs, base = graph_specs(settings)
    registry = GraphRegistry()
    for name, spec in specs.items():
        compiled = compile_graph(
            load_object(spec.target, base),
            name=name,
            checkpointer=checkpointer,
            store=store,
            model=model,
        )
        registry.add(
            RegisteredGraph(
                name, default_assistant_id(name), compiled, description=spec.description
            )
        )
    return registry
