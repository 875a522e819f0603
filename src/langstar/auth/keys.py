"""API keys for `auth.mode = "api_key"`: made, listed and revoked with `langstar keys`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from langstar.auth.authenticators import hash_key, new_key


@dataclass(frozen=True, slots=True)
class KeyRecord:
    key_id: uuid.UUID
    user_id: str
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


async def create_key(url: str, user_id: str, name: str = "") -> tuple[uuid.UUID, str]:
    """A new key for `user_id`: its id, and the key itself, which is never shown again."""
    if not user_id.strip():
        raise ValueError("a key needs a user id")
    key, key_id = new_key(), uuid.uuid4()
    async with await AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(
            "INSERT INTO api_keys (key_id, user_id, name, prefix, key_hash) "
            "VALUES (%s, %s, %s, %s, %s)",
            (key_id, user_id, name, key[:10], hash_key(key)),
        )
    return key_id, key


async def list_keys(url: str) -> list[KeyRecord]:
    async with await AsyncConnection.connect(url, row_factory=dict_row) as conn:
        cur = await conn.execute(
            "SELECT key_id, user_id, name, prefix, created_at, revoked_at FROM api_keys "
            "ORDER BY created_at"
        )
        return [KeyRecord(**row) for row in await cur.fetchall()]


async def revoke_key(url: str, key_id: uuid.UUID) -> bool:
    """Revoke a key at once; False when no live key has that id."""
    async with await AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute(
            "UPDATE api_keys SET revoked_at = now() WHERE key_id = %s AND revoked_at IS NULL",
            (key_id,),
        )
        return cur.rowcount == 1
