"""A run's events as A2A stream events: working, the reply's tokens, then the end."""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec
from a2a.types import (
    Artifact,
    Part,
    StreamResponse,
    Task,
    TaskArtifactUpdateEvent,
    TaskState,
    TaskStatusUpdateEvent,
)

from langstar.a2a.schemas.tasks import text_of


async def run_events(events: AsyncIterator[bytes]) -> AsyncIterator[tuple[str | None, bytes]]:
    """A run's SSE as (event, data); (None, b"") for a heartbeat."""
    buffer = b""
    async for chunk in events:
        buffer += chunk
        *blocks, buffer = buffer.split(b"\r\n\r\n")
        for block in blocks:
            if block.startswith(b":"):
                yield None, b""
                continue
            name, data = "", b""
            for line in block.split(b"\r\n"):
                if line.startswith(b"event: "):
                    name = line[7:].decode()
                elif line.startswith(b"data: "):
                    data = line[6:]
            if name:
                yield name, data


class Progress:
    """What a run's events tell a client of its task, as the protocol's stream events."""

    def __init__(self, opening: Task) -> None:
        self._task_id, self._context_id = opening.id, opening.context_id
        self._working = opening.status.state == TaskState.TASK_STATE_WORKING
        self._streamed = False

    def on(self, name: str, data: bytes) -> list[StreamResponse]:
        found = []
        if not self._working and name != "error":
            self._working = True
            status = TaskStatusUpdateEvent(task_id=self._task_id, context_id=self._context_id)
            status.status.state = TaskState.TASK_STATE_WORKING
            found.append(StreamResponse(status_update=status))
        text = chunk_text(data) if name == "messages" else ""
        if text:
            artifact = Artifact(
                artifact_id=f"{self._task_id}:reply", name="reply", parts=[Part(text=text)]
            )
            found.append(self._artifact(artifact, append=self._streamed, last=False))
            self._streamed = True
        return found

    def end(self, final: Task) -> list[StreamResponse]:
        """The reply whole (it replaces the streamed tokens), then the final status."""
        found = [self._artifact(artifact, append=False, last=True) for artifact in final.artifacts]
        status = TaskStatusUpdateEvent(task_id=self._task_id, context_id=self._context_id)
        status.status.CopyFrom(final.status)
        return [*found, StreamResponse(status_update=status)]

    def _artifact(self, artifact: Artifact, *, append: bool, last: bool) -> StreamResponse:
        update = TaskArtifactUpdateEvent(
            task_id=self._task_id,
            context_id=self._context_id,
            artifact=artifact,
            append=append,
            last_chunk=last,
        )
        return StreamResponse(artifact_update=update)


def chunk_text(data: bytes) -> str:
    """The text of an agent's token chunk (a `messages` event: `[chunk, metadata]`)."""
    try:
        chunk = msgspec.json.decode(data)[0]
    except (msgspec.DecodeError, IndexError, KeyError, TypeError):
        return ""
    if not isinstance(chunk, dict) or chunk.get("type") not in ("AIMessageChunk", "ai"):
        return ""
    return text_of(chunk.get("content"))
