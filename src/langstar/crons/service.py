"""The caller's crons: create, read, change, delete, list and count them."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec

from langstar.access import Authorizer, OpenAccess, filter_sql
from langstar.assistants.service import AssistantService
from langstar.clock import Clock
from langstar.crons.schedule import as_utc, check_schedule, check_timezone, next_fire
from langstar.crons.schemas import (
    CRON_FIELDS,
    PATCHED_FIELDS,
    RUN_FIELDS,
    Cron,
    CronCount,
    CronCreate,
    CronPatch,
    CronSearch,
)
from langstar.db.json_encryption import CRON_FIELDS as SEALED_FIELDS
from langstar.db.jsonb import jsonb
from langstar.db.pool import Pool
from langstar.errors import InvalidError, MalformedError, NotFoundError, check_page, selected_fields
from langstar.graphs.registry import RegisteredGraph
from langstar.identity import Identity
from langstar.limits import check_input, check_metadata
from langstar.runs.acting import identity_record
from langstar.runs.config import build_config, refuse_unsupported
from langstar.runs.schemas import RunCreate
from langstar.runs.service import check_webhook
from langstar.serde import to_jsonable
from langstar.settings import Settings
from langstar.threads.service import ThreadService
from langstar.webhooks.policy import WebhookPolicy

_COLUMNS = ", ".join(CRON_FIELDS)


def run_body(
    payload: dict[str, Any], cron_id: uuid.UUID, *, stateless: bool, keep: bool
) -> RunCreate:
    """The run a cron's payload describes. The payload shows the cron's id in its config,
    but the server stamps that itself: a client's own `cron_id` is refused as reserved."""
    fields = {k: v for k, v in payload.items() if k in RUN_FIELDS and v is not None}
    config = dict(fields.get("config") or {})
    configurable = dict(config.get("configurable") or {})
    if configurable.get("cron_id") == str(cron_id):
        del configurable["cron_id"]
        fields["config"] = {**config, "configurable": configurable}
    if stateless:
        fields.pop("multitask_strategy", None)
        fields["on_completion"] = "keep" if keep else "delete"
    return msgspec.convert(fields, RunCreate)


class CronService:
    """One caller's crons: each fires runs that act for the caller who made it."""

    def __init__(
        self,
        pool: Pool,
        identity: Identity,
        assistants: AssistantService,
        threads: ThreadService,
        clock: Clock,
        settings: Settings,
        access: Authorizer | None = None,
        webhooks: WebhookPolicy | None = None,
    ) -> None:
        self._webhooks = webhooks or WebhookPolicy(settings.webhooks)
        self._cipher = threads.cipher  # the project's JSON encryption, if any
        self._pool = pool
        self._identity = identity
        self._owner = identity.owner
        self._assistants = assistants
        self._threads = threads
        self._clock = clock
        self._settings = settings
        self._access = access or OpenAccess()

    async def create(self, thread_id: uuid.UUID | None, body: CronCreate) -> Cron:
        """A cron on the thread, or (without one) on a new thread for each run."""
        schedule = check_schedule(body.schedule)
        timezone = check_timezone(body.timezone)
        if thread_id is not None and body.on_run_completed is not None:
            raise InvalidError(
                "on_run_completed", "applies only to crons that run on a new thread each time"
            )
        cron_id = uuid.uuid4()
        if body.webhook is not None:
            await check_webhook(body.webhook, self._webhooks, self._settings)
        graph = await self._assistants.resolve(body.assistant_id)
        payload = self._payload(body, graph, cron_id, stateless=thread_id is None)
        if thread_id is not None:
            await self._threads.get(thread_id)
        value = {
            "cron_id": cron_id,
            "thread_id": thread_id,
            "user_id": self._identity.user_id,
            "schedule": schedule,
            "end_time": body.end_time,
            "payload": payload,
            "metadata": dict(body.metadata or {}),
        }
        await self._access.authorize("crons", "create", value)
        keep = "keep" if body.on_run_completed == "keep" else "delete"
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "INSERT INTO crons (cron_id, assistant_id, thread_id, owner, user_id, identity, "
                "schedule, timezone, end_time, enabled, next_run_date, payload, metadata, "
                "on_run_completed) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
                f"%s) RETURNING {_COLUMNS}",
                (
                    cron_id,
                    graph.assistant_id,
                    thread_id,
                    self._owner,
                    self._identity.user_id,
                    jsonb(identity_record(self._identity)),
                    schedule,
                    timezone,
                    as_utc(body.end_time),
                    body.enabled,
                    next_fire(schedule, timezone, self._clock.now()),
                    jsonb(await self._cipher.seal("cron", "payload", payload)),
                    jsonb(await self._cipher.seal("cron", "metadata", value["metadata"])),
                    None if thread_id is not None else keep,
                ),
            )
            row = await cur.fetchone()
        assert row is not None
        return await self._cron(row)

    def _payload(
        self, body: CronCreate, graph: RegisteredGraph, cron_id: uuid.UUID, *, stateless: bool
    ) -> dict[str, Any]:
        """What each fire runs, checked now as a run would be, so a bad cron fails here and
        not at every fire."""
        given = msgspec.structs.asdict(body)
        payload = {k: to_jsonable(given[k]) for k in RUN_FIELDS if given[k] is not None}
        payload["assistant_id"] = str(graph.assistant_id)
        # The payload shows the cron's request as it was made, as on LangGraph's server.
        for name in ("schedule", "timezone", "end_time", "on_run_completed"):
            if given[name] is not None:
                payload[name] = to_jsonable(given[name])
        self._check_run(payload, graph, cron_id, stateless=stateless)
        config = dict(payload.get("config") or {})
        config["configurable"] = {**(config.get("configurable") or {}), "cron_id": str(cron_id)}
        payload["config"] = config
        return payload

    def _check_run(
        self,
        payload: dict[str, Any],
        graph: RegisteredGraph,
        cron_id: uuid.UUID,
        *,
        stateless: bool,
    ) -> None:
        run = run_body(payload, cron_id, stateless=stateless, keep=True)
        refuse_unsupported(run, stateless=stateless)
        check_input(run.input, self._settings.limits)
        check_metadata(run.metadata, self._settings.limits)
        build_config(
            run,
            thread_id=uuid.uuid4(),
            run_id=uuid.uuid4(),
            graph=graph,
            identity=self._identity,
            settings=self._settings.runs,
        )

    async def get(self, cron_id: uuid.UUID) -> Cron:
        where, params = await self._visible("read", cron_id)
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {_COLUMNS} FROM crons WHERE cron_id = %s AND {where}",
                [cron_id, *params],
            )
            row = await cur.fetchone()
        if row is None:
            raise NotFoundError("cron", cron_id)
        return await self._cron(row)

    async def _cron(self, row: dict[str, Any]) -> Cron:
        return Cron(**await self._cipher.open_fields("cron", row, SEALED_FIELDS))

    async def update(self, cron_id: uuid.UUID, body: CronPatch) -> Cron:
        """Change the cron; a new schedule or timezone moves its next run from now."""
        given = {
            k: v
            for k, v in msgspec.structs.asdict(body).items()
            if v is not None and v is not msgspec.UNSET
        }
        if body.end_time is None:
            given["end_time"] = None  # an explicit null clears the end time
        if not given:
            raise MalformedError("body", "give at least one field to change")
        cron = await self.get(cron_id)
        await self._access.authorize("crons", "update", {"cron_id": cron_id, **given})
        if body.webhook is not None:
            await check_webhook(body.webhook, self._webhooks, self._settings)
        schedule = check_schedule(body.schedule or cron.schedule)
        timezone = check_timezone(body.timezone or cron.timezone)
        if body.on_run_completed is not None and cron.thread_id is not None:
            raise InvalidError(
                "on_run_completed", "applies only to crons that run on a new thread each time"
            )
        payload = self._patched_payload(cron, body, given)
        graph = await self._assistants.resolve(str(cron.assistant_id))
        self._check_run(payload, graph, cron_id, stateless=cron.thread_id is None)
        moved = "schedule" in given or "timezone" in given
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "UPDATE crons SET schedule = %s, timezone = %s, next_run_date = "
                "coalesce(%s, next_run_date), end_time = CASE WHEN %s THEN %s ELSE end_time END, "
                "enabled = coalesce(%s, enabled), payload = %s, metadata = metadata || %s, "
                "on_run_completed = coalesce(%s, on_run_completed), updated_at = now() "
                f"WHERE cron_id = %s AND owner = %s RETURNING {_COLUMNS}",
                (
                    schedule,
                    timezone,
                    next_fire(schedule, timezone, self._clock.now()) if moved else None,
                    "end_time" in given,
                    as_utc(given.get("end_time")),
                    body.enabled,
                    jsonb(await self._cipher.seal("cron", "payload", payload)),
                    jsonb(await self._cipher.seal("cron", "metadata", body.metadata or {})),
                    body.on_run_completed,
                    cron_id,
                    self._owner,
                ),
            )
            row = await cur.fetchone()
        if row is None:
            raise NotFoundError("cron", cron_id)
        return await self._cron(row)

    def _patched_payload(
        self, cron: Cron, body: CronPatch, given: dict[str, Any]
    ) -> dict[str, Any]:
        payload = dict(cron.payload)
        for name in PATCHED_FIELDS:
            if name in given:
                payload[name] = to_jsonable(given[name])
        if "config" in given:
            configurable = dict(payload["config"].get("configurable") or {})
            configurable["cron_id"] = str(cron.cron_id)
            payload["config"] = {**payload["config"], "configurable": configurable}
        if body.metadata:
            payload["metadata"] = {**(payload.get("metadata") or {}), **body.metadata}
        return payload

    async def delete(self, cron_id: uuid.UUID) -> None:
        where, params = await self._visible("delete", cron_id)
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"DELETE FROM crons WHERE cron_id = %s AND {where} RETURNING 1",
                [cron_id, *params],
            )
            if await cur.fetchone() is None:
                raise NotFoundError("cron", cron_id)

    async def _visible(self, action: str, cron_id: uuid.UUID | None) -> tuple[str, list[Any]]:
        """SQL limiting crons to the caller's, and to what their access lets them see."""
        found = await self._access.authorize("crons", action, {"cron_id": cron_id})
        allowed, params = filter_sql(found)
        return f"owner = %s AND {allowed}", [self._owner, *params]

    async def _filters(self, body: CronCount, action: str) -> tuple[str, list[Any]] | None:
        """The search's WHERE clause, or None when it names an assistant there is not."""
        where, params = await self._visible(action, None)
        clauses, values = [where], list(params)
        if body.assistant_id is not None:
            try:
                graph = await self._assistants.resolve(body.assistant_id)
            except NotFoundError:
                return None
            clauses.append("assistant_id = %s")
            values.append(graph.assistant_id)
        if body.thread_id is not None:
            clauses.append("thread_id = %s")
            values.append(body.thread_id)
        if body.metadata:
            clauses.append("metadata @> %s")
            values.append(jsonb(body.metadata))
        if isinstance(body, CronSearch) and body.enabled is not None:
            clauses.append("enabled = %s")
            values.append(body.enabled)
        return " AND ".join(clauses), values

    async def search(self, body: CronSearch) -> list[dict[str, Any]]:
        check_page(body.limit, body.offset)
        columns = selected_fields(body.select, CRON_FIELDS)
        found = await self._filters(body, "search")
        if found is None:
            return []
        where, params = found
        order = f"{body.sort_by} {body.sort_order.upper()} NULLS LAST, cron_id"
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {', '.join(columns)} FROM crons WHERE {where} "
                f"ORDER BY {order} LIMIT %s OFFSET %s",
                [*params, body.limit, body.offset],
            )
            rows = await cur.fetchall()
        return [await self._cipher.open_fields("cron", row, SEALED_FIELDS) for row in rows]

    async def count(self, body: CronCount) -> int:
        found = await self._filters(body, "search")
        if found is None:
            return 0
        where, params = found
        async with self._pool.connection() as conn:
            cur = await conn.execute(f"SELECT count(*) AS n FROM crons WHERE {where}", params)
            row = await cur.fetchone()
        return int(row["n"]) if row else 0
