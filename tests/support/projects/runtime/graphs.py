"""Graph factories that take LangGraph's server runtime, written as LangChain's templates
write them: an async context manager over the runtime, a function of `config` and
`runtime`, one of `runtime` then `config`, and a plain function of the runtime alone.

Every call of a factory is written to `calls.jsonl` beside this file, and a run's answer
says what its factory saw, so a test can tell why each graph was built.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph_sdk.runtime import ServerRuntime
from typing_extensions import TypedDict

CALLS = Path(__file__).with_name("calls.jsonl")


class Context(TypedDict, total=False):
    greeting: str


def _seen(
    graph: str, runtime: ServerRuntime[Context], config: RunnableConfig | None
) -> dict[str, Any]:
    """What the factory was given, written down."""
    user = runtime.user
    try:
        ensured: str | None = runtime.ensure_user().identity
    except PermissionError:
        ensured = None
    execution = runtime.execution_runtime
    seen = {
        "graph": graph,
        "access_context": runtime.access_context,
        "user": None if user is None else [user.identity, user.is_authenticated],
        "ensure_user": ensured,
        "context": None if execution is None else execution.context,
        "store": callable(getattr(runtime.store, "aput", None)),
        "config": config is not None and isinstance(config.get("configurable"), dict),
    }
    with CALLS.open("a") as calls:
        calls.write(json.dumps(seen) + "\n")
    return seen


def _build(seen: dict[str, Any]) -> CompiledStateGraph[Any, Any, Any, Any]:
    def answer(state: MessagesState) -> dict[str, Any]:
        return {"messages": [AIMessage(json.dumps(seen, sort_keys=True))]}

    builder = StateGraph(MessagesState, context_schema=Context)
    builder.add_node("answer", answer)
    builder.add_edge(START, "answer")
    builder.add_edge("answer", END)
    return builder.compile()


@contextlib.asynccontextmanager
async def make_graph(runtime: ServerRuntime[Context]) -> AsyncIterator[Any]:
    """As the templates that open tool servers only for a run write it."""
    seen = _seen("template", runtime, None)
    if runtime.execution_runtime is not None:
        seen["opened"] = True  # where a template would connect to its MCP servers
    yield _build(seen)


def graph(config: RunnableConfig, runtime: ServerRuntime) -> Any:
    return _build(_seen("both", runtime, config))


async def swapped(runtime: ServerRuntime, config: RunnableConfig) -> Any:
    return _build(_seen("swapped", runtime, config))


def only_runtime(runtime: ServerRuntime) -> Any:
    return _build(_seen("sync", runtime, None))
