"""The webhook outbox: deliveries claimed by any server, and what became of each."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec

from langstar.db.pool import Pool


class Delivery(msgspec.Struct, kw_only=True):
    """A run's webhook, as its route shows it."""

    delivery_id: uuid.UUID
    run_id: uuid.UUID
    thread_id: uuid.UUID
    url: str
    status: str  # pending, delivered or failed
    attempts: int
    last_status: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery this server is sending now; `attempt` counts from 1."""

    delivery_id: uuid.UUID
    url: str
    payload: dict[str, Any]
    attempt: int
    created_at: datetime


async def claim_due(pool: Pool, limit: int, hold_seconds: float) -> list[Claimed]:
    """Due deliveries, each held for `hold_seconds` (its attempt counted): if this server
    dies while sending, another sends it once the hold lapses."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, "
            "next_attempt_at = now() + make_interval(secs => %s) WHERE delivery_id IN ("
            "SELECT delivery_id FROM webhook_deliveries WHERE delivered_at IS NULL "
            "AND given_up_at IS NULL AND next_attempt_at <= now() ORDER BY next_attempt_at "
            "LIMIT %s FOR UPDATE SKIP LOCKED) "
            "RETURNING delivery_id, url, payload, attempts, created_at",
            (hold_seconds, limit),
        )
        rows = await cur.fetchall()
    return [
        Claimed(r["delivery_id"], r["url"], r["payload"], r["attempts"], r["created_at"])
        for r in rows
    ]


async def delivered(pool: Pool, delivery_id: uuid.UUID, status: int) -> None:
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE webhook_deliveries SET delivered_at = now(), last_status = %s, "
            "last_error = NULL WHERE delivery_id = %s",
            (status, delivery_id),
        )


async def failed(
    pool: Pool,
    delivery_id: uuid.UUID,
    *,
    status: int | None,
    error: str,
    retry_in: float | None,
) -> None:
    """A failed attempt: tried again in `retry_in` seconds, or (None) given up."""
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE webhook_deliveries SET last_status = %s, last_error = %s, "
            "next_attempt_at = CASE WHEN %s::float8 IS NULL THEN next_attempt_at "
            "ELSE now() + make_interval(secs => %s::float8) END, "
            "given_up_at = CASE WHEN %s::float8 IS NULL THEN now() END "
            "WHERE delivery_id = %s",
            (status, error[:2000], retry_in, retry_in, retry_in, delivery_id),
        )


async def delivery_of(pool: Pool, run_id: uuid.UUID, owner: str) -> Delivery | None:
    """The run's webhook delivery, if the run is the owner's and asked for one."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT delivery_id, run_id, (payload ->> 'thread_id')::uuid AS thread_id, url, "
            "attempts, last_status, last_error, "
            "created_at, delivered_at, CASE WHEN delivered_at IS NOT NULL THEN 'delivered' "
            "WHEN given_up_at IS NOT NULL THEN 'failed' ELSE 'pending' END AS status, "
            "CASE WHEN delivered_at IS NULL AND given_up_at IS NULL THEN next_attempt_at "
            "END AS next_attempt_at FROM webhook_deliveries WHERE run_id = %s AND owner = %s",
            (run_id, owner),
        )
        row = await cur.fetchone()
    return None if row is None else Delivery(**row)
