"""The run config is built on the server; the client's parts pass through an allow-list."""

from __future__ import annotations

import uuid
import warnings
from typing import Any

from langchain_core.runnables import RunnableConfig

from langstar.errors import UnprocessableEntity
from langstar.graphs.registry import RegisteredGraph
from langstar.identity import Identity
from langstar.runs.schemas import (
    CONFIG_KEYS,
    PARTIAL,
    RESERVED_CONFIGURABLE,
    UNSUPPORTED,
    RunCreate,
)
from langstar.settings import RunSettings


def refuse_unsupported(body: RunCreate) -> None:
    """A field we cannot honour is a 422 naming it, never silently dropped."""
    for name, unused in UNSUPPORTED.items():
        if getattr(body, name) != unused:
            raise UnprocessableEntity(f"{name}: not supported by this server")
    for name, accepted in PARTIAL.items():
        value = getattr(body, name)
        if value not in accepted:
            raise UnprocessableEntity(f"{name}: {value!r} is not supported by this server")


def declared_configurable(graph: RegisteredGraph) -> frozenset[str]:
    """Configurable keys a graph declares in its config schema."""
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


def build_config(
    body: RunCreate,
    *,
    thread_id: uuid.UUID,
    run_id: uuid.UUID,
    graph: RegisteredGraph,
    identity: Identity,
    settings: RunSettings,
) -> RunnableConfig:
    client = body.config or {}
    unknown = sorted(set(client) - CONFIG_KEYS)
    if unknown:
        raise UnprocessableEntity(f"config.{unknown[0]}: not accepted by this server")
    allowed = frozenset(settings.configurable_keys) | declared_configurable(graph)
    configurable: dict[str, Any] = {}
    for key, value in (client.get("configurable") or {}).items():
        if key == "thread_id" and str(value) == str(thread_id):
            continue  # RemoteGraph repeats the thread id it posts to
        if key in RESERVED_CONFIGURABLE or key.startswith("__"):
            raise UnprocessableEntity(f"config.configurable.{key}: set by the server")
        if key not in allowed:
            raise UnprocessableEntity(
                f"config.configurable.{key}: not declared by graph {graph.graph_id!r}; "
                "add it to runs.configurable_keys to accept it"
            )
        configurable[key] = value
    if identity.is_authenticated:
        configurable["user_id"] = identity.user_id
    configurable.update(
        thread_id=str(thread_id),
        run_id=str(run_id),
        assistant_id=str(graph.assistant_id),
        graph_id=graph.graph_id,
        langgraph_auth_user_id=identity.user_id,
    )
    limit = client.get("recursion_limit", settings.recursion_limit)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise UnprocessableEntity("config.recursion_limit: must be a positive integer")
    if limit > settings.max_recursion_limit:
        raise UnprocessableEntity(
            f"config.recursion_limit: {limit} is above the limit {settings.max_recursion_limit}"
        )
    config: RunnableConfig = {
        "configurable": configurable,
        "recursion_limit": limit,
        "metadata": dict(body.metadata or {}),
        "run_id": run_id,
    }
    if "tags" in client:
        tags = client["tags"]
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise UnprocessableEntity("config.tags: must be a list of strings")
        config["tags"] = tags
    if "run_name" in client:
        config["run_name"] = str(client["run_name"])
    if "max_concurrency" in client:
        config["max_concurrency"] = int(client["max_concurrency"])
    return config
