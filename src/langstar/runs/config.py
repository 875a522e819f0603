"""The run config is built on the server; the client's parts pass through an allow-list."""

from __future__ import annotations

import uuid
import warnings
import weakref
from typing import Any

from langchain_core.runnables import RunnableConfig

from langstar.errors import UnprocessableEntity
from langstar.graphs.registry import RegisteredGraph
from langstar.identity import Identity
from langstar.runs.schemas import CONFIG_KEYS, RESERVED_CONFIGURABLE, UNSUPPORTED, RunCreate
from langstar.settings import RunSettings


def stream_modes(body: RunCreate) -> list[str]:
    modes = body.stream_mode or ["values"]
    return [modes] if isinstance(modes, str) else list(dict.fromkeys(modes))


def refuse_unsupported(body: RunCreate, *, stateless: bool) -> None:
    """A field we cannot honour is a 422 naming it, never silently dropped."""
    for name, unused in UNSUPPORTED.items():
        if getattr(body, name) not in (unused, False):
            raise UnprocessableEntity(f"{name}: not supported by this server")
    if body.command is not None and body.input is not None:
        raise UnprocessableEntity("command: cannot be combined with input")
    if body.on_completion is not None and not stateless:
        raise UnprocessableEntity("on_completion: applies only to stateless runs (POST /runs)")
    if body.after_seconds is not None and body.after_seconds < 0:
        raise UnprocessableEntity("after_seconds: must not be negative")
    if body.checkpoint_id is not None and body.checkpoint is not None:
        raise UnprocessableEntity("checkpoint_id: give either checkpoint or checkpoint_id")
    if body.command is not None:
        unknown = sorted(set(body.command) - {"resume", "update", "goto"})
        if unknown:
            raise UnprocessableEntity(f"command.{unknown[0]}: not a command field")


_declared: weakref.WeakKeyDictionary[object, frozenset[str]] = weakref.WeakKeyDictionary()


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


def _checked_configurable(
    configurable: dict[str, Any],
    graph: RegisteredGraph,
    settings: RunSettings,
    *,
    thread_id: uuid.UUID | None,
) -> dict[str, Any]:
    allowed = frozenset(settings.configurable_keys) | declared_configurable(graph)
    checked: dict[str, Any] = {}
    for key, value in configurable.items():
        if key == "thread_id" and thread_id is not None and str(value) == str(thread_id):
            continue  # RemoteGraph repeats the thread id it posts to
        if key in RESERVED_CONFIGURABLE or key.startswith("__"):
            raise UnprocessableEntity(f"config.configurable.{key}: set by the server")
        if key not in allowed:
            raise UnprocessableEntity(
                f"config.configurable.{key}: not declared by graph {graph.graph_id!r}; "
                "add it to runs.configurable_keys to accept it"
            )
        checked[key] = value
    return checked


def _checked_limit(config: dict[str, Any], settings: RunSettings) -> int:
    limit = config.get("recursion_limit", settings.recursion_limit)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise UnprocessableEntity("config.recursion_limit: must be a positive integer")
    if limit > settings.max_recursion_limit:
        raise UnprocessableEntity(
            f"config.recursion_limit: {limit} is above the limit {settings.max_recursion_limit}"
        )
    return limit


def _check_keys(config: dict[str, Any]) -> None:
    unknown = sorted(set(config) - CONFIG_KEYS)
    if unknown:
        raise UnprocessableEntity(f"config.{unknown[0]}: not accepted by this server")
    tags = config.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise UnprocessableEntity("config.tags: must be a list of strings")


def check_assistant_config(
    config: dict[str, Any], graph: RegisteredGraph, settings: RunSettings
) -> None:
    """An assistant's stored config passes the same allow-list as a run's."""
    _check_keys(config)
    _checked_configurable(config.get("configurable") or {}, graph, settings, thread_id=None)
    _checked_limit(config, settings)


def build_config(
    body: RunCreate,
    *,
    thread_id: uuid.UUID,
    run_id: uuid.UUID,
    graph: RegisteredGraph,
    identity: Identity,
    settings: RunSettings,
) -> RunnableConfig:
    """The assistant's config, then the client's (allow-listed), then the server's own keys."""
    client = body.config or {}
    _check_keys(client)
    configurable = {
        **(graph.config.get("configurable") or {}),
        **_checked_configurable(
            client.get("configurable") or {}, graph, settings, thread_id=thread_id
        ),
    }
    if identity.is_authenticated:
        configurable["user_id"] = identity.user_id
    checkpoint = body.checkpoint or {}
    if body.checkpoint_id is not None:
        checkpoint = {"checkpoint_id": body.checkpoint_id}
    if checkpoint.get("checkpoint_id"):
        # Running from an earlier checkpoint forks the thread there.
        configurable["checkpoint_id"] = str(checkpoint["checkpoint_id"])
        configurable["checkpoint_ns"] = str(checkpoint.get("checkpoint_ns", ""))
    configurable.update(
        thread_id=str(thread_id),
        run_id=str(run_id),
        assistant_id=str(graph.assistant_id),
        graph_id=graph.graph_id,
        langgraph_auth_user_id=identity.user_id,
    )
    merged = {**graph.config, **client}
    config: RunnableConfig = {
        "configurable": configurable,
        "recursion_limit": _checked_limit(merged, settings),
        "metadata": dict(body.metadata or {}),
        "run_id": run_id,
    }
    if "tags" in merged:
        config["tags"] = list(merged["tags"])
    if "run_name" in merged:
        config["run_name"] = str(merged["run_name"])
    if "max_concurrency" in merged:
        config["max_concurrency"] = int(merged["max_concurrency"])
    return config
