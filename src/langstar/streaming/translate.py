"""A run's graph output, turned into the events of the thread-centric streaming protocol.

The SDK's `client.threads.stream()` reads these. Each event has a `method` (its channel),
and `params` with the `namespace` it came from, a millisecond `timestamp`, its `data` and,
for updates, the `node`. LangGraph itself shapes message events as content blocks when
the run's config asks for it; this module adds what the server owns: the lifecycle of
the root and of each subgraph, one `input.requested` per interrupt, checkpoint envelopes
and the custom-event wrapper.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from langstar.serde import to_jsonable

# The stream modes a protocol run asks the graph for.
GRAPH_MODES = (
    "values",
    "updates",
    "messages",
    "tools",
    "custom",
    "tasks",
    "checkpoints",
)
# The channels a client may subscribe to, besides `custom:<name>`.
CHANNELS = frozenset(
    {
        "values",
        "updates",
        "checkpoints",
        "messages",
        "tools",
        "custom",
        "lifecycle",
        "input",
        "tasks",
    }
)
INTERRUPT = "__interrupt__"
Namespace = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ProtocolEvent:
    event_id: str
    method: str
    params: dict[str, Any]


class SubgraphLifecycle:
    """Each subgraph's lifecycle, read from the graph's `tasks` stream as LangGraph's own
    `LifecycleTransformer` reads it: `started` when the first task under a namespace starts,
    and its end when the parent's task that ran it returns, or else its node's update."""

    def __init__(self) -> None:
        self._seen: set[Namespace] = set()
        self._open: dict[Namespace, str] = {}  # a subgraph's namespace: its parent task's id
        self._names: dict[Namespace, str] = {}
        self._tool_calls: dict[str, str] = {}  # a task's id: the tool call that started it

    def on_task(self, namespace: Namespace, task: Any) -> list[tuple[Namespace, dict[str, Any]]]:
        """The lifecycle events one `tasks` item makes: `(namespace, data)`."""
        if not isinstance(task, dict):
            return []
        if "result" in task:
            return self._ended(namespace, task)
        self._note_tool_call(task)
        return self._started(namespace, task)

    def on_update(self, namespace: Namespace, node: str) -> list[tuple[Namespace, dict[str, Any]]]:
        """A node's update at `namespace` ends its oldest subgraph still open."""
        for child in self._open:
            if child[:-1] == namespace and child[-1].split(":", 1)[0] == node:
                return [self._close(child, "completed")]
        return []

    def close_all(self) -> list[tuple[Namespace, dict[str, Any]]]:
        """`completed` for every subgraph still open, the deepest first, as the run ends."""
        return [self._close(ns, "completed") for ns in sorted(self._open, key=len, reverse=True)]

    def _started(self, namespace: Namespace, task: dict[str, Any]) -> list[Any]:
        if not namespace or namespace in self._seen:
            return []
        self._seen.add(namespace)
        name, _, trigger = namespace[-1].partition(":")
        if not trigger:  # nothing would tell when it ends
            return []
        agent = (task.get("metadata") or {}).get("lc_agent_name")
        self._names[namespace] = agent or name
        self._open[namespace] = trigger
        data: dict[str, Any] = {"event": "started", "namespace": list(namespace)}
        data |= {"graph_name": self._names[namespace], "trigger_call_id": trigger}
        if agent and trigger in self._tool_calls:
            data["cause"] = {"type": "toolCall", "tool_call_id": self._tool_calls[trigger]}
        return [(namespace, data)]

    def _ended(self, namespace: Namespace, result: dict[str, Any]) -> list[Any]:
        ended = [
            child
            for child, task_id in self._open.items()
            if child[:-1] == namespace and task_id == result.get("id")
        ]
        if result.get("interrupts"):
            return [self._close(child, "interrupted") for child in ended]
        error = result.get("error")
        status = "failed" if error else "completed"
        return [self._close(child, status, str(error) if error else None) for child in ended]

    def _close(
        self, namespace: Namespace, status: str, error: str | None = None
    ) -> tuple[Namespace, dict[str, Any]]:
        del self._open[namespace]
        data = {"event": status, "graph_name": self._names[namespace]}
        return namespace, data if error is None else {**data, "error": error}

    def _note_tool_call(self, task: dict[str, Any]) -> None:
        # A tool call runs as its own task; a subagent it starts is named by that task's id.
        given = task.get("input")
        calls = [given.get("tool_call")] if isinstance(given, dict) else given
        for call in calls if isinstance(calls, list) else []:
            if isinstance(call, dict) and isinstance(call.get("id"), str):
                self._tool_calls[str(task.get("id"))] = call["id"]
                return


class Translator:
    """Turns one run's `(namespace, mode, chunk)` items into protocol events."""

    def __init__(self, run_id: uuid.UUID, graph_name: str) -> None:
        self._run_id = run_id
        self._graph_name = graph_name
        self._count = 0
        self._interrupts: set[str] = set()
        self._checkpoints: set[tuple[tuple[str, ...], str]] = set()
        self._subgraphs = SubgraphLifecycle()
        self.terminal_sent = False
        # The graph's stream modes, each with what it becomes in the protocol.
        self._handlers: dict[str, Callable[[tuple[str, ...], Any], list[ProtocolEvent]]] = {
            "values": self._values,
            "updates": self._updates,
            "messages": self._message,
            "custom": lambda ns, chunk: [
                self._event("custom", ns, {"payload": to_jsonable(chunk)})
            ],
            "tasks": self._task,
            "checkpoints": self._checkpoint,
            "tools": self._tool,
        }

    def _event(
        self, method: str, namespace: tuple[str, ...], data: Any, node: str | None = None
    ) -> ProtocolEvent:
        self._count += 1
        params: dict[str, Any] = {
            "namespace": list(namespace),
            "timestamp": int(time.time() * 1000),
            "data": data,
        }
        if node is not None:
            params["node"] = node
        return ProtocolEvent(f"{self._run_id}:{self._count}", method, params)

    def _lifecycle(self, event: str, error: str | None = None) -> ProtocolEvent:
        data: dict[str, Any] = {"event": event, "graph_name": self._graph_name}
        if error is not None:
            data["error"] = error
        return self._event("lifecycle", (), data)

    def started(self) -> list[ProtocolEvent]:
        return [self._lifecycle("running")]

    def finished(self, status: str, error: str | None = None) -> list[ProtocolEvent]:
        """The root's last lifecycle event: `completed`, `failed` or `interrupted`, after
        `completed` for the subgraphs still open unless the run failed."""
        if self.terminal_sent:
            return []
        closed = [] if status == "failed" else self._subgraphs.close_all()
        return [*self._sub_lifecycle(closed), *self._root_end(status, error)]

    def _root_end(self, status: str, error: str | None = None) -> list[ProtocolEvent]:
        if self.terminal_sent:
            return []
        self.terminal_sent = True
        return [self._lifecycle(status, error)]

    def feed(self, namespace: tuple[str, ...], mode: str, chunk: Any) -> list[ProtocolEvent]:
        """The protocol events for one item of the graph's stream (none for some)."""
        handler = self._handlers.get(mode)
        return [] if handler is None else handler(namespace, chunk)

    def _values(self, namespace: tuple[str, ...], chunk: Any) -> list[ProtocolEvent]:
        events = self._interrupted(namespace, _interrupts_in(chunk))
        values = _without_interrupts(to_jsonable(chunk))
        if values:
            events.insert(0, self._event("values", namespace, values))
        return events

    def _updates(self, namespace: tuple[str, ...], chunk: Any) -> list[ProtocolEvent]:
        if not isinstance(chunk, dict):
            return []
        events = []
        for node, update in chunk.items():
            if node == INTERRUPT:
                events.extend(self._interrupted(namespace, to_jsonable(update)))
            elif update is not None:
                data = to_jsonable(update)
                data = data if isinstance(data, dict) else {"value": data}
                events.append(self._event("updates", namespace, data, node=str(node)))
                events.extend(self._sub_lifecycle(self._subgraphs.on_update(namespace, node)))
        return events

    def _task(self, namespace: Namespace, chunk: Any) -> list[ProtocolEvent]:
        events = self._sub_lifecycle(self._subgraphs.on_task(namespace, chunk))
        return [*events, self._event("tasks", namespace, to_jsonable(chunk))]

    def _message(self, namespace: tuple[str, ...], chunk: Any) -> list[ProtocolEvent]:
        data, _metadata = chunk
        if isinstance(data, dict) and isinstance(data.get("event"), str):
            return [self._event("messages", namespace, to_jsonable(data))]
        return []

    def _tool(self, namespace: tuple[str, ...], chunk: Any) -> list[ProtocolEvent]:
        if not isinstance(chunk, dict):
            return []
        data = dict(chunk)
        node = data.pop("__node", None)
        return [self._event("tools", namespace, to_jsonable(data), node=node)]

    def _sub_lifecycle(
        self, changes: list[tuple[Namespace, dict[str, Any]]]
    ) -> list[ProtocolEvent]:
        return [self._event("lifecycle", namespace, data) for namespace, data in changes]

    def _interrupted(self, namespace: tuple[str, ...], interrupts: Any) -> list[ProtocolEvent]:
        events = []
        for item in interrupts if isinstance(interrupts, list) else []:
            interrupt_id = item.get("id") if isinstance(item, dict) else None
            if not isinstance(interrupt_id, str) or interrupt_id in self._interrupts:
                continue
            self._interrupts.add(interrupt_id)
            request = {"interrupt_id": interrupt_id, "payload": item.get("value")}
            events.append(self._event("input.requested", namespace, request))
        if events:
            # The run now waits for `input.respond`: say so at once, not when it has ended
            # (its subgraphs end as their parents' tasks return).
            events.extend(self._root_end("interrupted"))
        return events

    def _checkpoint(self, namespace: tuple[str, ...], chunk: Any) -> list[ProtocolEvent]:
        if not isinstance(chunk, dict):
            return []
        configurable = (chunk.get("config") or {}).get("configurable") or {}
        checkpoint_id = configurable.get("checkpoint_id")
        if not isinstance(checkpoint_id, str) or (namespace, checkpoint_id) in self._checkpoints:
            return []
        self._checkpoints.add((namespace, checkpoint_id))
        metadata = chunk.get("metadata") or {}
        envelope: dict[str, Any] = {"id": checkpoint_id}
        parent = ((chunk.get("parent_config") or {}).get("configurable") or {}).get("checkpoint_id")
        if parent is not None:
            envelope["parent_id"] = parent
        envelope["step"] = metadata.get("step")
        envelope["source"] = metadata.get("source")
        return [self._event("checkpoints", namespace, envelope)]


def _interrupts_in(values: Any) -> Any:
    if isinstance(values, dict) and INTERRUPT in values:
        return to_jsonable(values[INTERRUPT])
    return []


def _without_interrupts(values: Any) -> Any:
    if isinstance(values, dict):
        return {k: v for k, v in values.items() if k != INTERRUPT}
    return values


def channel_of(method: str, params: dict[str, Any]) -> str:
    """The channel a subscriber names to receive an event: `custom:<name>` for named ones."""
    if method == "input.requested":
        return "input"
    if method == "custom":
        data = params.get("data")
        name = data.get("name") if isinstance(data, dict) else None
        return f"custom:{name}" if name else "custom"
    return method


def namespace_matches(
    namespace: list[str], prefixes: list[list[str]] | None, depth: int | None
) -> bool:
    """Whether an event's namespace lies under one of `prefixes`, at most `depth` below it.

    A prefix segment without `:` also matches a namespace segment carrying a task id
    (`agent` matches `agent:1f0...`).
    """
    if not prefixes:
        return True
    for prefix in prefixes:
        if len(prefix) > len(namespace):
            continue
        if all(
            want == have or (":" not in want and have.split(":", 1)[0] == want)
            for want, have in zip(prefix, namespace, strict=False)
        ) and (depth is None or len(namespace) - len(prefix) <= depth):
            return True
    return False
