"""Runs execute here, in tasks the server owns, never inside a request's response."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from langchain_core.runnables import RunnableConfig
from langgraph._internal._constants import CONFIG_KEY_STREAM_MESSAGES_V2
from langgraph.pregel import Pregel
from langgraph.types import Command, Send
from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row

from langstar import lifecycle, logs, metrics
from langstar.db.checkpoints import OWN_CHECKPOINTS, ThreadCheckpoints
from langstar.db.encryption import current_context, use_context
from langstar.db.fencing import fence_writes
from langstar.db.json_encryption import JsonCipher
from langstar.db.notifications import Notifications
from langstar.db.pool import Pool, patient
from langstar.errors import UnavailableError
from langstar.graphs.registry import RegisteredGraph
from langstar.identity import ACTING_FOR, Identity
from langstar.lifecycle import Run, RunStatus, ThreadStatus
from langstar.runs import records
from langstar.runs.config import run_context
from langstar.serde import dumps, encode_error, shown_interrupts, to_jsonable
from langstar.streaming.events import EventBus, RunStream, run_done
from langstar.streaming.output import RunOutput
from langstar.streaming.relay import StreamRelay
from langstar.streaming.translate import ProtocolEvent, Translator
from langstar.tracing.callbacks import traced
from langstar.tracing.spans import run_failed, run_span

log = logging.getLogger(__name__)
T = TypeVar("T")


FINISH_ATTEMPTS = 20
READERS_TURN_SECONDS = 0.005
# Cancel actions of langstar's own: the server is shutting down and gives the run to
# another (`HAND_OFF`), or another server took the run over (`TAKEN`); neither ends it.
HAND_OFF = "hand_off"
TAKEN = "taken"
# Queued runs one server takes at a time.
TAKE_AT_ONCE = 8
# How long a hand-off waits for the runs it stopped to be given back.
HAND_OFF_SECONDS = 5.0


@dataclass(slots=True)
class RunJob:
    """Everything needed to execute one run: its record, its graph and its config."""

    run: Run
    graph: RegisteredGraph
    config: RunnableConfig
    input: Any
    command: dict[str, Any] | None
    stream_modes: list[str]
    subgraphs: bool = False
    resumable: bool = False
    interrupt_before: Any = None
    interrupt_after: Any = None
    context: dict[str, Any] = field(default_factory=dict)
    durability: str | None = None
    after_seconds: float = 0
    temporary: bool = False  # a stateless run's thread, deleted once it is done
    protocol: bool = False  # started by the streaming protocol: emits its events per thread
    done: asyncio.Event = field(default_factory=asyncio.Event)
    begun: bool = False  # its task has taken its first step
    readers_turn: float = 0.0  # loop time after which publishing lets readers run
    result: bytes | None = None  # the final values' JSON, `__interrupt__` included if any
    error: dict[str, str] | None = None
    identity: Identity = field(default_factory=Identity)  # whom the run acts for
    # What its checkpoints are encrypted under: its request's, taken when it is admitted.
    encryption_context: dict[str, Any] = field(default_factory=current_context)
    submitted_at: float = field(default_factory=time.monotonic)
    started_at: float | None = None  # when it claimed its thread's turn
    attempt: int = 1  # its attempt: every write it makes is fenced by this and the server
    resuming: bool = False  # taken from the queue: resumed from its own last checkpoint
    requeued: bool = False  # taken from the queue: its earlier attempts' events are stored
    handed_off: bool = False  # given back to the queue: another server goes on with it
    ended: bool = False  # its end is recorded

    @classmethod
    def from_record(
        cls,
        run: Run,
        graph: RegisteredGraph,
        config: RunnableConfig,
        identity: Identity | None = None,
    ) -> RunJob:
        """The job for a recorded run: what it does is what its record's `kwargs` say."""
        kwargs = run.kwargs
        return cls(
            run=run,
            graph=graph,
            config=config,
            input=kwargs["input"],
            command=kwargs["command"],
            stream_modes=kwargs["stream_mode"],
            subgraphs=kwargs["subgraphs"],
            resumable=kwargs["resumable"],
            interrupt_before=kwargs["interrupt_before"],
            interrupt_after=kwargs["interrupt_after"],
            context=run_context(graph, kwargs["context"]),
            durability=kwargs["durability"],
            after_seconds=kwargs.get("after_seconds") or 0,
            temporary=kwargs["temporary"],
            protocol=kwargs["protocol"],
            identity=identity or Identity(),
        )


class RunExecutor:
    """Owns every running run, so a client that goes away cannot cancel one half-way.

    Runs on one thread start in order, one at a time (the database enforces it). At
    shutdown the executor stops taking runs, gives the running ones a grace period to
    finish, then cancels what is left.
    """

    def __init__(
        self,
        pool: Pool,
        bus: EventBus,
        notifications: Notifications,
        relay: StreamRelay,
        *,
        grace_seconds: float,
        lease_seconds: float,
        run_timeout_seconds: float = 3600.0,
        database_wait_seconds: float = 120.0,
        conninfo: str = "",
        poll_seconds: float = 1.0,
        checkpoints: ThreadCheckpoints = OWN_CHECKPOINTS,
        cipher: JsonCipher | None = None,
        max_attempts: int = 3,
        max_held: int = 1000,
    ) -> None:
        self.max_attempts = max_attempts
        self._max_held = max_held  # runs this server holds at most: it takes no more
        # Takes a queued run's row and submits it here (set once the services exist).
        self.adopter: Callable[[DictRow], Awaitable[None]] | None = None
        self.draining = False  # shutting down: not ready, and no run starts here any more
        self.drain_begun = False  # runs are being finished or handed off
        self.stopped = asyncio.Event()  # drained: streams and waits here end for clients to move
        self._queued = asyncio.Event()  # a run was queued somewhere
        self._checkpoints = checkpoints  # what a rollback or a deleted thread's run deletes
        self._cipher = cipher or JsonCipher()  # seals the thread's values as a run ends
        self._conninfo = conninfo  # for its own connection; empty: the pool's
        self._poll = poll_seconds
        self._run_timeout = run_timeout_seconds
        self._database_wait = database_wait_seconds
        self._pool = pool
        self._bus = bus
        self._notifications = notifications
        self.relay = relay  # relays this process's runs to readers elsewhere, and theirs here
        self._grace = grace_seconds
        self.lease_seconds = lease_seconds
        # Names this process in the runs it holds.
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._keeper: asyncio.Task[None] | None = None
        self._taker: asyncio.Task[None] | None = None
        self._unqueue: Callable[[], None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._jobs: dict[uuid.UUID, tuple[RunJob, asyncio.Task[Any]]] = {}
        self._running = 0  # of the jobs above, those that have started
        self._cancel_actions: dict[uuid.UUID, str] = {}
        self._cancel_requested: set[uuid.UUID] = set()
        self._thread_turns: dict[uuid.UUID, asyncio.Event] = {}
        self._closing = False
        self._unsubscribe: Callable[[], None] | None = None

    def open(self) -> None:
        """Start renewing leases, queueing again the runs whose server died, taking queued
        runs, and hearing cancels."""
        self._keeper = asyncio.create_task(self._keep_leases())
        self._taker = asyncio.create_task(self._take_queued())
        self._unsubscribe = self._notifications.subscribe(
            lifecycle.CANCEL_CHANNEL, self._heard_cancel
        )
        self._unqueue = self._notifications.subscribe(
            lifecycle.QUEUE_CHANNEL, lambda _: self._queued.set()
        )

    async def _take_queued(self) -> None:
        """Take the runs waiting for any server (handed off, or left by one that died) and
        resume them here: when told one was queued, and every `poll_seconds` anyway."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queued.wait(), timeout=self._poll)
            self._queued.clear()
            if self.draining or self.adopter is None:
                continue
            room = min(TAKE_AT_ONCE, self._max_held - len(self._jobs))
            try:
                async with self._pool.connection() as conn:
                    rows = await lifecycle.take_queued(
                        conn, self.worker, self.lease_seconds, room, held=list(self._jobs)
                    )
                for row in rows:
                    log.info("resuming run %s (attempt %d)", row["run_id"], row["attempt"])
                    await self.adopter(row)
                if rows and len(rows) == room:
                    self._queued.set()  # more may be waiting
            except Exception as exc:  # the database may be restarting; look again
                log.warning("could not take queued runs: %s", exc)

    def _heard_cancel(self, payload: str) -> None:
        """Cancel a run held here when any process (this one included) asks for it.

        A request sent while the channel was down is still flagged on the run, and found
        when the leases are next renewed.
        """
        run_id, _, action = payload.partition(":")
        self.cancel(uuid.UUID(run_id), action or "interrupt")

    async def _keep_leases(self) -> None:
        """Renew this process's leases and fail other processes' lost runs.

        Renewals use a connection of their own: a pool busy with a thousand runs must
        not delay them until the leases lapse and another server fails the runs. A
        process that cannot listen for cancels looks for them every `poll_seconds`.
        """
        renew_every = self.lease_seconds / 3
        step = renew_every if self._notifications.listening else min(self._poll, renew_every)
        renew_at = time.monotonic() + renew_every
        conn: AsyncConnection[DictRow] | None = None
        try:
            while True:
                await asyncio.sleep(step)
                try:
                    if conn is None or conn.closed or conn.broken:
                        conn = await self._own_connection()
                    if time.monotonic() >= renew_at - step / 2:
                        renew_at = time.monotonic() + renew_every
                        await self._tend_leases(conn)
                    else:
                        await self._look_for_cancels(conn)
                except Exception as exc:  # the database may be restarting; try again
                    log.warning("could not renew run leases: %s", exc)
        finally:
            if conn is not None:
                await conn.close()

    async def _look_for_cancels(self, conn: AsyncConnection[DictRow]) -> None:
        """Cancel the runs held here that were flagged for it, whether or not it was heard."""
        if alive := [run_id for run_id in self._jobs if run_id not in self._cancel_requested]:
            for run_id, action in await lifecycle.flagged_cancels(conn, alive):
                self.cancel(run_id, action)

    async def _tend_leases(self, conn: AsyncConnection[DictRow]) -> None:
        alive = list(self._jobs)
        held = await lifecycle.renew(conn, self.worker, alive, self.lease_seconds)
        for run_id in await lifecycle.taken_from(conn, self.worker, set(alive) - held):
            # Its lease lapsed (the database was out of reach) and another server took
            # it: stop it here, writing nothing.
            log.warning("run %s was taken over by another server; stopping it here", run_id)
            self.cancel(run_id, TAKEN)
        # Runs flagged while a notification could not arrive are cancelled here too.
        await self._look_for_cancels(conn)
        if lost := await lifecycle.reap(conn, alive=alive, max_attempts=self.max_attempts):
            log.warning("found %d run(s) whose server died: queued again or failed", lost)

    async def _own_connection(self) -> AsyncConnection[DictRow]:
        conninfo = self._conninfo or self._pool.conninfo
        assert isinstance(conninfo, str)
        # Opened as the pool's are (prepared or not): it may go through a transaction pooler.
        kwargs = self._pool.kwargs if isinstance(self._pool.kwargs, dict) else {}
        return await AsyncConnection.connect(
            conninfo, **{**kwargs, "autocommit": True, "row_factory": dict_row}
        )

    def start(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        if self._closing:
            coro.close()
            raise UnavailableError("the server is shutting down")
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def submit(self, job: RunJob) -> RunStream:
        """Start a run in the background; its events go to the returned stream."""
        stream = self._bus.open(job.run.run_id, keep=job.resumable)
        task = self.start(self._drive(job, stream))
        self._jobs[job.run.run_id] = (job, task)
        task.add_done_callback(lambda done: self._forget(job.run.run_id, done))
        return stream

    def _forget(self, run_id: uuid.UUID, task: asyncio.Task[Any]) -> None:
        entry = self._jobs.get(run_id)
        if entry is None or entry[1] is not task:  # a later attempt of it is held now
            return
        del self._jobs[run_id]
        if entry[0].started_at is not None:
            self._running -= 1
        self._cancel_requested.discard(run_id)

    def held(self) -> tuple[int, int]:
        """How many runs this process holds: waiting for their turn, and running.

        Counted as runs start and end, not by walking them: every admission asks.
        """
        return len(self._jobs) - self._running, self._running

    def job(self, run_id: uuid.UUID) -> RunJob | None:
        entry = self._jobs.get(run_id)
        return entry[0] if entry else None

    def cancel(self, run_id: uuid.UUID, action: str) -> bool:
        """Cancel a run this process executes; False when it is not here."""
        entry = self._jobs.get(run_id)
        if entry is None:
            return False
        if run_id not in self._cancel_requested:  # a second request must not cut the cleanup
            self._cancel_requested.add(run_id)
            self._cancel_actions[run_id] = action
            # A task cancelled before its first step never runs its coroutine at all: no
            # cleanup, and `done` never set. One that has not begun sees the request
            # when it does.
            if entry[0].begun:
                entry[1].cancel()
        return True

    def _turn(self, thread_id: uuid.UUID) -> asyncio.Event:
        return self._thread_turns.setdefault(thread_id, asyncio.Event())

    def _pass_turn(self, thread_id: uuid.UUID) -> None:
        event = self._thread_turns.pop(thread_id, None)
        if event is not None:
            event.set()

    async def _wait_for_turn(self, job: RunJob) -> lifecycle.Claim:
        if job.run.status == "running":  # admitted running: nothing was ahead of it
            return "claimed"
        while True:
            claimed = await lifecycle.claim(self._pool, job.run, self.worker)
            if claimed not in ("waiting", "busy"):
                return claimed
            # A run left by a dead process must not block the thread for good.
            async with self._pool.connection() as conn:
                lost = await lifecycle.reap(
                    conn, job.run.thread_id, alive=list(self._jobs), max_attempts=self.max_attempts
                )
            if lost:
                continue
            turn = self._turn(job.run.thread_id)
            with contextlib.suppress(TimeoutError):
                # Another process may finish the run ahead of this one: poll as well.
                await asyncio.wait_for(turn.wait(), timeout=1.0)

    async def _drive(self, job: RunJob, stream: RunStream) -> None:
        job.begun = True
        ACTING_FOR.set(job.identity)  # the task's own context: it ends with the task
        use_context(job.encryption_context)
        logs.RUN_ID.set(str(job.run.run_id))
        logs.THREAD_ID.set(str(job.run.thread_id))
        logs.USER.set(job.identity.user_id)
        with patient(self._database_wait), run_span(job.run, job.graph.graph_id):
            await self._drive_patiently(job, stream)
            run_failed(job.error)

    async def _drive_patiently(self, job: RunJob, stream: RunStream) -> None:
        run = job.run
        started = False
        try:
            if run.run_id in self._cancel_requested:  # before it began
                await self._cancelled(job, stream, None)
                return
            if job.requeued and job.resumable:
                # Its stored events go on from where the last attempt left them.
                stream.skip_to(await records.last_seq(self._pool, run.run_id))
            await self._publish(
                job, stream, "metadata", {"run_id": str(run.run_id), "attempt": job.attempt}
            )
            if job.after_seconds and not job.resuming:
                await asyncio.sleep(job.after_seconds)
            if self.draining:  # admitted as this server stops: another one runs it
                await self._hand_off(job)
                return
            claimed = await self._wait_for_turn(job)
            if claimed == "cancelled":
                action = await lifecycle.cancel_action_of(self._pool, run.run_id)
                self._cancel_actions.setdefault(run.run_id, action)
                await self._cancelled(job, stream, None)
                return
            if claimed == "gone" and await lifecycle.held_elsewhere(
                self._pool, run.run_id, self.worker
            ):
                job.handed_off = True  # another server took it over: it goes on there
                return
            if claimed != "claimed":
                # Never report a run that did not run as done (its thread's old values).
                job.error = {
                    "error": "RunNotStarted",
                    "message": f"the run could not start: {claimed}",
                }
                return
            started = True
            job.started_at = time.monotonic()
            self._running += 1
            metrics.QUEUE_WAIT.observe(job.started_at - job.submitted_at)
            log.debug("run started on graph %s", job.graph.graph_id)
            await self._execute(job, stream)
        except asyncio.CancelledError:
            # Cancelled before its graph ran, or outside it (built, ending) while handed off.
            handing = self._cancel_actions.get(run.run_id) == HAND_OFF and not job.ended
            if not started or handing:
                await self._cancelled(job, stream, None)
            raise
        except Exception as exc:
            # The database failed around the run (claiming it, or recording its end): the
            # client is told it failed, whatever the graph itself did.
            job.error = encode_error(exc)
            log.warning("run %s failed outside its graph: %s", run.run_id, job.error)
            await self._finish_eventually(job, error=job.error)
        finally:
            await self._close(job, stream)

    async def _close(self, job: RunJob, stream: RunStream) -> None:
        run = job.run
        await stream.close()
        if not job.handed_off:  # one handed off goes on elsewhere: its readers follow it
            done = run_done(run.run_id)
            for feed in self._bus.watchers(run.thread_id):
                await feed.publish("metadata", done)
            self.relay.ended(run.run_id, run.thread_id)
        self._pass_turn(job.run.thread_id)
        job.done.set()

    async def _finish_eventually(self, job: RunJob, error: dict[str, str]) -> None:
        """Mark the run failed, retrying while the database comes back (a restart)."""
        for _ in range(FINISH_ATTEMPTS):
            try:
                await self._finish(job, status="error", values=None, error=error)
                return
            except Exception as exc:
                log.warning("could not record the end of run %s yet: %s", job.run.run_id, exc)
                await asyncio.sleep(0.5)
        # Still unreachable: the lease lapses and any server marks the run lost.

    async def _cancelled(self, job: RunJob, stream: RunStream, output: RunOutput | None) -> None:
        """A cancelled run, begun or not: rolled back, ended as interrupted, or gone with
        its thread."""
        self._cancel_requested.add(job.run.run_id)  # no later cancel cuts this short
        action = self._cancel_actions.pop(job.run.run_id, "interrupt")
        with contextlib.suppress(Exception):
            if action == HAND_OFF:
                await self._hand_off(job)
                return
            if action == TAKEN:
                job.handed_off = True  # another server goes on with it
                return
            if action == lifecycle.GONE:
                await self._gone(job, stream)
                return
            if action == "rollback":
                await lifecycle.discard(self._pool, job.run, checkpoints=self._checkpoints)
                _count_end(job, "rolled_back")
                return
            await self._finish(job, status="interrupted", values=None)
            if output is not None:
                await output.finished("interrupted")

    async def _hand_off(self, job: RunJob) -> None:
        """Give the run back to the queue for another server, with nothing written of its
        end: it is resumed from its last checkpoint."""
        job.handed_off = await lifecycle.hand_off(self._pool, job.run.run_id, self.worker)
        if not job.handed_off:  # already another server's: it goes on there all the same
            job.handed_off = await lifecycle.held_elsewhere(self._pool, job.run.run_id, self.worker)
        elif job.handed_off:
            log.info("handed run %s off to another server", job.run.run_id)
            metrics.RUNS.labels("handed_off").inc()

    async def _gone(self, job: RunJob, stream: RunStream) -> None:
        """A run stopped because its row is gone: what it wrote goes too, and its readers
        are told when that is because its thread was deleted."""
        if await lifecycle.forget_run(self._pool, job.run, checkpoints=self._checkpoints):
            # Nothing of the run is left to store the event with: it is only sent.
            await self._publish(job, stream, "error", lifecycle.THREAD_DELETED, store=False)
        _count_end(job, "interrupted")

    async def _publish(
        self, job: RunJob, stream: RunStream, event: str, data: Any, *, store: bool = True
    ) -> None:
        encoded = dumps(data)
        item = await stream.publish(event, encoded)
        if job.resumable and store:
            await records.save_event(
                self._pool, job.run.run_id, item.seq, event, encoded, (self.worker, job.attempt)
            )
        for feed in self._bus.watchers(job.run.thread_id):
            await feed.publish(event, encoded)
        self.relay.offer(job.run.run_id, job.run.thread_id, item)
        # A model that streams without awaiting any I/O would produce its whole reply
        # before a reader ran: the first token would arrive with the last. Every few
        # milliseconds, the readers get a turn to send what has arrived.
        now = asyncio.get_running_loop().time()
        if now >= job.readers_turn:
            job.readers_turn = now + READERS_TURN_SECONDS
            await asyncio.sleep(0)

    async def _emit(self, job: RunJob, events: list[ProtocolEvent]) -> None:
        """Store protocol events in the thread's order, then wake the thread's readers."""
        if not events:
            return
        run = job.run
        rows = [
            (run.thread_id, run.run_id, e.event_id, e.method, dumps(e.params).decode())
            for e in events
        ]
        async with self._pool.connection() as conn, conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO thread_events (thread_id, run_id, event_id, method, params) "
                "VALUES (%s, %s, %s, %s, %s)",
                rows,
            )
        self.relay.changed(run.thread_id)

    def _output(self, job: RunJob, stream: RunStream) -> RunOutput:
        async def publish(event: str, data: Any) -> None:
            await self._publish(job, stream, event, data)

        async def emit(events: list[ProtocolEvent]) -> None:
            await self._emit(job, events)

        translator = Translator(job.run.run_id, job.graph.graph_id) if job.protocol else None
        return RunOutput(
            job.stream_modes,
            subgraphs=job.subgraphs,
            translator=translator,
            publish=publish,
            emit=emit,
        )

    async def _execute(self, job: RunJob, stream: RunStream) -> None:
        """Run the graph to its end, and record how it ended.

        A graph made by a factory is made for this run, from its config and with its
        context and caller; a context manager it returned is exited once the run's end is
        recorded.
        """
        if job.graph.factory is None:
            await self._run_graph(job, stream)
            return
        building = job.graph.built(
            "threads.create_run", job.identity, config=job.config, context=job.context
        )
        async with building as made:
            job.graph = dataclasses.replace(job.graph, compiled=made)
            await self._run_graph(job, stream)

    async def _run_graph(self, job: RunJob, stream: RunStream) -> None:
        if job.resuming:
            await _resume_from_own_checkpoint(job)
        # Its checkpoints are written only while this server holds this attempt of it.
        fence_writes(job.run.run_id, self.worker, job.attempt)
        output = self._output(job, stream)
        await output.started()
        deadline = asyncio.timeout(self._run_timeout)
        try:
            # Closed on the way out, however it ends: a cancelled graph has stopped, and
            # written what it writes as it stops, before the cancel is recorded.
            async with deadline, _closing(_graph_items(job, output)) as items:
                async for item in items:
                    await output.feed(item)
        except asyncio.CancelledError:
            await self._cancelled(job, stream, output)
            raise
        except Exception as exc:
            if lifecycle.fenced(exc):
                log.warning("run %s was taken over by another server", job.run.run_id)
                job.handed_off = True  # it writes nothing more; the other server goes on
                return
            await self._failed(job, stream, output, exc, timed_out=deadline.expired())
            return
        # Encoded once, for the answer and the thread's row (a long thread's values are
        # the bulk of a run's own JSON work).
        values = output.last_values
        job.result = encoded = None if values is None else dumps(values)
        thread_status = await self._finish(job, status="success", values=values, encoded=encoded)
        await output.finished("interrupted" if thread_status == "interrupted" else "completed")

    async def _failed(
        self,
        job: RunJob,
        stream: RunStream,
        output: RunOutput,
        exc: Exception,
        *,
        timed_out: bool,
    ) -> None:
        status: RunStatus = "error"
        failure: BaseException = exc
        if timed_out:
            status = "timeout"
            failure = RunTimeoutError(
                f"the run took longer than {self._run_timeout:g}s (limits.run_timeout_seconds)"
            )
        error = job.error = encode_error(failure)
        run_failed(error, failure)
        log.warning("run %s failed: %s: %s", job.run.run_id, error["error"], failure)
        await self._finish(job, status=status, values=None, error=error)
        await output.finished("failed", error["message"])
        await self._publish(job, stream, "error", error)

    async def _finish(
        self,
        job: RunJob,
        *,
        status: RunStatus,
        values: Any,
        error: dict[str, str] | None = None,
        encoded: bytes | None = None,
    ) -> ThreadStatus:
        """Record how the run ended; returns the thread's status now.

        `encoded` is `values` as JSON, if the caller has it already.
        """
        interrupts: dict[str, Any] = {}
        thread_status: ThreadStatus = "error" if error is not None else "idle"
        interrupted = isinstance(values, dict) and "__interrupt__" in values
        if values is None or interrupted or job.interrupt_before or job.interrupt_after:
            latest: RunnableConfig = {"configurable": {"thread_id": str(job.run.thread_id)}}
            snapshot = await job.graph.compiled.aget_state(latest)
            values, encoded = snapshot.values, None
            interrupts = {
                t.id: shown_interrupts(t.interrupts) for t in snapshot.tasks if t.interrupts
            }
            # A run that stops at an interrupt succeeded; its thread now waits for input.
            if error is None and status == "success" and (interrupts or snapshot.next):
                thread_status = "interrupted"
        if isinstance(values, dict) and "__interrupt__" in values:
            values = {k: v for k, v in values.items() if k != "__interrupt__"}
            encoded = None
        if self._cipher.sealing and isinstance(values, dict):
            encoded = dumps(await self._cipher.seal("thread", "values", to_jsonable(values)))
        if encoded is None and values is not None:
            encoded = dumps(values)
        interrupts = await self._cipher.seal("thread", "interrupts", interrupts)
        recorded = await lifecycle.finish(
            self._pool,
            job.run,
            status=status,
            thread_status=thread_status,
            values=encoded,
            interrupts=interrupts,
            error=error,
            fence=(self.worker, job.attempt),
        )
        job.ended = True
        if not recorded and await lifecycle.held_elsewhere(self._pool, job.run.run_id, self.worker):
            job.handed_off = True  # another server took it over: its end is that one's
            return thread_status
        _count_end(job, status)
        return thread_status

    async def drain(self) -> None:
        """Stop taking runs; let those in flight finish within the grace period, then hand
        the rest off to other servers, to be resumed from their last checkpoint."""
        if self.drain_begun:
            return
        self.drain_begun = self.draining = True
        tasks = {task for _, task in self._jobs.values()}
        if tasks:
            log.info("draining: waiting up to %.0fs for %d run(s)", self._grace, len(tasks))
            await asyncio.wait(tasks, timeout=self._grace)
        left = list(self._jobs.values())
        for job, _ in left:
            self.cancel(job.run.run_id, HAND_OFF)
        if left:
            await asyncio.wait({task for _, task in left}, timeout=HAND_OFF_SECONDS)
            handed = sum(job.handed_off for job, _ in left)
            log.info("handed %d of %d run(s) off to other servers", handed, len(left))
        self.stopped.set()

    async def aclose(self) -> None:
        await self.drain()
        self._closing = True
        for task in (self._keeper, self._taker):
            if task is not None:
                task.cancel()
        for unsubscribe in (self._unsubscribe, self._unqueue):
            if unsubscribe is not None:
                unsubscribe()
        for job, _ in list(self._jobs.values()):  # a second SIGTERM cut the drain short
            self.cancel(job.run.run_id, HAND_OFF)
        if self._tasks:  # runs handing off, and what the executor started besides
            _, pending = await asyncio.wait(set(self._tasks), timeout=HAND_OFF_SECONDS)
            for task in pending:
                task.cancel()


async def _resume_from_own_checkpoint(job: RunJob) -> None:
    """A run taken from the queue goes on from its own last checkpoint, if it wrote one
    (its input was applied then); otherwise it starts from its input, as first asked."""
    latest: RunnableConfig = {"configurable": {"thread_id": str(job.run.thread_id)}}
    snapshot = await job.graph.compiled.aget_state(latest)
    if (snapshot.metadata or {}).get("run_id") != str(job.run.run_id):
        return
    job.input, job.command = None, None
    configurable = job.config.get("configurable") or {}
    for key in ("checkpoint_id", "checkpoint_ns"):  # a fork it began from is behind it
        configurable.pop(key, None)


def _graph_input(job: RunJob) -> Any:
    # A command wins over any input beside it (useStream sends `input: {}` with a resume),
    # as on LangGraph's server.
    if not job.command:
        return job.input
    return to_command(job.command)


def to_command(fields: dict[str, Any]) -> Command[Any]:
    """A run's `command` as LangGraph's server reads it.

    `goto` is one target or a list, each a node's name or a `{"node", "input"}` Send; an
    `update` given as [channel, value] pairs becomes a list of tuples; and a field not
    given stays None. That last point shows: with no `goto`, a resume on a thread with
    nothing to resume fails the run, where LangGraph's own default would start the graph
    on an empty input.
    """
    goto = fields.get("goto")
    if goto is not None and not isinstance(goto, list):
        goto = [goto]
    targets = [g if isinstance(g, str) else Send(g["node"], g["input"]) for g in goto or ()]
    update = fields.get("update")
    if isinstance(update, list) and all(_is_pair(p) for p in update):
        update = [tuple(p) for p in update]
    return Command(update=update, goto=cast(Any, targets or None), resume=fields.get("resume"))


def _is_pair(item: Any) -> bool:
    return isinstance(item, list | tuple) and len(item) == 2 and isinstance(item[0], str)


def _graph_options(job: RunJob, output: RunOutput) -> dict[str, Any]:
    options: dict[str, Any] = {
        "stream_mode": output.graph_modes(),
        # Only as asked: a subgraph streamed on its own leaves out its messages from its
        # parent node's output, where LangGraph's server sends them when not asked.
        "subgraphs": job.subgraphs or job.protocol,
        "interrupt_before": job.interrupt_before,
        "interrupt_after": job.interrupt_after,
        "context": job.context,
    }
    if job.durability is not None:
        options["durability"] = job.durability
    if job.protocol:
        # LangGraph shapes messages as protocol content blocks only in its v2 stream format.
        options["version"] = "v2"
    return options


def _graph_config(job: RunJob) -> RunnableConfig:
    config = traced(job.config)
    if not job.protocol:
        return config
    configurable = {**config.get("configurable", {}), CONFIG_KEY_STREAM_MESSAGES_V2: True}
    return cast(RunnableConfig, {**config, "configurable": configurable})


@contextlib.asynccontextmanager
async def _closing(stream: AsyncIterator[T]) -> AsyncIterator[AsyncIterator[T]]:
    """The stream, closed on the way out (an async generator left open stops only when
    garbage collection gets to it)."""
    try:
        yield stream
    finally:
        if isinstance(stream, AsyncGenerator):
            await stream.aclose()


async def _graph_items(job: RunJob, output: RunOutput) -> AsyncIterator[tuple[Any, ...]]:
    """`(namespace, mode, chunk)` from the graph's stream; with `events` also `("events", e)`."""
    graph: Pregel[Any, Any, Any, Any] = job.graph.compiled
    payload, config, options = _graph_input(job), _graph_config(job), _graph_options(job, output)
    # Each stream is closed as this generator is: the graph stops with it, not when
    # garbage collection gets to it.
    if job.protocol:
        async with _closing(graph.astream(payload, config, **options)) as parts:
            async for part in parts:
                part = cast(dict[str, Any], part)
                data = part["data"]
                if part["type"] == "values" and part.get("interrupts"):
                    data = {**data, "__interrupt__": part["interrupts"]}
                yield part["ns"], part["type"], data
        return
    if not output.with_events:
        async with _closing(graph.astream(payload, config, **options)) as items:
            async for item in items:
                yield _with_namespace(item)
        return
    # astream_events runs astream underneath: the root graph's on_chain_stream events carry
    # exactly the items astream would have yielded, and are not sent as events themselves.
    events = graph.astream_events(payload, config, version="v2", **options)
    async with _closing(events):
        async for event in events:
            if event["event"] == "on_chain_stream" and not event.get("parent_ids"):
                yield _with_namespace(event["data"]["chunk"])
            else:
                yield ("events", event)


def _with_namespace(item: Any) -> tuple[Any, ...]:
    """A stream item as `(namespace, mode, chunk)`: without subgraphs LangGraph leaves the
    namespace out."""
    item = cast(tuple[Any, ...], item)
    return item if len(item) == 3 else ((), *item)


class RunTimeoutError(Exception):
    """The run went on longer than `limits.run_timeout_seconds`."""


def _count_end(job: RunJob, status: str) -> None:
    metrics.RUNS.labels(status).inc()
    if job.started_at is not None:
        took = time.monotonic() - job.started_at
        metrics.RUN_DURATION.observe(took)
        log.debug("run ended %s after %.1f ms", status, took * 1000)
