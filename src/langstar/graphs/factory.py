"""Graph factories, called as LangGraph's Agent Server calls them: with the config, the
server runtime (why the graph is built, for whom, with which store), or both."""

from __future__ import annotations

import copy
import inspect
import re
import typing
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import RunnableConfig
from langgraph.graph import StateGraph
from langgraph.pregel import Pregel
from langgraph.store.base import BaseStore
from langgraph.types import Checkpointer
from langgraph_sdk.auth.types import BaseUser
from langgraph_sdk.runtime import AccessContext, ServerRuntime, _ExecutionRuntime, _ReadRuntime

from langstar.identity import Identity
from langstar.objects import LoadError

__all__ = ["AccessContext", "FactoryArguments", "GraphFactory", "GraphLoadError", "bind_graph"]

# Names a factory's string annotations may use without importing them at run time.
_ANNOTATION_NAMES: dict[str, Any] = {
    "ServerRuntime": ServerRuntime,
    "RunnableConfig": RunnableConfig,
    "Config": RunnableConfig,
}
_RUNTIME_CLASSES = (_ExecutionRuntime, _ReadRuntime)
_WRITTEN_RUNTIME = re.compile(r"(?:[\w.]+\.)?ServerRuntime\b")


class GraphLoadError(LoadError):
    """A configured graph could not be imported or is not a graph."""


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


def _is_runtime(annotation: Any) -> bool:
    """`ServerRuntime`, `ServerRuntime[Ctx]`, a runtime class, or one wrapped (`Annotated`,
    `| None`): the annotations the Agent Server reads as "the runtime goes here"."""
    if annotation is ServerRuntime:
        return True
    if isinstance(annotation, type):
        return issubclass(annotation, _RUNTIME_CLASSES)
    origin = typing.get_origin(annotation)
    if origin is None:
        return False
    if origin is ServerRuntime:
        return True
    arguments = typing.get_args(annotation)
    return bool(arguments) and _is_runtime(arguments[0])


def _annotations(make: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(make, localns=_ANNOTATION_NAMES)
    except Exception:  # an annotation names what is imported only for type checkers
        return {}


def _names_runtime(annotation: Any) -> bool:
    """Whether an annotation is the server runtime, resolved or, where it could not be
    resolved (another name imported only for type checkers), as written."""
    if isinstance(annotation, str):
        return _WRITTEN_RUNTIME.match(annotation) is not None
    return _is_runtime(annotation)


@dataclass(frozen=True, slots=True)
class FactoryArguments:
    """Which parameter of a factory gets the config, which the server runtime, and whether
    one named `model` gets the configured chat model (langstar's own addition)."""

    config: str | None = None
    runtime: str | None = None
    model: bool = False

    @classmethod
    def of(cls, make: Callable[..., Any], name: str) -> FactoryArguments:
        """As the Agent Server reads a factory: the parameter annotated `ServerRuntime` gets
        the runtime, and the other one (if any) the config, whatever its name."""
        try:
            parameters = list(inspect.signature(make).parameters.values())
        except (TypeError, ValueError):
            parameters = []
        model = any(p.name == "model" for p in parameters)
        rest = [p for p in parameters if p.name != "model"]
        hints = _annotations(make)
        runtime = [p.name for p in rest if _names_runtime(hints.get(p.name, p.annotation))]
        others = [p.name for p in rest if p.name not in runtime]
        if len(rest) > 2:
            raise GraphLoadError(
                f"graph {name!r}: a factory takes at most two arguments, `config` and "
                f"`runtime: ServerRuntime`; it takes {', '.join(p.name for p in rest)}"
            )
        if len(rest) == 2 and len(runtime) != 1:
            raise GraphLoadError(
                f"graph {name!r}: a factory of two arguments takes a config and a runtime "
                "annotated `ServerRuntime` (from langgraph_sdk.runtime)"
            )
        return cls(others[0] if others else None, runtime[0] if runtime else None, model)

    @property
    def per_call(self) -> bool:
        """Whether the factory is called each time the graph is used: always, as on
        LangGraph's server, but for one that takes nothing but the model."""
        return not self.model or self.config is not None or self.runtime is not None


class _User(dict[str, Any]):
    """A caller as a factory's runtime shows it: by key or by attribute."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


# The caller nobody signed in, as the Agent Server hands it to a factory in a request.
_ANONYMOUS = {"identity": "", "is_authenticated": False, "display_name": "", "permissions": []}


def runtime_user(identity: Identity, access: AccessContext) -> BaseUser | None:
    """The caller, as LangGraph's server gives them to a factory: the user a project's auth
    returned; with no one signed in, none for a run and the anonymous user otherwise."""
    user: Mapping[str, Any] | None = identity.user
    if not user and identity.is_authenticated:
        user = {
            "identity": identity.user_id,
            "is_authenticated": True,
            "display_name": identity.user_id,
            "permissions": list(identity.permissions),
        }
    if not user:
        user = None if access == "threads.create_run" else _ANONYMOUS
    if user is not None and not hasattr(user, "identity"):
        user = _User(user)  # a user kept as plain JSON, as a cron keeps it
    return cast(BaseUser | None, user)


def server_runtime(
    access: AccessContext, identity: Identity, store: BaseStore, context: Any = None
) -> ServerRuntime[Any]:
    """The runtime a factory is handed; only a run's carries its context."""
    user = runtime_user(identity, access)
    if access == "threads.create_run":
        context = copy.copy(context)  # a graph's own changes stay out of the run's record
        return _ExecutionRuntime(access_context=access, user=user, store=store, context=context)
    return _ReadRuntime(access_context=access, user=user, store=store)


@dataclass(frozen=True, slots=True)
class GraphFactory:
    """A function that makes the graph, as LangGraph's server calls it.

    It may take `config`, `runtime: ServerRuntime`, both (in either order) or neither, and
    `model` for the configured chat model. It may be sync or async, and may return an
    async (or plain) context manager, entered for each use and exited after it.
    """

    make: Callable[..., Any]
    name: str
    model: BaseChatModel
    arguments: FactoryArguments

    @classmethod
    def of(cls, make: Callable[..., Any], name: str, model: BaseChatModel) -> GraphFactory:
        return cls(make, name, model, FactoryArguments.of(make, name))

    @asynccontextmanager
    async def build(
        self,
        access: AccessContext,
        config: RunnableConfig,
        *,
        checkpointer: Checkpointer,
        store: BaseStore,
        identity: Identity,
        context: Any = None,
    ) -> AsyncIterator[Pregel[Any, Any, Any, Any]]:
        """The graph made for `access` (why the server needs it), bound to our savers."""
        kwargs: dict[str, Any] = {}
        if self.arguments.model:
            kwargs["model"] = self.model
        if self.arguments.config is not None:
            kwargs[self.arguments.config] = config
        if self.arguments.runtime is not None:
            kwargs[self.arguments.runtime] = server_runtime(access, identity, store, context)
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
