"""The run config is built on the server; the client's parts pass through an allow-list."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
from langchain_core.runnables import RunnableConfig

from langstar.errors import InvalidError
from langstar.graphs.config import (
    RESERVED_CONFIGURABLE,
    check_keys,
    checked_configurable,
    checked_limit,
    context_keys,
)
from langstar.graphs.registry import RegisteredGraph
from langstar.headers import HeaderPatterns
from langstar.identity import Identity
from langstar.runs.schemas import UNSUPPORTED, RunCreate
from langstar.serde import to_jsonable
from langstar.settings import RunSettings

# Credentials never reach a run's config, whatever the patterns say.
NEVER_COPIED = frozenset({"authorization", "cookie", "x-api-key", "proxy-authorization"})


@dataclass(frozen=True, slots=True)
class RunHeaders:
    """The request headers a run's config carries (`http.configurable_headers_*`)."""

    values: dict[str, str] = field(default_factory=dict)


def copied_headers(
    headers: Mapping[str, str], include: Sequence[str], exclude: Sequence[str]
) -> RunHeaders:
    """The headers, by lower-cased name, that the patterns choose (`HeaderPatterns`)."""
    patterns = _patterns(tuple(include), tuple(exclude))
    if not patterns:
        return RunHeaders()
    return RunHeaders(
        {name.lower(): value for name, value in headers.items() if patterns.matches(name)}
    )


@functools.lru_cache(maxsize=8)
def _patterns(include: tuple[str, ...], exclude: tuple[str, ...]) -> HeaderPatterns:
    """Compiled once per setting, not once per run."""
    return HeaderPatterns(include, exclude, never=NEVER_COPIED)


def stream_modes(body: RunCreate) -> list[str]:
    modes = body.stream_mode or ["values"]
    return [modes] if isinstance(modes, str) else list(dict.fromkeys(modes))


def refuse_unsupported(body: RunCreate, *, stateless: bool) -> None:
    """A field we cannot honour is a 422 naming it, never silently dropped."""
    for name, unused in UNSUPPORTED.items():
        if getattr(body, name) not in (unused, False):
            raise InvalidError(name, "not supported by this server")
    if body.on_completion is not None and not stateless:
        raise InvalidError("on_completion", "applies only to stateless runs (POST /runs)")
    if body.after_seconds is not None and body.after_seconds < 0:
        raise InvalidError("after_seconds", "must not be negative")
    if body.checkpoint_id is not None and body.checkpoint is not None:
        raise InvalidError("checkpoint_id", "give either checkpoint or checkpoint_id")
    if body.command is not None:
        # Other fields are ignored, as LangGraph's server ignores them.
        goto = body.command.get("goto")
        for target in goto if isinstance(goto, list) else [goto] if goto is not None else []:
            if not isinstance(target, str) and not (
                isinstance(target, dict) and {"node", "input"} <= set(target)
            ):
                raise InvalidError("command.goto", "each target is a node name or a Send")


def with_config_metadata(body: RunCreate) -> RunCreate:
    """The run's `config.metadata` under its own `metadata`, as LangGraph's server merges
    them into the run's (and a new thread's) metadata."""
    extra = (body.config or {}).get("metadata")
    if not isinstance(extra, dict) or not extra:
        return body
    return msgspec.structs.replace(body, metadata={**extra, **(body.metadata or {})})


def build_config(
    body: RunCreate,
    *,
    thread_id: uuid.UUID,
    run_id: uuid.UUID,
    graph: RegisteredGraph,
    identity: Identity,
    settings: RunSettings,
    headers: RunHeaders | None = None,
    cron_id: uuid.UUID | None = None,
) -> RunnableConfig:
    """The assistant's config, then the client's (allow-listed) and the copied headers,
    then the server's own keys."""
    client = body.config or {}
    check_keys(client, run=True)
    configurable = {
        **(graph.config.get("configurable") or {}),
        **checked_configurable(
            client.get("configurable") or {}, graph, settings, thread_id=thread_id
        ),
    }
    configurable.update(headers.values if headers else {})
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
        **caller_keys(identity),
    )
    if cron_id is not None:
        configurable["cron_id"] = str(cron_id)
    merged = {**graph.config, **client}
    config: RunnableConfig = {
        "configurable": configurable,
        "recursion_limit": checked_limit(merged, settings),
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


def caller_keys(identity: Identity) -> dict[str, Any]:
    """Whom a run acts for, in the keys LangGraph's server gives graphs (and so checkpoint
    metadata). A caller nobody authenticated is its empty one: no id, user or permissions;
    langstar still keeps their objects as the anonymous user's."""
    if identity.user:
        # What a project's own Auth returned, as LangGraph's server hands it to graphs.
        return {
            "langgraph_auth_user_id": identity.user_id,
            "langgraph_auth_user": identity.user,
            "langgraph_auth_permissions": list(identity.permissions),
        }
    if not identity.is_authenticated:
        return {
            "langgraph_auth_user_id": "",
            "langgraph_auth_user": None,
            "langgraph_auth_permissions": [],
        }
    return {"langgraph_auth_user_id": identity.user_id}


def run_context(graph: RegisteredGraph, context: dict[str, Any] | None) -> dict[str, Any]:
    """What a run hands its graph as `context`: the assistant's, then the run's, cut to the
    keys the graph's context schema names (if it names any), as on LangGraph's server.

    Never None: LangGraph makes `{}` into a dataclass or pydantic schema's defaults, which
    a graph reading `runtime.context.model` (the react-agent template) relies on.
    """
    assistant = graph.context or graph.config.get("configurable") or {}
    merged = {**assistant, **(context or {})}
    if merged and (names := context_keys(graph)):
        merged = {key: value for key, value in merged.items() if key in names}
    return merged


def _context(body: RunCreate, config: dict[str, Any]) -> dict[str, Any]:
    """The run's own context; without one, the client's `config.configurable` stands for it,
    as LangGraph's server mirrors the one into the other."""
    if body.context:
        return body.context
    configurable = config.get("configurable")
    if not isinstance(configurable, dict):
        return {}
    return {
        k: v
        for k, v in configurable.items()
        if k not in RESERVED_CONFIGURABLE and not k.startswith("__")
    }


def _durability(body: RunCreate) -> str | None:
    if body.durability is not None:
        return body.durability
    if body.checkpoint_during is not None:
        return "async" if body.checkpoint_during else "exit"
    return None


def run_kwargs(
    body: RunCreate, *, stateless: bool, protocol: bool, cron_id: uuid.UUID | None = None
) -> dict[str, Any]:
    """What a run does, as its record keeps it: the job is built from this, on any server.

    A cron's run shows the cron in its config, as on LangGraph's server.
    """
    config = to_jsonable(body.config or {})
    context = _context(body, config)
    if cron_id is not None:
        config["configurable"] = {**config.get("configurable", {}), "cron_id": str(cron_id)}
    kwargs = {
        "input": body.input,
        "command": body.command,
        "config": config,
        "context": context,
        "stream_mode": stream_modes(body),
        "interrupt_before": body.interrupt_before,
        "interrupt_after": body.interrupt_after,
        "subgraphs": body.stream_subgraphs,
        "resumable": body.stream_resumable,
        "durability": _durability(body),
        "after_seconds": body.after_seconds or 0,
        "temporary": stateless and body.on_completion != "keep",
        "protocol": protocol,
    }
    if body.webhook is not None:
        kwargs["webhook"] = body.webhook
    return kwargs
