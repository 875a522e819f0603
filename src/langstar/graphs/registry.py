"""The graphs langstar serves, loaded once from settings or a langgraph.json."""

from __future__ import annotations

import logging
import os
import sys
import uuid
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import StateGraph
from langgraph.pregel import Pregel
from langgraph.store.base import BaseStore

from langstar.graphs.factory import AccessContext, GraphFactory, GraphLoadError, bind_graph
from langstar.identity import Identity
from langstar.objects import LoadError, load_object
from langstar.project import load_env, read_project
from langstar.settings import ENV_PREFIX, Settings

log = logging.getLogger(__name__)
# What `check_graphs` imported, by (spec, folder): the process that checked them serves them
# without importing their files a second time.
_checked: dict[tuple[str, Path], Any] = {}
# The namespace LangGraph's Agent Server uses for a graph's default assistant id.
ASSISTANT_NAMESPACE = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")


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
    factory: GraphFactory | None = None  # builds the graph each time it is used

    def built(
        self,
        access: AccessContext,
        identity: Identity,
        *,
        config: RunnableConfig | None = None,
        context: Any = None,
        thread_id: uuid.UUID | None = None,
    ) -> AbstractAsyncContextManager[Pregel[Any, Any, Any, Any]]:
        """The graph as LangGraph's server makes it for `access` (a run, a state read or
        update, a schema), for the caller: its factory's, else the compiled graph itself.

        Without a config, the factory gets the assistant's, naming the graph and thread.
        """
        if self.factory is None:
            return nullcontext(self.compiled)
        store = self.compiled.store
        if store is None:
            raise GraphLoadError(f"graph {self.graph_id!r}: served without a store")
        return self.factory.build(
            access,
            self._config(thread_id) if config is None else config,
            checkpointer=self.compiled.checkpointer,
            store=store,
            identity=identity,
            context=context,
        )

    def _config(self, thread_id: uuid.UUID | None) -> RunnableConfig:
        configurable = {
            **(self.config.get("configurable") or {}),
            "graph_id": self.graph_id,
            "assistant_id": str(self.assistant_id),
        }
        if thread_id is not None:
            configurable["thread_id"] = str(thread_id)
        return {**self.config, "configurable": configurable}  # type: ignore[typeddict-item]


@dataclass(frozen=True, slots=True)
class ThreadGraph:
    """The graph a thread's state is read with; None for a thread that has not run yet."""

    graph: RegisteredGraph | None

    @property
    def compiled(self) -> Pregel[Any, Any, Any, Any] | None:
        return None if self.graph is None else self.graph.compiled


def reading_graph(
    source: ThreadGraph | Pregel[Any, Any, Any, Any] | None,
    identity: Identity,
    thread_id: uuid.UUID,
) -> AbstractAsyncContextManager[Pregel[Any, Any, Any, Any] | None]:
    """The graph to read a thread's state and history with, built for that read
    (`threads.read`) when a factory makes it; a compiled graph is read as it is."""
    if isinstance(source, ThreadGraph):
        if source.graph is None:
            return nullcontext(None)
        return source.graph.built("threads.read", identity, thread_id=thread_id)
    return nullcontext(source)


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


def graph_origin(settings: Settings, name: str) -> str:
    """Where graph `name` was configured: a langgraph.json key, a variable, or a setting."""
    if settings.graphs_from:
        return f"graphs.{name} in {Path(settings.graphs_from).expanduser().resolve()}"
    variable = f"{ENV_PREFIX}GRAPHS__{name.upper()}"
    return variable if variable in os.environ else f"graphs.{name}"


def check_graphs(settings: Settings) -> None:
    """Import every configured graph, so that one that cannot load stops `serve` before
    anything starts; the error names the graph and where it was configured, and its
    cause is the import's own error."""
    specs, base = graph_specs(settings)
    for name, spec in specs.items():
        where = f"cannot load graph {name!r} ({graph_origin(settings, name)})"
        try:
            found = load_object(spec.target, base)
        except LoadError as exc:
            raise GraphLoadError(where) from exc
        if not callable(found) and not isinstance(found, (StateGraph, Pregel)):
            raise GraphLoadError(
                f"{where}: {spec.target} is a {type(found).__name__}, not a graph or a "
                "function that makes one"
            )
        _checked[(spec.target, base)] = found


def _load_graph(settings: Settings, name: str, spec: GraphSpec, base: Path) -> Any:
    if (spec.target, base) in _checked:
        return _checked.pop((spec.target, base))
    try:
        return load_object(spec.target, base)
    except LoadError as exc:
        where = graph_origin(settings, name)
        raise GraphLoadError(f"cannot load graph {name!r} ({where}): {exc}") from exc


async def registered_graph(
    obj: Any,
    *,
    name: str,
    checkpointer: BaseCheckpointSaver[Any],
    store: BaseStore,
    model: BaseChatModel,
) -> tuple[Pregel[Any, Any, Any, Any], GraphFactory | None]:
    """The compiled graph to serve, and the factory that builds it each time, if any.

    A factory is called once here too, for schemas (`assistants.read`) with no one signed
    in, for the graph that config checks, MCP and A2A read; LangGraph's server does not.
    """
    if not callable(obj) or isinstance(obj, (StateGraph, Pregel)):
        return bind_graph(obj, name=name, checkpointer=checkpointer, store=store), None
    factory = GraphFactory.of(obj, name, model)
    try:
        async with factory.build(
            "assistants.read",
            {"configurable": {"graph_id": name}},
            checkpointer=checkpointer,
            store=store,
            identity=Identity(),
        ) as compiled:
            pass
    except GraphLoadError:
        raise
    except Exception as exc:
        raise GraphLoadError(
            f"graph {name!r}: its factory failed: {type(exc).__name__}: {exc}"
        ) from exc
    return compiled, factory if factory.arguments.per_call else None


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
        compiled, factory = await registered_graph(
            _load_graph(settings, name, spec, base),
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
