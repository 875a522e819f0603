"""A run's graph output, turned into the events its readers asked for.

A run started over HTTP publishes SSE events in the stream modes it was started with
(`messages-tuple` as `messages`, the SDK's legacy `messages` mode as whole messages); a
run started by the thread-centric protocol emits protocol events.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

from langchain_core.messages import BaseMessage, BaseMessageChunk, message_chunk_to_message

from langstar.streaming.translate import GRAPH_MODES, ProtocolEvent, Translator

Publish = Callable[[str, Any], Awaitable[None]]
Emit = Callable[[list[ProtocolEvent]], Awaitable[None]]


class RunOutput:
    """Feeds a run's graph stream items to its publisher (SSE) or emitter (protocol)."""

    def __init__(
        self,
        modes: list[str],
        *,
        subgraphs: bool,
        translator: Translator | None,
        publish: Publish,
        emit: Emit,
    ) -> None:
        self._wanted = set(modes)
        self._subgraphs = subgraphs
        self._translator = translator
        self._publish = publish
        self._emit = emit
        self._messages = MessageAccumulator()
        self.last_values: Any = None  # the root graph's last `values` chunk

    @property
    def with_events(self) -> bool:
        """Whether LangChain's callback events are wanted (`events` mode)."""
        return "events" in self._wanted

    def graph_modes(self) -> list[str]:
        """The stream modes to ask the graph for."""
        if self._translator is not None:
            return sorted(GRAPH_MODES)
        asked = {"messages" if m.startswith("messages") else m for m in self._wanted}
        return sorted({"values"} | asked - {"events"})

    async def started(self) -> None:
        if self._translator is not None:
            await self._emit(self._translator.started())

    async def finished(self, status: str, error: str | None = None) -> None:
        """The protocol's last lifecycle event: `completed`, `failed` or `interrupted`."""
        if self._translator is not None:
            await self._emit(self._translator.finished(status, error))

    async def feed(self, item: tuple[Any, ...]) -> None:
        """One item of the graph's stream: `(namespace, mode, chunk)` or `("events", e)`."""
        if len(item) == 2:
            await self._publish("events", item[1])
            return
        namespace, mode, chunk = cast(tuple[tuple[str, ...], str, Any], item)
        if mode == "values" and not namespace:
            self.last_values = chunk
        if self._translator is not None:
            await self._emit(self._translator.feed(namespace, mode, chunk))
            return
        if namespace and not self._subgraphs:
            return
        suffix = "|" + "|".join(namespace) if namespace else ""
        if mode == "messages":
            await self._feed_message(chunk, suffix)
        elif mode in self._wanted:
            if mode == "debug" and chunk.get("type") == "checkpoint":
                chunk = {**chunk, "payload": debug_checkpoint(chunk["payload"])}
            await self._publish(mode + suffix, chunk)

    async def _feed_message(self, chunk: Any, suffix: str) -> None:
        message, metadata = chunk
        if "messages-tuple" in self._wanted:  # it stands in for the legacy mode
            await self._publish("messages" + suffix, [message, metadata])
        elif "messages" in self._wanted:
            # LangGraph's server names these events without a subgraph's namespace.
            for event, data in self._messages.feed(message, metadata):
                await self._publish(event, data)


def debug_checkpoint(payload: dict[str, Any]) -> dict[str, Any]:
    """A `debug` checkpoint event's payload as LangGraph's server sends it: the checkpoint
    and its parent named as a thread's state names them, and a task that runs a subgraph
    with that subgraph's config as its `checkpoint` instead of its `state`."""
    return {
        **payload,
        "checkpoint": _named(payload.get("config")),
        "parent_checkpoint": _named(payload.get("parent_config")),
        "tasks": [_debug_task(task) for task in payload.get("tasks", ())],
    }


def _named(config: dict[str, Any] | None) -> dict[str, Any] | None:
    configurable = (config or {}).get("configurable") or {}
    if not configurable.get("thread_id") or not configurable.get("checkpoint_id"):
        return None
    named = {"checkpoint_id": configurable["checkpoint_id"], "thread_id": configurable["thread_id"]}
    if "checkpoint_ns" in configurable:
        named["checkpoint_ns"] = configurable["checkpoint_ns"] or ""
    if "checkpoint_map" in configurable:
        named["checkpoint_map"] = configurable["checkpoint_map"]
    return named


def _debug_task(task: dict[str, Any]) -> dict[str, Any]:
    state = task.get("state")
    if not isinstance(state, dict) or not state.get("configurable"):
        return task
    shown = {key: value for key, value in task.items() if key != "state"}
    shown["checkpoint"] = state["configurable"]
    return shown


class MessageAccumulator:
    """The SDK's legacy `messages` mode, as LangGraph's server sends it: a message's
    metadata when it first shows, then the whole message so far. A chunk streamed by a
    chat model makes it `messages/partial`; a whole message (one a node returned) makes it
    `messages/complete`. A streamed message is never completed."""

    def __init__(self) -> None:
        self._seen: dict[str, BaseMessage] = {}

    def feed(self, message: BaseMessage, metadata: dict[str, Any]) -> list[tuple[str, Any]]:
        events: list[tuple[str, Any]] = []
        key = str(message.id or id(message))
        so_far = self._seen.get(key)
        if so_far is None:
            events.append(("messages/metadata", {key: {"metadata": metadata}}))
        elif isinstance(so_far, BaseMessageChunk) and isinstance(message, BaseMessageChunk):
            message = so_far + message
        self._seen[key] = message
        whole = message_chunk_to_message(message)
        if isinstance(message, BaseMessageChunk):
            events.append(("messages/partial", [whole]))
        else:
            events.append(("messages/complete", [whole]))
        return events
