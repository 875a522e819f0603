"""Which config keys a graph accepts: an allow-list, as client config reaches checkpoints."""

from __future__ import annotations

import uuid
import warnings
import weakref
from typing import Any

from langstar.errors import InvalidError
from langstar.graphs.registry import RegisteredGraph
from langstar.settings import RunSettings

# `config.configurable` keys the server sets itself.
RESERVED_CONFIGURABLE = frozenset(
    {
        "thread_id",
        "checkpoint_id",
        "checkpoint_ns",
        "checkpoint_map",
        "run_id",
        "assistant_id",
        "graph_id",
        "langgraph_auth_user",
        "langgraph_auth_user_id",
        "langgraph_auth_permissions",
        "cron_id",
    }
)
CONFIG_KEYS = frozenset({"configurable", "recursion_limit", "tags", "run_name", "max_concurrency"})
RUN_CONFIG_KEYS = CONFIG_KEYS | {"metadata"}

_declared: weakref.WeakKeyDictionary[object, frozenset[str]] = weakref.WeakKeyDictionary()
_context_keys: weakref.WeakKeyDictionary[object, frozenset[str]] = weakref.WeakKeyDictionary()


def declared_configurable(graph: RegisteredGraph) -> frozenset[str]:
    """Configurable keys a graph declares in its config schema, worked out once per graph.

    Building the schema takes milliseconds, so it is kept for the graph's builder, which
    the per-user copies of a compiled graph share.
    """
    key = getattr(graph.compiled, "builder", None) or graph.compiled
    found = _declared.get(key)
    if found is None:
        found = _declared[key] = _read_configurable(graph)
    return found


def context_keys(graph: RegisteredGraph) -> frozenset[str]:
    """The keys a graph's context schema names, worked out once per graph; empty when it
    names none, and then any key may pass."""
    key = getattr(graph.compiled, "builder", None) or graph.compiled
    found = _context_keys.get(key)
    if found is None:
        try:
            schema = graph.compiled.get_context_jsonschema() or {}
        except Exception:  # a schema pydantic cannot render filters nothing, as on LangGraph's
            schema = {}
        found = _context_keys[key] = frozenset(schema.get("properties") or {})
    return found


def _read_configurable(graph: RegisteredGraph) -> frozenset[str]:
    try:
        with warnings.catch_warnings():
            # Deprecated in favour of context schemas, but still how graphs declare config.
            warnings.simplefilter("ignore")
            schema = graph.compiled.get_config_jsonschema()
    except Exception:
        return frozenset()
    properties = schema.get("properties", {}).get("configurable", {})
    if "$ref" in properties:
        name = properties["$ref"].rsplit("/", 1)[-1]
        properties = schema.get("$defs", {}).get(name, {})
    return frozenset(properties.get("properties", {}))


def checked_configurable(
    configurable: dict[str, Any],
    graph: RegisteredGraph,
    settings: RunSettings,
    *,
    thread_id: uuid.UUID | None,
) -> dict[str, Any]:
    """The client's configurable keys, each one the graph declares or settings allow."""
    allowed = frozenset(settings.configurable_keys) | declared_configurable(graph)
    checked: dict[str, Any] = {}
    for key, value in configurable.items():
        if key == "thread_id" and thread_id is not None and str(value) == str(thread_id):
            continue  # RemoteGraph repeats the thread id it posts to
        if key in RESERVED_CONFIGURABLE or key.startswith("__"):
            raise InvalidError(f"config.configurable.{key}", "set by the server")
        if key not in allowed:
            raise InvalidError(
                f"config.configurable.{key}",
                f"not declared by graph {graph.graph_id!r}; "
                "add it to runs.configurable_keys to accept it",
            )
        checked[key] = value
    return checked


def checked_limit(config: dict[str, Any], settings: RunSettings) -> int:
    """The recursion limit a config asks for, within what settings allow."""
    limit = config.get("recursion_limit", settings.recursion_limit)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise InvalidError("config.recursion_limit", "must be a positive integer")
    if limit > settings.max_recursion_limit:
        raise InvalidError(
            "config.recursion_limit", f"{limit} is above the limit {settings.max_recursion_limit}"
        )
    return limit


def check_keys(config: dict[str, Any], *, run: bool = False) -> None:
    """Only the config keys the server acts on; a run's may carry `metadata` too, which
    tags the run (RemoteGraph sends its caller's there)."""
    unknown = sorted(set(config) - (RUN_CONFIG_KEYS if run else CONFIG_KEYS))
    if unknown:
        raise InvalidError(f"config.{unknown[0]}", "not accepted by this server")
    if not isinstance(config.get("metadata", {}), dict):
        raise InvalidError("config.metadata", "must be an object")
    tags = config.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise InvalidError("config.tags", "must be a list of strings")


def check_config(config: dict[str, Any], graph: RegisteredGraph, settings: RunSettings) -> None:
    """A config an assistant stores passes the same allow-list as a run's."""
    check_keys(config)
    checked_configurable(config.get("configurable") or {}, graph, settings, thread_id=None)
    checked_limit(config, settings)
