"""The thread-centric streaming protocol: commands on a thread, and its event stream.

`client.threads.stream()` in `langgraph-sdk` speaks it. A client sends `run.start` and
`input.respond` to `POST /threads/{id}/commands`, and reads the thread's events from
`POST /threads/{id}/stream/events`, resuming after the last `seq` it saw with `since`.
Events live in the `thread_events` table, so any replica can serve any reader.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import msgspec

from langstar.assistants.service import AssistantService
from langstar.db.pool import Pool
from langstar.errors import (
    ForbiddenError,
    InvalidError,
    LangstarError,
    MalformedError,
    NotFoundError,
    RefusedError,
)
from langstar.identity import Identity
from langstar.limits import StreamSlots
from langstar.runs.schemas import RunCreate
from langstar.runs.service import RunService
from langstar.serde import dumps
from langstar.settings import Settings
from langstar.streaming.events import EventBus
from langstar.streaming.relay import StreamRelay
from langstar.streaming.sse import HEARTBEAT, frame
from langstar.streaming.translate import CHANNELS, channel_of, namespace_matches

STRATEGIES = ("reject", "enqueue", "interrupt", "rollback")
RUN_START_FIELDS = frozenset(
    {"assistant_id", "input", "config", "metadata", "langsmith_tracer", "multitaskStrategy"}
)
RESPOND_FIELDS = frozenset({"interrupt_id", "namespace", "response", "responses"})
# How long `input.respond` waits for the interrupted run to record its interrupts.
SETTLE_SECONDS = 5.0
# How often a reader looks for events anyway, in case a notification was lost.
POLL_SECONDS = 1.0
PAGE = 500


def error_code(exc: LangstarError) -> str:
    """The protocol's error code for a langstar error.

    The protocol addresses runs bound to a thread, so a missing thread or run is its
    `no_such_run`; an assistant or graph that does not exist is a bad argument.
    """
    if isinstance(exc, NotFoundError):
        if exc.resource in ("thread", "run"):
            return "no_such_run"
        if exc.resource == "checkpoint":
            return "no_such_checkpoint"
        return "invalid_argument"
    if isinstance(exc, InvalidError):
        return "invalid_argument"
    if isinstance(exc, ForbiddenError) or (isinstance(exc, RefusedError) and exc.status == 403):
        return "permission_denied"
    return "unknown_error"  # a busy thread, a limit reached, a server shutting down


class CommandError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Subscription:
    channels: frozenset[str]
    namespaces: list[list[str]] | None
    depth: int | None
    since: int | None

    def wants(self, method: str, params: dict[str, Any]) -> bool:
        channel = channel_of(method, params)
        if channel not in self.channels and not (
            channel.startswith("custom:") and "custom" in self.channels
        ):
            return False
        namespace = params.get("namespace") or []
        return namespace_matches(namespace, self.namespaces, self.depth)


def parse_subscription(body: Any) -> Subscription:
    """The body of `POST /threads/{id}/stream/events`; a bad field is a 400 naming it."""
    if not isinstance(body, dict):
        raise MalformedError("body", "expected a JSON object")
    unknown = sorted(set(body) - {"channels", "namespaces", "depth", "since"})
    if unknown:
        raise MalformedError(unknown[0], "unknown field")
    channels = body.get("channels")
    if not isinstance(channels, list) or not channels:
        raise MalformedError(
            "channels",
            "required",
            detail="channels is required and must be a non-empty array",
        )
    bad = [
        repr(c)
        for c in channels
        if not isinstance(c, str) or not (c in CHANNELS or (c.startswith("custom:") and c[7:]))
    ]
    if bad:
        allowed = ", ".join(sorted(CHANNELS)) + ", or custom:<name>"
        raise MalformedError(
            "channels",
            "unsupported entries",
            detail=f"channels contains unsupported entries: {', '.join(bad[:5])}. "
            f"Allowed: {allowed}",
        )
    namespaces = body.get("namespaces")
    if namespaces is not None and not (
        isinstance(namespaces, list)
        and all(isinstance(ns, list) and all(isinstance(s, str) for s in ns) for ns in namespaces)
    ):
        raise MalformedError("namespaces", "expected a list of string lists")
    depth, since = body.get("depth"), body.get("since")
    for name, value in (("depth", depth), ("since", since)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 0
        ):
            raise MalformedError(name, "expected a non-negative integer")
    return Subscription(frozenset(channels), namespaces or None, depth, since)


def _envelope(seq: int, event_id: str, method: str, params: str) -> bytes:
    return b'{"type":"event","event_id":%b,"seq":%d,"method":%b,"params":%b}' % (
        dumps(event_id),
        seq,
        dumps(method),
        params.encode(),
    )


class ProtocolService:
    """The caller's protocol commands on a thread, and the thread's event stream."""

    def __init__(
        self,
        pool: Pool,
        runs: RunService,
        assistants: AssistantService,
        bus: EventBus,
        relay: StreamRelay,
        settings: Settings,
        identity: Identity,
        slots: StreamSlots,
    ) -> None:
        self._relay = relay
        self._slots = slots
        self._pool = pool
        self._runs = runs
        self._assistants = assistants
        self._bus = bus
        self._settings = settings
        self._identity = identity

    # Commands

    async def command(self, thread_id: uuid.UUID, payload: Any) -> dict[str, Any]:
        """The command's result or error envelope; another user's thread is a 404."""
        await self._visible(thread_id)
        command_id = payload["id"]
        params = payload.get("params", {})
        method = payload["method"]
        try:
            if not isinstance(params, dict):
                raise CommandError("invalid_argument", "params: expected an object")
            if method == "run.start":
                result = await self._run_start(thread_id, params)
            elif method == "input.respond":
                result = await self._input_respond(thread_id, params)
            elif method in ("agent.getTree", "subscription.subscribe", "subscription.unsubscribe",
                            "subscription.reconnect"):  # fmt: skip
                raise CommandError(
                    "not_supported",
                    f"{method} is not supported over HTTP: subscribe with "
                    "POST /threads/{thread_id}/stream/events, and read the graph with "
                    "GET /assistants/{assistant_id}/graph",
                )
            else:
                raise CommandError("unknown_command", f"Unknown protocol command: {method}")
        except CommandError as exc:
            return {"type": "error", "id": command_id, "error": exc.code, "message": exc.message}
        except LangstarError as exc:
            code = error_code(exc)
            return {"type": "error", "id": command_id, "error": code, "message": exc.detail}
        applied, body = result
        return {"type": "success", "id": command_id, "result": body,
                "meta": {"applied_through_seq": applied}}  # fmt: skip

    async def _last_seq(self, thread_id: uuid.UUID) -> int:
        """The thread's newest event, in the same trip as forgetting its expired ones."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "WITH gone AS (DELETE FROM thread_events WHERE thread_id = %(t)s "
                "AND created_at < now() - make_interval(secs => %(keep)s)) "
                "SELECT coalesce(max(seq), 0) AS seq FROM thread_events WHERE thread_id = %(t)s",
                {"t": thread_id, "keep": self._settings.runs.stream_retention_seconds},
            )
            row = await cur.fetchone()
        return int(row["seq"]) if row else 0

    async def _start(self, thread_id: uuid.UUID, body: RunCreate) -> tuple[int, dict[str, Any]]:
        graph = await self._assistants.resolve(body.assistant_id)
        # Events before this point belong to earlier runs: a reader resumes after them.
        applied = await self._last_seq(thread_id)
        job = await self._runs.create(thread_id, body, graph, protocol=True)
        return applied, {"run_id": str(job.run.run_id)}

    async def _run_start(
        self, thread_id: uuid.UUID, params: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        unknown = sorted(set(params) - RUN_START_FIELDS)
        if unknown:
            raise CommandError("invalid_argument", f"run.start: unknown field {unknown[0]!r}")
        assistant_id = params.get("assistant_id")
        if not isinstance(assistant_id, str) or not assistant_id:
            raise CommandError("invalid_argument", "run.start requires an assistant_id.")
        strategy = params.get("multitaskStrategy", "enqueue")
        if strategy not in STRATEGIES:
            raise CommandError(
                "invalid_argument", f"multitaskStrategy: expected one of {', '.join(STRATEGIES)}"
            )
        config = params.get("config")
        checkpoint_id = None
        if isinstance(config, dict) and isinstance(config.get("configurable"), dict):
            # A fork names its checkpoint in the config, as LangGraph itself does.
            configurable = dict(config["configurable"])
            checkpoint_id = configurable.pop("checkpoint_id", None)
            config = {**config, "configurable": configurable}
        try:
            body = msgspec.convert(
                {
                    "assistant_id": assistant_id,
                    "input": params.get("input"),
                    "config": config,
                    "metadata": params.get("metadata"),
                    "checkpoint_id": checkpoint_id,
                    "langsmith_tracer": params.get("langsmith_tracer"),
                    "multitask_strategy": strategy,
                    "if_not_exists": "create",
                },
                RunCreate,
            )
        except msgspec.ValidationError as exc:
            raise CommandError("invalid_argument", f"run.start: {exc}") from None
        return await self._start(thread_id, body)

    async def _input_respond(
        self, thread_id: uuid.UUID, params: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        unknown = sorted(set(params) - RESPOND_FIELDS)
        if unknown:
            raise CommandError("invalid_argument", f"input.respond: unknown field {unknown[0]!r}")
        entries = params.get("responses")
        if entries is None:
            entries = [params]
        if not isinstance(entries, list) or not entries:
            raise CommandError("invalid_argument", "input.respond requires at least one response.")
        resume: dict[str, Any] = {}
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("interrupt_id"), str):
                raise CommandError("invalid_argument", "input.respond requires an interrupt_id.")
            namespace = entry.get("namespace", [])
            if not isinstance(namespace, list) or not all(isinstance(s, str) for s in namespace):
                raise CommandError(
                    "invalid_argument", "input.respond requires namespace to be a list of strings."
                )
            resume[entry["interrupt_id"]] = entry.get("response")
        assistant_id, pending = await self._pending_interrupts(thread_id)
        missing = sorted(set(resume) - pending)
        if missing:
            raise CommandError(
                "no_such_interrupt", f"Unknown or already-answered interrupt: {missing[0]}"
            )
        body = RunCreate(
            assistant_id=assistant_id or "",
            command={"resume": resume},
            multitask_strategy="enqueue",
        )
        applied, _ = await self._start(thread_id, body)
        return applied, {}  # the resumed run is seen on the stream, as the protocol has it

    async def _pending_interrupts(self, thread_id: uuid.UUID) -> tuple[str | None, set[str]]:
        """The thread's assistant and open interrupt ids, once its run has recorded them."""
        deadline = time.monotonic() + SETTLE_SECONDS
        while True:
            async with self._pool.connection() as conn:
                cur = await conn.execute(
                    "SELECT status, interrupts, metadata->>'assistant_id' AS assistant_id "
                    "FROM threads WHERE thread_id = %s AND owner = %s",
                    (thread_id, self._identity.owner),
                )
                row = await cur.fetchone()
            if row is None:
                raise NotFoundError("thread", thread_id)
            interrupts = await self._runs.cipher.open("thread", "interrupts", row["interrupts"])
            pending = {
                item["id"]
                for items in (interrupts or {}).values()
                for item in items
                if isinstance(item, dict) and isinstance(item.get("id"), str)
            }
            # The run announces an interrupt before it has recorded it; give it a moment.
            if pending or row["status"] != "busy" or time.monotonic() > deadline:
                return row["assistant_id"], pending
            await asyncio.sleep(0.05)

    # Events

    async def events(self, thread_id: uuid.UUID, sub: Subscription) -> AsyncIterator[bytes]:
        await self._visible(thread_id)
        return self._slots.hold(self._identity.user_id, self._follow(thread_id, sub))

    async def _visible(self, thread_id: uuid.UUID) -> None:
        """Another user's thread (or one the project's handlers hide) is a 404; a thread
        that does not exist yet may be started."""
        owner = await self._thread_owner(thread_id)
        if owner is not None and owner != self._identity.owner:
            raise NotFoundError("thread", thread_id)
        if owner is not None:
            await self._runs.thread_allowed(thread_id, "read")

    async def _thread_owner(self, thread_id: uuid.UUID) -> str | None:
        async with self._pool.connection() as conn:
            cur = await conn.execute("SELECT owner FROM threads WHERE thread_id = %s", (thread_id,))
            row = await cur.fetchone()
        return None if row is None else str(row["owner"])

    async def _follow(self, thread_id: uuid.UUID, sub: Subscription) -> AsyncIterator[bytes]:
        """Every stored event after `since`, then new ones as they are written; never ends.

        A write by this process wakes the reader at once, and one by another process as
        soon as its notification arrives (it sends one while a reader here follows).
        """
        unfollow = self._relay.follow("signal", thread_id)
        try:
            async for chunk in self._follow_signalled(thread_id, sub):
                yield chunk
        finally:
            unfollow()

    async def _follow_signalled(
        self, thread_id: uuid.UUID, sub: Subscription
    ) -> AsyncIterator[bytes]:
        cursor = sub.since or 0
        signals = self._bus.threads
        heartbeat = self._settings.runs.heartbeat_seconds
        quiet_since = time.monotonic()
        while True:
            changed = signals.event(thread_id)
            rows = await self._read(thread_id, cursor)
            for row in rows:
                cursor = row["seq"]
                params = msgspec.json.decode(row["params"])
                if sub.wants(row["method"], params):
                    data = _envelope(row["seq"], row["event_id"], row["method"], row["params"])
                    yield frame(row["method"], data, row["seq"])
                    quiet_since = time.monotonic()
            if len(rows) == PAGE:
                continue
            if time.monotonic() - quiet_since >= heartbeat:
                yield HEARTBEAT
                quiet_since = time.monotonic()
            await signals.wait(thread_id, changed, min(POLL_SECONDS, heartbeat))

    async def _read(self, thread_id: uuid.UUID, after: int) -> list[dict[str, Any]]:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT e.seq, e.event_id, e.method, e.params FROM thread_events e "
                "JOIN threads t ON t.thread_id = e.thread_id "
                "WHERE e.thread_id = %s AND t.owner = %s AND e.seq > %s ORDER BY e.seq LIMIT %s",
                (thread_id, self._identity.owner, after, PAGE),
            )
            return list(await cur.fetchall())
