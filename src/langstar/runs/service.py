"""Creating runs, waiting for them, streaming them, joining and cancelling them."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import dataclasses
import logging
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Callable
from typing import Any

from langgraph.store.base import BaseStore
from litestar.exceptions import NotFoundException

from langstar.db.pool import Pool
from langstar.errors import Conflict, UnprocessableEntity, check_page
from langstar.graphs.registry import RegisteredGraph
from langstar.identity import Identity
from langstar.limits import StreamSlots, check_input, check_metadata, too_many
from langstar.runs import records
from langstar.runs.config import build_config, refuse_unsupported, stream_modes
from langstar.runs.executor import RunExecutor, RunJob
from langstar.runs.records import INFLIGHT, Run, RunRecords
from langstar.runs.schemas import RunCancel, RunCreate
from langstar.serde import dumps, to_jsonable
from langstar.settings import Settings
from langstar.store.scoped import store_for
from langstar.streaming.events import EventBus, RunEvent
from langstar.streaming.sse import HEARTBEAT, frame
from langstar.threads.service import ThreadService, jsonb

log = logging.getLogger(__name__)


def _durability(body: RunCreate) -> str | None:
    if body.durability is not None:
        return body.durability
    if body.checkpoint_during is not None:
        return "async" if body.checkpoint_during else "exit"
    return None


# How often a reader looks at a run that another server process executes.
POLL_SECONDS = 0.25
# How long `runs/wait` holds its answer back hoping to send it whole, for a run to be
# cancelled if its client leaves: a client that leaves is noticed only once the answer
# streams. Other runs are held a whole heartbeat, when a stream would send its first
# byte anyway. A run that ends in time gets a plain JSON response, which costs the server
# less than a stream; a longer run gets a stream of heartbeat newlines, then the JSON.
WHOLE_ANSWER_SECONDS = 1.0


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
    ) -> None:
        self._slots = slots
        self._pool = pool
        self._store = store
        self._threads = threads
        self._executor = executor
        self._bus = bus
        self._settings = settings
        self._identity = identity
        self._records = RunRecords(pool, identity.user_id)

    async def create_batch(
        self, bodies: builtins.list[RunCreate], graphs: builtins.list[RegisteredGraph]
    ) -> builtins.list[Run]:
        return [(await self.create(None, b, g)).run for b, g in zip(bodies, graphs, strict=True)]

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
        stateless = thread_id is None
        refuse_unsupported(body, stateless=stateless)
        limits = self._settings.limits
        check_input(body.input, limits)
        check_metadata(body.metadata, limits)
        if self._identity.is_authenticated:
            # The graph reads and writes the caller's own store, as the store API does.
            scoped = store_for(self._store, self._identity)
            graph = dataclasses.replace(graph, compiled=graph.compiled.copy({"store": scoped}))
        run_id = uuid.uuid4()
        thread = thread_id or uuid.uuid4()
        config = build_config(
            body,
            thread_id=thread,
            run_id=run_id,
            graph=graph,
            identity=self._identity,
            settings=self._settings.runs,
        )
        modes = stream_modes(body)
        kwargs = {
            "input": body.input,
            "command": body.command,
            "config": to_jsonable(body.config or {}),
            "context": body.context,
            "stream_mode": modes,
            "interrupt_before": body.interrupt_before,
            "interrupt_after": body.interrupt_after,
            "subgraphs": body.stream_subgraphs,
            "resumable": body.stream_resumable,
            "durability": _durability(body),
            "temporary": stateless and body.on_completion != "keep",
            "protocol": protocol,
        }
        to_cancel: list[uuid.UUID] = []
        owner = self._identity.user_id
        graph_metadata = {"graph_id": graph.graph_id, "assistant_id": str(graph.assistant_id)}
        # The thread's lock first, then what is in flight on it (read after the lock: the
        # statements run in order, so the second sees what the lock waited for), sent
        # together; then the writes, sent together.
        async with self._pool.connection() as conn, conn.transaction():
            async with conn.pipeline():
                thread_cur = await conn.execute(
                    "SELECT owner FROM threads WHERE thread_id = %s FOR UPDATE", (thread,)
                )
                # The caller's live runs, counted only up to the cap, and this thread's
                # in-flight runs: live ones take their turn first, lapsed ones are lost.
                inflight_cur = await conn.execute(
                    "SELECT (SELECT count(*) FROM (SELECT FROM runs WHERE owner = %(owner)s "
                    "AND status IN ('pending', 'running') AND NOT coalesce(lease_expires_at < "
                    "now(), false) LIMIT %(cap)s) AS capped) AS live, "
                    "coalesce(array_agg(run_id) FILTER (WHERE NOT coalesce(lease_expires_at < "
                    "now(), false)), '{}') AS inflight, "
                    "coalesce(array_agg(run_id) FILTER (WHERE lease_expires_at < now()), '{}') "
                    "AS lost FROM runs WHERE owner = %(owner)s AND thread_id = %(thread)s "
                    "AND status IN ('pending', 'running')",
                    {"owner": owner, "thread": thread, "cap": limits.max_runs_per_user},
                )
            row = await thread_cur.fetchone()
            found = await inflight_cur.fetchone()
            assert found is not None
            if row is not None and row["owner"] != owner:
                raise NotFoundException(f"Thread {thread} not found")
            if row is None and not stateless and body.if_not_exists != "create":
                raise NotFoundException(f"Thread {thread} not found")
            if found["live"] >= limits.max_runs_per_user:
                raise too_many(
                    f"{limits.max_runs_per_user} runs already pending or running for this "
                    "user (limits.max_runs_per_user); retry when one has finished"
                )
            inflight: list[uuid.UUID] = found["inflight"]
            strategy = body.multitask_strategy
            if inflight and strategy == "reject":
                raise Conflict(f"Thread {thread} is already running a run; try again later")
            async with conn.pipeline():  # the writes, in one round trip
                if row is None:
                    await conn.execute(
                        "INSERT INTO threads (thread_id, owner, metadata) VALUES (%s, %s, %s)",
                        (thread, owner, jsonb({})),
                    )
                # A run whose server died must neither block nor be cancelled by this one.
                if found["lost"]:
                    await conn.execute(
                        "UPDATE runs SET status = 'error', error = %s, updated_at = now() "
                        "WHERE run_id = ANY(%s) AND status IN ('pending', 'running')",
                        (jsonb(records.LOST), found["lost"]),
                    )
                if inflight and strategy in ("interrupt", "rollback"):
                    await conn.execute(
                        "UPDATE runs SET cancel_action = %s WHERE run_id = ANY(%s)",
                        (strategy, inflight),
                    )
                    await records.announce_cancel(conn, inflight, strategy)
                    to_cancel = inflight
                await conn.execute(
                    "UPDATE threads SET status = 'busy', graph_id = %s, updated_at = now(), "
                    "metadata = metadata || %s WHERE thread_id = %s",
                    (graph.graph_id, jsonb(graph_metadata), thread),
                )
                run = await self._records.insert(
                    conn,
                    run_id=run_id,
                    thread_id=thread,
                    assistant_id=graph.assistant_id,
                    graph_id=graph.graph_id,
                    metadata=body.metadata or {},
                    kwargs=kwargs,
                    multitask_strategy=strategy,
                    worker=self._executor.worker,
                    lease_seconds=self._executor.lease_seconds,
                    # Nothing ahead of it on a thread locked here: it starts as it is
                    # created, which saves the executor a transaction to claim it.
                    status="pending" if inflight or body.after_seconds else "running",
                )
        for previous in to_cancel:
            self._executor.cancel(previous, strategy)
        job = RunJob(
            run=run,
            graph=graph,
            config=config,
            input=body.input,
            command=body.command,
            stream_modes=modes,
            subgraphs=body.stream_subgraphs,
            resumable=body.stream_resumable,
            interrupt_before=body.interrupt_before,
            interrupt_after=body.interrupt_after,
            context={**graph.context, **(body.context or {})} or None,
            durability=_durability(body),
            after_seconds=body.after_seconds or 0,
            protocol=protocol,
        )
        self._executor.submit(job)
        if kwargs["temporary"]:
            self._executor.start(self._delete_when_done(job))
        return job

    async def _delete_when_done(self, job: RunJob) -> None:
        await job.done.wait()
        async with self._pool.connection() as conn:
            await conn.execute("DELETE FROM threads WHERE thread_id = %s", (job.run.thread_id,))
            for table in ("checkpoint_writes", "checkpoint_blobs", "checkpoints"):
                await conn.execute(
                    f"DELETE FROM {table} WHERE thread_id = %s", (str(job.run.thread_id),)
                )

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
        if job.done.is_set():
            return await self._outcome_json(run, job)
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
                    break
                yield b"\n"
            finished = True
            yield await self._outcome_json(run, job)
        finally:
            waiter.cancel()
            if not finished and cancel_on_disconnect:
                self._executor.cancel(run.run_id, "interrupt")

    async def _until_done(self, run: Run, job: RunJob | None) -> None:
        if job is not None:
            await job.done.wait()
            return
        while run.status in INFLIGHT:  # executed by another process
            await asyncio.sleep(0.5)
            run = await self._records.get(run.thread_id, run.run_id)

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
        except NotFoundException:
            return None
        values: Any = thread.values
        interrupts = [i for items in thread.interrupts.values() for i in items]
        if interrupts and isinstance(values, dict):
            values = {**values, "__interrupt__": interrupts}
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
        modes: builtins.list[str] | None = None,
    ) -> AsyncIterator[bytes]:
        """The run's events after `after` (`None`: from now on) as SSE.

        The reader is attached to the run's stream here, before the response starts, so
        a stream read from its start misses nothing.
        """

        def wanted(event: str) -> bool:
            if not modes or event in ("metadata", "error"):
                return True
            mode = event.split("|", 1)[0].split("/", 1)[0]
            return mode in modes or (mode == "messages" and "messages-tuple" in modes)

        stream = self._bus.get(run_id)
        if stream is None or (stream.closed and after is None):
            # Held elsewhere, ended long ago, or ended with nothing kept to replay.
            return self._sse_from(None, run_id, after or 0, resumable, False, wanted)
        batches = stream.read(after, idle=self._settings.runs.heartbeat_seconds)
        return self._sse_from(batches, run_id, 0, resumable, cancel_on_disconnect, wanted)

    async def _sse_from(
        self,
        batches: AsyncIterator[builtins.list[RunEvent] | None] | None,
        run_id: uuid.UUID,
        after: int,
        resumable: bool,
        cancel_on_disconnect: bool,
        wanted: Callable[[str], bool],
    ) -> AsyncIterator[bytes]:
        finished = False
        try:
            if batches is None:
                async for chunk in self._follow_elsewhere(run_id, after, wanted):
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
                self._executor.cancel(run_id, "interrupt")

    async def _follow_elsewhere(
        self, run_id: uuid.UUID, after: int, wanted: Callable[[str], bool]
    ) -> AsyncIterator[bytes]:
        """A run this process does not hold (another replica does, or it ended long ago).

        Its stored events (a resumable run's) are read as they are written; once it has
        ended, a run that stored none sends its outcome as one `values` event.
        """
        heartbeat = self._settings.runs.heartbeat_seconds
        sent_any, quiet_since = False, time.monotonic()
        while True:
            run = await self._records.get_by_id(run_id)
            ended = run is None or run.status not in INFLIGHT
            for seq, event, data in await records.saved_events(self._pool, run_id, after):
                after, sent_any = seq, True
                if wanted(event):
                    yield frame(event, data, seq)
                    quiet_since = time.monotonic()
            if ended:
                if not sent_any and run is not None:
                    outcome = await self._outcome(run, None)
                    name = (
                        "error"
                        if isinstance(outcome, dict) and "__error__" in outcome
                        else "values"
                    )
                    data = outcome["__error__"] if name == "error" else outcome
                    if wanted(name):
                        yield frame(name, dumps(data))
                return
            if time.monotonic() - quiet_since >= heartbeat:
                yield HEARTBEAT
                quiet_since = time.monotonic()
            await asyncio.sleep(POLL_SECONDS)

    async def join_stream(
        self,
        thread_id: uuid.UUID,
        run_id: uuid.UUID,
        last_event_id: str | None,
        *,
        cancel_on_disconnect: bool = False,
        modes: builtins.list[str] | None = None,
    ) -> AsyncIterator[bytes]:
        """The run's events after `last_event_id`, optionally only some of its stream modes."""
        run = await self._records.get(thread_id, run_id)
        if modes:
            started = set(run.kwargs.get("stream_mode") or [])
            extra = sorted(set(modes) - started)
            if extra:
                raise UnprocessableEntity(
                    f"stream_mode: {extra[0]!r} was not requested when the run started"
                )
        after = 0
        if last_event_id:
            try:
                after = int(last_event_id.split("-", 1)[0])
            except ValueError:
                raise UnprocessableEntity("Last-Event-ID: not an event id of this run") from None
        resumable = bool(run.kwargs.get("resumable"))
        # A run that keeps no events is joined live, from now on (as LangGraph's server does).
        start = after if resumable else None
        events = self._sse(run_id, start, resumable, cancel_on_disconnect, modes=modes)
        return self._slots.hold(self._identity.user_id, events)

    async def watch_thread(
        self, thread_id: uuid.UUID, modes: builtins.list[str]
    ) -> AsyncIterator[bytes]:
        """Every event of the thread's runs from now on; open until the client leaves."""
        unknown = sorted(set(modes) - {"run_modes", "lifecycle", "state_update"})
        if unknown:
            raise UnprocessableEntity(f"stream_modes: invalid stream mode {unknown[0]!r}")
        await self._threads.get(thread_id)
        wanted = set(modes)
        release = self._slots.take(self._identity.user_id)  # a refused watch leaves no feed
        feed = self._bus.watch(thread_id)
        batches = feed.read(0, idle=self._settings.runs.heartbeat_seconds)

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
                self._bus.unwatch(thread_id, feed)

        body = events()
        # A response that is never iterated never runs the `finally`: unwatch on collection.
        weakref.finalize(body, self._bus.unwatch, thread_id, feed)
        return self._slots.bounded(body, release)

    async def join(
        self, thread_id: uuid.UUID, run_id: uuid.UUID
    ) -> tuple[Run, bytes | AsyncIterator[bytes]]:
        run = await self._records.get(thread_id, run_id)
        return run, await self._answer(run, self._executor.job(run_id))

    async def get(self, thread_id: uuid.UUID, run_id: uuid.UUID) -> Run:
        return await self._records.get(thread_id, run_id)

    async def list_runs(
        self, thread_id: uuid.UUID, *, limit: int, offset: int, status: str | None
    ) -> list[Run]:
        check_page(limit, offset)
        await self._threads.get(thread_id)
        return await self._records.list_runs(thread_id, limit=limit, offset=offset, status=status)

    async def delete(self, thread_id: uuid.UUID, run_id: uuid.UUID) -> None:
        await self._records.delete(thread_id, run_id)

    async def cancel(
        self, thread_id: uuid.UUID, run_id: uuid.UUID, *, wait: bool, action: str
    ) -> None:
        await self._records.get(thread_id, run_id)
        await self._cancel([run_id], action)
        if wait:
            job = self._executor.job(run_id)
            if job is not None:
                await asyncio.shield(job.done.wait())

    async def cancel_many(self, body: RunCancel, action: str) -> None:
        if body.status is not None and (body.thread_id or body.run_ids):
            raise UnprocessableEntity("status: give either status or thread_id and run_ids")
        if body.status is None and not (body.thread_id and body.run_ids):
            raise UnprocessableEntity("run_ids: give thread_id and run_ids, or status")
        statuses = list(INFLIGHT) if body.status in (None, "all") else [body.status]
        sql = "SELECT run_id FROM runs WHERE owner = %s AND status = ANY(%s)"
        params: builtins.list[Any] = [self._identity.user_id, statuses]
        if body.run_ids:
            try:
                ids = [uuid.UUID(r) for r in body.run_ids]
                params.append(uuid.UUID(str(body.thread_id)))
            except ValueError:
                raise UnprocessableEntity("run_ids: not UUIDs") from None
            sql += " AND thread_id = %s AND run_id = ANY(%s)"
            params.append(ids)
        async with self._pool.connection() as conn:
            cur = await conn.execute(sql, params)
            found = [row["run_id"] for row in await cur.fetchall()]
        await self._cancel(found, action)

    async def _cancel(self, run_ids: builtins.list[uuid.UUID], action: str) -> None:
        cancelled = await self._records.request_cancel(run_ids, action)
        if not cancelled:
            raise NotFoundException("No matching runs to cancel")
        for run_id in cancelled:
            self._executor.cancel(run_id, action)


def _frame(item: RunEvent, resumable: bool) -> bytes:
    return frame(item.event, item.data, item.seq if resumable else None)
