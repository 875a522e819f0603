"""Each run's stream of events, for its readers; a resumable run's is kept for replay."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from langstar.serde import dumps


@dataclass(frozen=True, slots=True)
class RunEvent:
    seq: int
    event: str
    data: bytes  # JSON, encoded once by the publisher


def run_done(run_id: uuid.UUID) -> bytes:
    """What a thread's watchers get when one of its runs ends."""
    return dumps({"status": "run_done", "run_id": str(run_id)})


class RunStream:
    """Events of one run, in order. Readers may start after any sequence number.

    Publishing never waits: it appends and wakes the readers, who then take every event
    that has arrived since their last look in one batch.

    A stream that does not `keep` its events (a run that is not `stream_resumable`, a
    thread watcher's feed) holds each event only until every reader attached at the time
    has taken it; a reader that joins later gets the events published from then on. Each
    held event is the JSON of one chunk, so keeping them all for a thousand streaming
    runs costs tens of megabytes.
    """

    def __init__(self, *, keep: bool = True) -> None:
        self.keep = keep
        self.closed_at: float | None = None
        self._events: list[RunEvent] = []
        self._dropped = 0  # sequence number of the last event no longer held
        self._published = 0  # sequence number of the last event
        self._readers: dict[object, int] = {}  # where each reader is, if not `keep`
        self._wake: asyncio.Event | None = None  # made by the first reader to wait

    @property
    def closed(self) -> bool:
        return self.closed_at is not None

    @property
    def first(self) -> int:
        """The sequence number after which the stream holds every event."""
        return self._dropped

    @property
    def held(self) -> int:
        """How many events the stream holds now."""
        return len(self._events)

    async def publish(self, event: str, data: bytes) -> RunEvent:
        return self.put(event, data)

    def skip_to(self, seq: int) -> None:
        """Number the next event after `seq` (a run resumed: its earlier events are stored)."""
        if not self._events and seq > self._published:
            self._published = self._dropped = seq

    def put(self, event: str, data: bytes) -> RunEvent:
        """`publish`, for a caller that cannot await (it never waits anyway)."""
        self._published += 1
        item = RunEvent(self._published, event, data)
        if self.keep or self._readers:
            self._events.append(item)
        else:
            self._dropped = self._published  # nobody is reading: nothing to hold
        self._notify()
        return item

    async def close(self) -> None:
        self.closed_at = time.monotonic()
        self._notify()

    def _notify(self) -> None:
        if self._wake is not None:
            self._wake.set()
            self._wake = None

    def read(
        self, after: int | None = 0, *, idle: float | None = None
    ) -> AsyncIterator[list[RunEvent] | None]:
        """Batches of the events after `after` (`None`: from now on), as they come; `None`
        every `idle` seconds without one.

        The reader is attached when this is called, not when it is first iterated, so a
        stream read from its start misses nothing that is published in between.
        """
        position = self._published if after is None else max(after, self._dropped)
        token = object()
        if not self.keep:
            self._readers[token] = position
        return self._batches(token, position, idle)

    async def _batches(
        self, token: object, position: int, idle: float | None
    ) -> AsyncIterator[list[RunEvent] | None]:
        try:
            while True:
                if position >= self._published and not self.closed:
                    if self._wake is None:
                        self._wake = asyncio.Event()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(idle):
                            await self._wake.wait()
                pending = self._events[position - self._dropped :]
                if pending:
                    position = pending[-1].seq
                    if not self.keep:
                        self._readers[token] = position
                        self._release()
                    yield pending
                elif not self.closed:
                    yield None  # a heartbeat is due
                if self.closed and position >= self._published:
                    return
        finally:
            if self._readers.pop(token, None) is not None:
                self._release()

    def _release(self) -> None:
        """Let go of the events every reader has taken."""
        taken = min(self._readers.values(), default=self._published)
        if taken > self._dropped:
            del self._events[: taken - self._dropped]
            self._dropped = taken


class EventBus:
    """The streams of the runs this process executes, kept a while after they end."""

    def __init__(self, retention_seconds: float) -> None:
        self._retention = retention_seconds
        self._streams: dict[uuid.UUID, RunStream] = {}
        self._watchers: dict[uuid.UUID, set[RunStream]] = {}
        self._swept_at = 0.0
        self.threads = ThreadSignals()

    def watch(self, thread_id: uuid.UUID) -> RunStream:
        """A feed of every event of the thread's runs from now on, until `unwatch`."""
        feed = RunStream(keep=False)
        self._watchers.setdefault(thread_id, set()).add(feed)
        return feed

    def unwatch(self, thread_id: uuid.UUID, feed: RunStream) -> None:
        watchers = self._watchers.get(thread_id)
        if watchers is not None:
            watchers.discard(feed)
            if not watchers:
                del self._watchers[thread_id]

    def watchers(self, thread_id: uuid.UUID) -> set[RunStream]:
        return self._watchers.get(thread_id, set())

    def open(self, run_id: uuid.UUID, *, keep: bool = True) -> RunStream:
        self._forget_old()
        stream = self._streams.get(run_id)
        if stream is None:
            stream = self._streams[run_id] = RunStream(keep=keep)
        return stream

    def get(self, run_id: uuid.UUID) -> RunStream | None:
        return self._streams.get(run_id)

    def _forget_old(self) -> None:
        now = time.monotonic()
        if now - self._swept_at < 1.0:  # a sweep visits every stream: once a second is enough
            return
        self._swept_at = now
        cutoff = now - self._retention
        for run_id, stream in list(self._streams.items()):
            if stream.closed_at is not None and stream.closed_at < cutoff:
                del self._streams[run_id]


class ThreadSignals:
    """Wakes the readers of a thread's protocol events when this process writes one."""

    def __init__(self) -> None:
        self._events: dict[uuid.UUID, asyncio.Event] = {}
        self._waiters: dict[uuid.UUID, int] = {}

    def changed(self, thread_id: uuid.UUID) -> None:
        event = self._events.pop(thread_id, None)
        if event is not None:
            event.set()

    def event(self, thread_id: uuid.UUID) -> asyncio.Event:
        """What to wait on; take it before reading, so no write in between is missed."""
        event = self._events.get(thread_id)
        if event is None:
            event = self._events[thread_id] = asyncio.Event()
        return event

    async def wait(self, thread_id: uuid.UUID, event: asyncio.Event, patience: float) -> None:
        """Return once the thread changed after `event` was taken, or after `patience` seconds."""
        self._waiters[thread_id] = self._waiters.get(thread_id, 0) + 1
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), patience)
        finally:
            left = self._waiters[thread_id] - 1
            if left:
                self._waiters[thread_id] = left
            else:
                del self._waiters[thread_id]
                if self._events.get(thread_id) is event and not event.is_set():
                    del self._events[thread_id]
