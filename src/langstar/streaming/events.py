"""Each run's stream of events, kept so that late or reconnecting readers can replay it."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RunEvent:
    seq: int
    event: str
    data: bytes  # JSON, encoded once by the publisher


class RunStream:
    """Events of one run, in order. Readers may start after any sequence number.

    Publishing never waits: it appends and wakes the readers, who then take every event
    that has arrived since their last look in one batch.
    """

    def __init__(self) -> None:
        self.events: list[RunEvent] = []
        self.closed_at: float | None = None
        self._wake: asyncio.Event | None = None  # made by the first reader to wait

    @property
    def closed(self) -> bool:
        return self.closed_at is not None

    async def publish(self, event: str, data: bytes) -> RunEvent:
        item = RunEvent(len(self.events) + 1, event, data)
        self.events.append(item)
        self._notify()
        return item

    async def close(self) -> None:
        self.closed_at = time.monotonic()
        self._notify()

    def _notify(self) -> None:
        if self._wake is not None:
            self._wake.set()
            self._wake = None

    async def read(
        self, after: int = 0, *, idle: float | None = None
    ) -> AsyncIterator[list[RunEvent] | None]:
        """Batches of the events after `after`, as they come; `None` every `idle` seconds
        without one."""
        position = after
        while True:
            if position >= len(self.events) and not self.closed:
                if self._wake is None:
                    self._wake = asyncio.Event()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(idle):
                        await self._wake.wait()
            pending = self.events[position:]
            if pending:
                position = pending[-1].seq
                yield pending
            elif not self.closed:
                yield None  # a heartbeat is due
            if self.closed and position >= len(self.events):
                return


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
        feed = RunStream()
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

    def open(self, run_id: uuid.UUID) -> RunStream:
        self._forget_old()
        stream = self._streams.get(run_id)
        if stream is None:
            stream = self._streams[run_id] = RunStream()
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
