"""The graphs langstar serves, loaded once from settings or a langgraph.json."""

from __future__ import annotations

import inspect
import logging
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import StateGraph
from langgraph.pregel import Pregel
from langgraph.store.base import BaseStore
from langgraph.types import Checkpointer

from langstar.objects import LoadError, load_object
from langstar.project import load_env, read_project
from langstar.settings import Settings

log = logging.getLogger(__name__)
# The namespace LangGraph's Agent Server uses for a graph's default assistant id.
ASSISTANT_NAMESPACE = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")


class GraphLoadError(LoadError):
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
    factory: GraphFactory | None = None  # builds the graph for each run, from its config


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
    load_env(project)  # already loaded where the project was applied; a no-op then
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


def bind_graph(
    obj: Any, *, name: str, checkpointer: Checkpointer, store: BaseStore | None
) -> Pregel[Any, Any, Any, Any]:
    """A compiled graph bound to our checkpointer and store, from a graph or a builder."""
    if isinstance(obj, StateGraph):
        return obj.compile(checkpointer=checkpointer, store=store, name=name)
    if isinstance(obj, Pregel):
        # Named after its graph id, as the Agent Server names it in traces and events.
        return obj.copy(update={"checkpointer": checkpointer, "store": store, "name": name})
    raise GraphLoadError(f"graph {name!r}: got a {type(obj).__name__}, not a graph")


@dataclass(frozen=True, slots=True)
class GraphFactory:
    """A function that makes the graph, as LangGraph's server calls it.

    It may be sync or async, and may return an async (or plain) context manager that is
    entered for the run and exited after it. One that takes `config` is called for every
    run with that run's config; a `model` parameter gets the configured chat model.
    """

    make: Callable[..., Any]
    name: str
    model: BaseChatModel

    @property
    def per_run(self) -> bool:
        return "config" in inspect.signature(self.make).parameters

    @asynccontextmanager
    async def build(
        self, config: RunnableConfig, checkpointer: Checkpointer, store: BaseStore | None
    ) -> AsyncIterator[Pregel[Any, Any, Any, Any]]:
        params = inspect.signature(self.make).parameters
        kwargs: dict[str, Any] = {}
        if "model" in params:
            kwargs["model"] = self.model
        if "config" in params:
            kwargs["config"] = config
        made = self.make(**kwargs)
        if inspect.isawaitable(made):
            made = await made
        if hasattr(made, "__aenter__"):
            async with made as graph:
                yield bind_graph(graph, name=self.name, checkpointer=checkpointer, store=store)
        elif hasattr(made, "__enter__"):
            with made as graph:
                yield bind_graph(graph, name=self.name, checkpointer=checkpointer, store=store)
        else:
            yield bind_graph(made, name=self.name, checkpointer=checkpointer, store=store)


async def registered_graph(
    obj: Any,
    *,
    name: str,
    checkpointer: BaseCheckpointSaver[Any],
    store: BaseStore,
    model: BaseChatModel,
) -> tuple[Pregel[Any, Any, Any, Any], GraphFactory | None]:
    """The compiled graph to serve, and the factory that builds it per run, if any.

    A factory is called once here too, with an empty config, for the graph that the
    state, schema and drawing routes read.
    """
    if not callable(obj) or isinstance(obj, (StateGraph, Pregel)):
        return bind_graph(obj, name=name, checkpointer=checkpointer, store=store), None
    factory = GraphFactory(obj, name, model)
    try:
        async with factory.build({"configurable": {}}, checkpointer, store) as compiled:
            pass
    except GraphLoadError:
        raise
    except Exception as exc:
        raise GraphLoadError(
            f"graph {name!r}: factory failed: {type(exc).__name__}: {exc}"
        ) from exc
    return compiled, factory if factory.per_run else None


async def build_registry(
    settings: Settings,
    *,
    checkpointer: BaseCheckpointSaver[Any],
    store: BaseStore,
    model: BaseChatModel,
) -> GraphRegistry:
    specs, base = graph_specs(settings)
    registry = GraphRegistry()
    for name, spec in specs.items():
        try:
            found = load_object(spec.target, base)
        except LoadError as exc:
            raise GraphLoadError(str(exc)) from exc
        compiled, factory = await registered_graph(
            found,
            name=name,
            checkpointer=checkpointer,
            store=store,
            model=model,
        )
        registry.add(
            RegisteredGraph(
                name,
                default_assistant_id(name),
                compiled,
                description=spec.description,
                factory=factory,
            )
        )
    return registry
