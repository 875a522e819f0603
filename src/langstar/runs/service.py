"""Creating runs, waiting for them, streaming them, joining and cancelling them."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Callable
from typing import Any

import msgspec
from langgraph.store.base import BaseStore
from psycopg import AsyncConnection
from psycopg.rows import DictRow

from langstar.access import Authorizer, Filter, OpenAccess
from langstar.db.encryption import use_context
from langstar.db.pool import Pool
from langstar.errors import (
    InvalidError,
    NotFoundError,
    NotSupportedError,
    UnavailableError,
    check_page,
)
from langstar.graphs.registry import RegisteredGraph
from langstar.identity import Identity
from langstar.lifecycle import (
    INFLIGHT,
    THREAD_DELETED,
    UNCAPPED,
    CancelAction,
    NewRun,
    Run,
    admit,
    admit_on,
)
from langstar.limits import StreamSlots, check_input, check_metadata
from langstar.runs import records
from langstar.runs.acting import identity_record
from langstar.runs.config import (
    RunHeaders,
    build_config,
    refuse_unsupported,
    run_kwargs,
    with_config_metadata,
)
from langstar.runs.executor import RunExecutor, RunJob
from langstar.runs.records import RunRecords
from langstar.runs.schemas import RunCancel, RunCreate
from langstar.serde import dumps
from langstar.settings import Settings
from langstar.store.scoped import store_for
from langstar.streaming.events import EventBus, RunEvent, RunStream
from langstar.streaming.relay import RemoteFeed
from langstar.streaming.sse import HEARTBEAT, frame
from langstar.threads.service import ThreadService
from langstar.tracing.spans import current_traceparent
from langstar.webhooks.policy import WebhookPolicy

log = logging.getLogger(__name__)


# How often a reader of a run that another server process executes looks at its row, in
# case the notification of its end was lost; and how long it then waits for what the
# run sent last to be relayed.
END_CHECK_SECONDS = 2.0
END_GRACE_SECONDS = 1.0
# How long `runs/wait` holds its answer back hoping to send it whole, for a run to be
# cancelled if its client leaves: a client that leaves is noticed only once the answer
# streams. Other runs are held a whole heartbeat, when a stream would send its first
# byte anyway. A run that ends in time gets a plain JSON response, which costs the server
# less than a stream; a longer run gets a stream of heartbeat newlines, then the JSON.
WHOLE_ANSWER_SECONDS = 1.0


@dataclasses.dataclass(frozen=True, slots=True)
class Admitted:
    """A run recorded but not yet started, and the runs its strategy cancels."""

    job: RunJob
    cancelled: list[uuid.UUID]
    strategy: CancelAction | str


class RunService:
    """Runs of one caller on their threads."""

    def __init__(
        self,
        pool: Pool,
        threads: ThreadService,
        executor: RunExecutor,
        bus: EventBus,
        settings: Settings,
        identity: Identity,
        store: BaseStore,
        slots: StreamSlots,
        access: Authorizer | None = None,
        headers: RunHeaders | None = None,
        webhooks: WebhookPolicy | None = None,
    ) -> None:
        self._webhooks = webhooks or WebhookPolicy(settings.webhooks)
        self._slots = slots
        self._headers = headers
        self._pool = pool
        self._store = store
        self._threads = threads
        self._executor = executor
        self._bus = bus
        self._settings = settings
        self._identity = identity
        self.cipher = threads.cipher  # the project's JSON encryption, if any
        self._records = RunRecords(pool, identity.owner, self.cipher)
        self._access = access or OpenAccess()

    async def create_batch(
        self, bodies: list[RunCreate], graphs: list[RegisteredGraph]
    ) -> list[Run]:
        jobs = [await self.create(None, b, g) for b, g in zip(bodies, graphs, strict=True)]
        return [as_created(job.run) for job in jobs]

    async def create(
        self,
        thread_id: uuid.UUID | None,
        body: RunCreate,
        graph: RegisteredGraph,
        *,
        protocol: bool = False,
    ) -> RunJob:
        """Record the run, apply the multitask strategy, and start it in the background.

        A `protocol` run writes its events to the thread, for `POST /threads/{id}/stream/events`.
        """
        admitted = await self.admit(thread_id, body, graph, protocol=protocol)
        self.start(admitted)
        return admitted.job

    async def admit(
        self,
        thread_id: uuid.UUID | None,
        body: RunCreate,
        graph: RegisteredGraph,
        *,
        protocol: bool = False,
        cron_id: uuid.UUID | None = None,
        conn: AsyncConnection[DictRow] | None = None,
    ) -> Admitted:
        """Record the run (in `conn`'s transaction when given); `start` sets it going once
        that transaction has committed."""
        stateless = thread_id is None
        body = with_config_metadata(body)
        self._check(body, stateless=stateless)
        self._check_queue()
        if body.webhook is not None:
            await check_webhook(body.webhook, self._webhooks, self._settings)
        graph = self._for_caller(graph)
        run_id, thread = uuid.uuid4(), thread_id or uuid.uuid4()
        kwargs = run_kwargs(body, stateless=stateless, protocol=protocol, cron_id=cron_id)
        if traceparent := current_traceparent():  # the run's span joins the caller's trace
            kwargs["traceparent"] = traceparent
        body, allowed = await self._authorize(thread, run_id, body, graph, kwargs)
        config = build_config(
            body, thread_id=thread, run_id=run_id, graph=graph, identity=self._identity,
            settings=self._settings.runs, headers=self._headers, cron_id=cron_id,
        )  # fmt: skip
        new = NewRun(
            run_id=run_id,
            thread_id=thread,
            owner=self._identity.owner,
            user_id=self._identity.user_id,
            assistant_id=graph.assistant_id,
            graph_id=graph.graph_id,
            metadata=await self.cipher.seal("run", "metadata", body.metadata or {}),
            kwargs=await self.cipher.seal("run", "kwargs", kwargs),
            strategy=body.multitask_strategy,
            worker=self._executor.worker,
            lease_seconds=self._executor.lease_seconds,
            may_create_thread=stateless or body.if_not_exists == "create",
            delayed=bool(body.after_seconds),
            max_runs_per_owner=self._run_cap(),
            thread_filter=allowed,
            assistant_config=await self.cipher.seal("thread", "config", graph.config),
            rollback_refused=self._rollback_refusal(body),
            identity=identity_record(self._identity),
        )
        admission = await (admit(self._pool, new) if conn is None else admit_on(conn, new))
        await self._records.opened(admission.run)
        # Its checkpoints take the run's metadata as recorded: its assistant's, its
        # thread's, then its own, as LangGraph's server gives a run's config.
        config["metadata"] = dict(admission.run.metadata)
        job = RunJob.from_record(admission.run, graph, config, self._identity)
        return Admitted(job, admission.cancelled, body.multitask_strategy)

    def start(self, admitted: Admitted) -> None:
        """Set an admitted run going, and stop the runs its multitask strategy cancels."""
        for previous in admitted.cancelled:
            self._executor.cancel(previous, admitted.strategy)
        self._executor.submit(admitted.job)
        if admitted.job.temporary:
            self._executor.start(self._delete_when_done(admitted.job))

    async def _authorize(
        self,
        thread_id: uuid.UUID,
        run_id: uuid.UUID,
        body: RunCreate,
        graph: RegisteredGraph,
        kwargs: dict[str, Any],
    ) -> tuple[RunCreate, Filter]:
        """The run as the caller's access allows it (its metadata perhaps stamped), and the
        metadata its thread must match."""
        value = {
            "thread_id": thread_id,
            "assistant_id": graph.assistant_id,
            "run_id": run_id,
            "status": "pending",
            "metadata": dict(body.metadata or {}),
            "prevent_insert_if_inflight": body.multitask_strategy == "reject",
            "multitask_strategy": body.multitask_strategy,
            "if_not_exists": body.if_not_exists,
            "after_seconds": body.after_seconds,
            "kwargs": kwargs,
        }
        allowed = await self._access.authorize("threads", "create_run", value)
        return msgspec.structs.replace(body, metadata=value["metadata"]), allowed

    def _run_cap(self) -> int:
        """The caller's cap on runs in flight. Anonymous callers are one user, so a
        per-user cap would cap the whole server: theirs is `max_queued_runs` instead."""
        if self._identity.is_authenticated:
            return self._settings.limits.max_runs_per_user
        return UNCAPPED

    def _check_queue(self) -> None:
        """Refuse a run this process could not start soon: 503, try again shortly."""
        waiting, _ = self._executor.held()
        bound = self._settings.limits.max_queued_runs
        if waiting >= bound:
            raise UnavailableError(
                f"{bound} runs are already waiting to start on this server "
                "(limits.max_queued_runs); retry shortly",
                retry_after=1.0,
            )

    def _check(self, body: RunCreate, *, stateless: bool) -> None:
        refuse_unsupported(body, stateless=stateless)
        check_input(body.input, self._settings.limits)
        check_metadata(body.metadata, self._settings.limits)

    def _rollback_refusal(self, body: RunCreate) -> str:
        """Why this run's `rollback` strategy cannot be done here; empty if it can. The
        admission refuses it only when there is a run in flight to roll back."""
        if body.multitask_strategy != "rollback":
            return ""
        try:
            self._can_roll_back("multitask_strategy 'rollback'")
        except NotSupportedError as exc:
            return exc.detail
        return ""

    def _can_roll_back(self, needed_for: str) -> None:
        """A rollback deletes the runs' checkpoints: refused up front if that cannot be."""
        self._threads.checkpoints.require("adelete_for_runs", needed_for)

    def _for_caller(self, graph: RegisteredGraph) -> RegisteredGraph:
        """The graph reads and writes the caller's own store, as the store API does."""
        if not self._identity.is_authenticated:
            return graph
        scoped = store_for(self._store, self._identity)
        return dataclasses.replace(graph, compiled=graph.compiled.copy({"store": scoped}))

    async def _delete_when_done(self, job: RunJob) -> None:
        """A stateless run's thread goes once the run is over (not when it was handed off:
        it goes on elsewhere)."""
        await job.done.wait()
        if not job.handed_off:
            await self._threads.delete_temporary(job.run.thread_id)

    async def resume(self, row: dict[str, Any], graph: RegisteredGraph) -> RunJob:
        """Start here a run taken from the queue (handed off by a server that stopped, or
        left by one that died): as its record says, for whom it acts, from its own last
        checkpoint if it wrote one."""
        acting = row.get("identity") or {}
        use_context(acting.get("encryption_context"))  # its checkpoints' context
        run = await self._records.opened(Run(**{k: row[k] for k in Run.__struct_fields__}))
        kwargs = run.kwargs
        client = dict(kwargs.get("config") or {})
        configurable = dict(client.get("configurable") or {})
        cron_id = configurable.pop("cron_id", None)  # stamped by the server, not the client
        client["configurable"] = configurable
        body = RunCreate(
            assistant_id=str(run.assistant_id), input=kwargs.get("input"),
            command=kwargs.get("command"), config=client, context=kwargs.get("context"),
            metadata=run.metadata, interrupt_before=kwargs.get("interrupt_before"),
            interrupt_after=kwargs.get("interrupt_after"), durability=kwargs.get("durability"),
        )  # fmt: skip
        graph = self._for_caller(graph)
        config = build_config(
            body, thread_id=run.thread_id, run_id=run.run_id, graph=graph,
            identity=self._identity, settings=self._settings.runs,
            cron_id=None if cron_id is None else uuid.UUID(str(cron_id)),
        )  # fmt: skip
        config["metadata"] = dict(run.metadata)
        job = RunJob.from_record(run, graph, config, self._identity)
        job.attempt, job.resuming = int(row["attempt"]), row.get("started_at") is not None
        job.requeued = True
        self.start(Admitted(job, [], run.multitask_strategy))
        return job

    async def wait(
        self, thread_id: uuid.UUID | None, body: RunCreate, graph: RegisteredGraph
    ) -> tuple[Run, bytes | AsyncIterator[bytes]]:
        """Run to the end; the body is the final values (or `__interrupt__` / `__error__`).

        The body is the whole JSON if the run ends within a heartbeat (within
        `WHOLE_ANSWER_SECONDS`, if shorter, for a run cancelled when its client leaves),
        else a stream of it: a newline each heartbeat from the request, then the JSON.
        """
        job = await self.create(thread_id, body, graph)
        cancel = body.on_disconnect == "cancel"
        return job.run, await self._answer(job.run, job, cancel_on_disconnect=cancel)

    async def _answer(
        self, run: Run, job: RunJob | None, *, cancel_on_disconnect: bool = False
    ) -> bytes | AsyncIterator[bytes]:
        """The run's outcome whole if it is over, or soon; else a stream of it."""
        if job is None:
            if run.status in INFLIGHT:  # executed by another process
                return self._json_when_done(run, None)
            return dumps(await self._outcome(run, None))
        silent = self._settings.runs.heartbeat_seconds
        if cancel_on_disconnect:
            silent = min(WHOLE_ANSWER_SECONDS, silent)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(job.done.wait(), silent)
        if job.done.is_set() and not job.handed_off:
            return await self._outcome_json(run, job)
        # Still going, or handed off to another server: it is followed there.
        return self._json_when_done(
            run, job, cancel_on_disconnect=cancel_on_disconnect, silent=silent
        )

    async def _json_when_done(
        self,
        run: Run,
        job: RunJob | None,
        *,
        cancel_on_disconnect: bool = False,
        silent: float = 0.0,
    ) -> AsyncIterator[bytes]:
        """The run's outcome as JSON, preceded by a newline every heartbeat while it runs.

        The newlines keep proxies from closing an idle connection during a long run;
        JSON parsers skip leading whitespace. `silent` is how long the client has already
        waited without a byte, which shortens the first wait.
        """
        finished = False
        waiter = asyncio.ensure_future(self._until_done(run, job))
        heartbeat = self._settings.runs.heartbeat_seconds
        try:
            while True:
                done, _ = await asyncio.wait({waiter}, timeout=max(heartbeat - silent, 0))
                silent = 0.0
                if done:
                    waiter.result()  # cut off (this server stops): the client joins elsewhere
                    break
                yield b"\n"
            finished = True
            yield await self._outcome_json(run, job)
        finally:
            waiter.cancel()
            if not finished and cancel_on_disconnect:
                self._executor.cancel(run.run_id, "interrupt")

    async def _until_done(self, run: Run, job: RunJob | None, poll: float = 0.5) -> None:
        """Until the run has ended, or gone (rolled back, or deleted with its thread)."""
        if job is not None:
            await job.done.wait()
            if not job.handed_off:
                return
        found: Run | None = run
        while found is not None and found.status in INFLIGHT:  # executed by another process
            if self._executor.stopped.is_set():
                # This server stops: the answer is cut off, and the client joins elsewhere.
                raise UnavailableError("the server is shutting down; join the run again")
            await asyncio.sleep(poll)
            found = await self._records.get_by_id(run.run_id)

    async def _outcome_json(self, run: Run, job: RunJob | None) -> bytes:
        if job is not None and job.error is None and job.result is not None:
            return job.result
        return dumps(await self._outcome(run, job))

    async def _outcome(self, run: Run, job: RunJob | None) -> Any:
        if job is not None and job.error is not None:
            return {"__error__": job.error}
        error = await self._records.error_of(run.run_id)
        if error is not None:
            return {"__error__": error}
        try:
            thread = await self._threads.get(run.thread_id)
        except NotFoundError:
            # A stateless run's thread goes with it; another's went while it was in flight.
            return None if run.kwargs.get("temporary") else {"__error__": THREAD_DELETED}
        # The answer the run's own output gives, whenever the join comes: the values and
        # every interrupt the thread holds, whole, as LangGraph encodes them in a run's
        # output. (LangGraph's server answers the interrupts alone once the run's output
        # is gone, so its answer depends on when the join comes.)
        interrupts = [
            {"response_schema": None, **i} for items in thread.interrupts.values() for i in items
        ]
        values = thread.values or {}
        if interrupts:
            return (
                {**values, "__interrupt__": interrupts}
                if isinstance(values, dict)
                else {"__interrupt__": interrupts}
            )
        return values

    async def stream(
        self, thread_id: uuid.UUID | None, body: RunCreate, graph: RegisteredGraph
    ) -> tuple[Run, AsyncIterator[bytes]]:
        # The stream's slot is taken first: a refused stream must not leave a run behind.
        release = self._slots.take(self._identity.user_id)
        try:
            job = await self.create(thread_id, body, graph)
        except BaseException:
            release()
            raise
        cancel_on_disconnect = body.on_disconnect == "cancel"
        events = self._sse(job.run.run_id, 0, job.resumable, cancel_on_disconnect)
        return job.run, self._slots.bounded(events, release)

    def _sse(
        self,
        run_id: uuid.UUID,
        after: int | None,
        resumable: bool,
        cancel_on_disconnect: bool,
        modes: list[str] | None = None,
    ) -> AsyncIterator[bytes]:
        """The run's events after `after` (`None`: from now on) as SSE.

        The reader is attached to the run's stream here, before the response starts, so
        a stream read from its start misses nothing.
        """

        def wanted(event: str) -> bool:
            # As on LangGraph's server, `metadata` only when asked for; an `error` always,
            # so a client that joins learns that the run failed.
            if not modes or event == "error":
                return True
            mode = event.split("|", 1)[0].split("/", 1)[0]
            return mode in modes or (mode == "messages" and "messages-tuple" in modes)

        stream = self._bus.get(run_id)
        if stream is None or (stream.closed and after is None):
            # Held elsewhere, ended long ago, or ended with nothing kept to replay.
            return self._sse_from(None, run_id, after or 0, resumable, cancel_on_disconnect, wanted)
        if resumable and after is not None and after < stream.first:
            # Resumed here from the queue: what earlier attempts sent is stored.
            return self._sse_from(
                None, run_id, after, resumable, cancel_on_disconnect, wanted, stream=stream
            )
        batches = stream.read(after, idle=self._settings.runs.heartbeat_seconds)
        return self._sse_from(batches, run_id, 0, resumable, cancel_on_disconnect, wanted)

    async def _sse_from(
        self,
        batches: AsyncIterator[list[RunEvent] | None] | None,
        run_id: uuid.UUID,
        after: int,
        resumable: bool,
        cancel_on_disconnect: bool,
        wanted: Callable[[str], bool],
        stream: RunStream | None = None,
    ) -> AsyncIterator[bytes]:
        """`batches` as SSE; without them, the run followed as held elsewhere; with a
        `stream` held here, its stored events after `after` first, then the stream."""
        finished = False
        try:
            if stream is not None:
                cursor = _Cursor(after)
                if chunk := await self._stored(run_id, cursor, wanted):
                    yield chunk
                batches = stream.read(cursor.position, idle=self._settings.runs.heartbeat_seconds)
            if batches is None:
                async for chunk in self._follow_elsewhere(run_id, after, resumable, wanted):
                    yield chunk
                finished = True
                return
            async for batch in batches:
                if batch is None:
                    yield HEARTBEAT
                    continue
                # Whatever arrived together leaves in one write.
                chunk = b"".join(_frame(item, resumable) for item in batch if wanted(item.event))
                if chunk:
                    yield chunk
            finished = True
        finally:
            if not finished and cancel_on_disconnect:
                self._cancel_on_leave(run_id)

    def _cancel_on_leave(self, run_id: uuid.UUID) -> None:
        """Cancel the run its client left; one held elsewhere through its flag and NOTIFY."""
        if self._executor.cancel(run_id, "interrupt"):
            return
        with contextlib.suppress(UnavailableError):  # shutting down: the runs stop anyway
            self._executor.start(self._records.request_cancel([run_id], "interrupt"))

    async def _follow_elsewhere(
        self, run_id: uuid.UUID, after: int, resumable: bool, wanted: Callable[[str], bool]
    ) -> AsyncIterator[bytes]:
        """A run this process does not hold: another process executes it, or it has ended.

        A run in flight elsewhere is followed live, as the process that executes it relays
        its events here; a resumable one first replays what it stored after `after`. Once
        it has ended, what it stored and was not sent yet follows, or, when nothing came
        at all, its outcome as one `values` event.
        """
        cursor = _Cursor(after)
        run = await self._records.get_by_id(run_id)
        if run is not None and run.status in INFLIGHT:
            feed = self._executor.relay.follow_run(run_id)  # before reading: nothing between
            try:
                async for chunk in self._follow_live(feed, run_id, cursor, resumable, wanted):
                    yield chunk
            finally:
                feed.close()
            if self._executor.stopped.is_set():
                return  # cut off while in flight: the client follows it elsewhere
            run = await self._records.get_by_id(run_id)
        chunk = await self._stored(run_id, cursor, wanted)
        if chunk:
            yield chunk
        if not cursor.received and run is not None:
            outcome = await self._outcome(run, None)
            failed = isinstance(outcome, dict) and "__error__" in outcome
            name = "error" if failed else "values"
            if wanted(name):
                yield frame(name, dumps(outcome["__error__"] if failed else outcome))

    async def _follow_live(
        self,
        feed: RemoteFeed,
        run_id: uuid.UUID,
        cursor: _Cursor,
        resumable: bool,
        wanted: Callable[[str], bool],
    ) -> AsyncIterator[bytes]:
        """The relayed events, until the run's end is relayed or its row says it ended.

        A resumable run's events missing from the relay (published before this reader
        was announced, or lost with a connection) are read from the stored ones.
        """
        heartbeat = self._settings.runs.heartbeat_seconds
        check_at = time.monotonic() + END_CHECK_SECONDS
        ended_at: float | None = None
        if resumable and (chunk := await self._stored(run_id, cursor, wanted)):
            yield chunk
        heard = False  # anything relayed since the last look at the row
        # Until the run ends, or this server stops (the client follows it elsewhere then).
        while not feed.ended and not self._executor.stopped.is_set():
            items = await feed.take(patience=min(END_CHECK_SECONDS, heartbeat))
            heard = heard or bool(items)
            missing = resumable and _missing(items, cursor.position)
            if missing and (chunk := await self._stored(run_id, cursor, wanted)):
                yield chunk
            if chunk := _relayed(items, cursor, resumable, wanted):
                yield chunk
            now = time.monotonic()
            if ended_at is not None and (resumable or now - ended_at >= END_GRACE_SECONDS):
                return  # the end was never relayed: a notification was lost
            if ended_at is None and now >= check_at:
                check_at = now + END_CHECK_SECONDS
                chunk, ended = await self._look_again(
                    run_id, cursor, resumable and not heard, wanted
                )
                heard = False
                if chunk:
                    yield chunk
                if ended:
                    ended_at = now
            if now - cursor.quiet_since >= heartbeat:
                yield HEARTBEAT
                cursor.quiet_since = now

    async def _look_again(
        self, run_id: uuid.UUID, cursor: _Cursor, read_stored: bool, wanted: Callable[[str], bool]
    ) -> tuple[bytes, bool]:
        """What was stored and not sent (if `read_stored`), and whether the run has ended.

        A resumable run's reader that heard nothing relayed for a while reads the stored
        events, in case notifications cannot reach this process (a pooler in between).
        """
        chunk = await self._stored(run_id, cursor, wanted) if read_stored else b""
        run = await self._records.get_by_id(run_id)
        return chunk, run is None or run.status not in INFLIGHT

    async def _stored(
        self, run_id: uuid.UUID, cursor: _Cursor, wanted: Callable[[str], bool]
    ) -> bytes:
        """The stored events after the cursor (a resumable run's), as SSE."""
        frames = []
        for seq, event, data in await records.saved_events(self._pool, run_id, cursor.position):
            cursor.position, cursor.received = seq, True
            if wanted(event):
                frames.append(frame(event, data, seq))
        if frames:
            cursor.quiet_since = time.monotonic()
        return b"".join(frames)

    async def thread_allowed(self, thread_id: uuid.UUID, action: str) -> None:
        """The caller's access to the thread allows the action (a 404 if not)."""
        await self._threads.allowed(thread_id, action)

    async def _run(self, thread_id: uuid.UUID, run_id: uuid.UUID, action: str = "read") -> Run:
        """The run, once the caller's access to its thread allows the action."""
        await self._threads.allowed(thread_id, action, run_id=run_id)
        return await self._records.get(thread_id, run_id)

    async def join_stream(
        self,
        thread_id: uuid.UUID,
        run_id: uuid.UUID,
        last_event_id: str | None,
        *,
        cancel_on_disconnect: bool = False,
        modes: list[str] | None = None,
    ) -> AsyncIterator[bytes]:
        """The run's events after `last_event_id`, optionally only some of its stream modes.

        Any modes may be asked for, as on LangGraph's server: the run's events are filtered
        by them, and a mode the run did not stream gives nothing.
        """
        run = await self._run(thread_id, run_id)
        modes = joined_modes(modes or [])
        after = 0
        # "-1" asks for every event from the start, as the JS SDK's useStream reconnects.
        if last_event_id and last_event_id != "-1":
            try:
                after = int(last_event_id.split("-", 1)[0])
            except ValueError:
                raise InvalidError("Last-Event-ID", "not an event id of this run") from None
        resumable = bool(run.kwargs.get("resumable"))
        # A run that keeps no events is joined live, from now on (as LangGraph's server does).
        start = after if resumable else None
        events = self._sse(run_id, start, resumable, cancel_on_disconnect, modes=modes)
        return self._slots.hold(self._identity.user_id, events)

    async def watch_thread(self, thread_id: uuid.UUID, modes: list[str]) -> AsyncIterator[bytes]:
        """Every event of the thread's runs from now on; open until the client leaves."""
        unknown = sorted(set(modes) - {"run_modes", "lifecycle", "state_update"})
        if unknown:
            raise InvalidError("stream_modes", f"invalid stream mode {unknown[0]!r}")
        await self._threads.get(thread_id)
        wanted = set(modes)
        release = self._slots.take(self._identity.user_id)  # a refused watch leaves no feed
        feed = self._bus.watch(thread_id)
        # Runs of the thread that another process executes are relayed into the feed.
        unfollow = self._executor.relay.follow("thread", thread_id)
        batches = feed.read(0, idle=self._settings.runs.heartbeat_seconds)

        def stop() -> None:
            self._bus.unwatch(thread_id, feed)
            unfollow()

        async def events() -> AsyncIterator[bytes]:
            try:
                async for batch in batches:
                    if batch is None:
                        yield HEARTBEAT
                        continue
                    chunk = b"".join(
                        frame(item.event, item.data, item.seq)
                        for item in batch
                        if "run_modes" in wanted
                        or item.event == "metadata"
                        or ("state_update" in wanted and item.event == "values")
                    )
                    if chunk:
                        yield chunk
            finally:
                stop()

        body = events()
        # A response that is never iterated never runs the `finally`: unwatch on collection.
        weakref.finalize(body, stop)
        return self._slots.bounded(body, release)

    async def join(
        self, thread_id: uuid.UUID, run_id: uuid.UUID
    ) -> tuple[Run, bytes | AsyncIterator[bytes]]:
        run = await self._run(thread_id, run_id)
        return run, await self._answer(run, self._executor.job(run_id))

    async def get(self, thread_id: uuid.UUID, run_id: uuid.UUID) -> Run:
        return await self._run(thread_id, run_id)

    async def list_runs(
        self, thread_id: uuid.UUID, *, limit: int, offset: int, status: str | None
    ) -> list[Run]:
        check_page(limit, offset)
        await self._threads.get(thread_id)
        return await self._records.list_runs(thread_id, limit=limit, offset=offset, status=status)

    async def delete(self, thread_id: uuid.UUID, run_id: uuid.UUID) -> None:
        await self._threads.allowed(thread_id, "delete", run_id=run_id)
        await self._records.delete(thread_id, run_id)

    async def cancel(
        self, thread_id: uuid.UUID, run_id: uuid.UUID, *, wait: bool, action: CancelAction
    ) -> None:
        if action == "rollback":
            self._can_roll_back("a cancel with action 'rollback'")
        run = await self._run(thread_id, run_id, "update")
        await self._cancel([run_id], action)
        if wait:  # until the run has ended, wherever it runs
            await asyncio.shield(self._until_done(run, self._executor.job(run_id), poll=0.1))

    async def cancel_many(self, body: RunCancel, action: CancelAction) -> None:
        if action == "rollback":
            self._can_roll_back("a cancel with action 'rollback'")
        if body.status is not None and (body.thread_id or body.run_ids):
            raise InvalidError("status", "give either status or thread_id and run_ids")
        if body.status is None and not (body.thread_id and body.run_ids):
            raise InvalidError("run_ids", "give thread_id and run_ids, or status")
        statuses: list[str] = list(INFLIGHT) if body.status in (None, "all") else [body.status]
        thread_id, run_ids = None, None
        if body.run_ids:
            try:
                run_ids = [uuid.UUID(r) for r in body.run_ids]
                thread_id = uuid.UUID(str(body.thread_id))
            except ValueError:
                raise InvalidError("run_ids", "not UUIDs") from None
        visible = await self._access.authorize("threads", "update", {"thread_id": thread_id})
        found = await self._records.ids_with_status(statuses, thread_id, run_ids, visible)
        await self._cancel(found, action)

    async def _cancel(self, run_ids: list[uuid.UUID], action: CancelAction) -> None:
        cancelled = await self._records.request_cancel(run_ids, action)
        if not cancelled:
            raise NotFoundError("run", run_ids, "No matching runs to cancel")
        for run_id in cancelled:
            self._executor.cancel(run_id, action)


async def check_webhook(url: str, policy: WebhookPolicy, settings: Settings) -> None:
    """A run's or a cron's webhook, refused when delivery is off or its URL breaks a rule."""
    if settings.http.disable_webhooks:
        raise InvalidError("webhook", "webhooks are turned off here (http.disable_webhooks)")
    await policy.check(url)


def as_created(run: Run) -> Run:
    """The run as its creation answers it: `pending`, as on LangGraph's server, though
    it may have been admitted `running` (nothing was ahead of it) and started already."""
    return msgspec.structs.replace(run, status="pending")


def joined_modes(given: list[str]) -> list[str]:
    """The stream modes a join asks for: repeated `stream_mode` parameters, or one JSON
    array (`stream_mode=["values","messages-tuple"]`), which LangGraph's server also reads."""
    modes: list[str] = []
    for mode in given:
        if mode.startswith("["):
            with contextlib.suppress(ValueError):
                parsed = json.loads(mode)
                if isinstance(parsed, list):
                    modes.extend(str(m) for m in parsed)
                    continue
        modes.append(mode)
    return modes


def _frame(item: RunEvent, resumable: bool) -> bytes:
    return frame(item.event, item.data, item.seq if resumable else None)


@dataclasses.dataclass(slots=True)
class _Cursor:
    """Where a reader of a run held elsewhere is."""

    position: int  # the last event sent, of a resumable run
    received: bool = False  # any event at all came
    quiet_since: float = dataclasses.field(default_factory=time.monotonic)


def _missing(items: list[RunEvent], position: int) -> bool:
    """Whether events are missing between `position` and (or among) these relayed ones."""
    expected = position + 1
    for item in items:
        if item.seq > expected:
            return True
        expected = max(expected, item.seq + 1)
    return False


def _relayed(
    items: list[RunEvent], cursor: _Cursor, resumable: bool, wanted: Callable[[str], bool]
) -> bytes:
    """The relayed events not sent yet, as SSE."""
    frames = []
    for item in items:
        if resumable:
            if item.seq <= cursor.position:
                continue
            cursor.position = item.seq
        cursor.received = True
        if wanted(item.event):
            frames.append(_frame(item, resumable))
    if frames:
        cursor.quiet_since = time.monotonic()
    return b"".join(frames)
