"""Checkpoints are read back strictly, and no credential reaches a log line or a checkpoint."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import msgspec
import psycopg
import pytest

from langstar.auth.keys import create_key
from langstar.db.savers import checkpoint_serializer
from langstar.settings import AuthSettings, DatabaseSettings, Settings
from tests.support.apps import Serving

BUILT: list[str] = []


@dataclass
class Tripwire:
    """A type a crafted checkpoint might name; building it runs code."""

    note: str

    def __post_init__(self) -> None:
        BUILT.append(self.note)


def test_strict_checkpoints_do_not_build_unknown_types() -> None:
    permissive = checkpoint_serializer(DatabaseSettings(strict_checkpoint_types=False))
    stored = permissive.dumps_typed({"x": Tripwire("stored")})
    BUILT.clear()
    loaded = checkpoint_serializer(DatabaseSettings()).loads_typed(stored)
    assert BUILT == []
    assert not isinstance(loaded["x"], Tripwire)
    allowed = DatabaseSettings(checkpoint_allowed_types=[f"{__name__}.Tripwire"])
    assert isinstance(checkpoint_serializer(allowed).loads_typed(stored)["x"], Tripwire)
    # The safe types a graph's state holds still come back as themselves.
    from langchain_core.messages import AIMessage

    message = checkpoint_serializer(DatabaseSettings()).loads_typed(
        permissive.dumps_typed(AIMessage("hi"))
    )
    assert isinstance(message, AIMessage)


async def test_credentials_reach_no_log_line_and_no_checkpoint(
    settings: Settings, migrated_url: str, caplog: pytest.LogCaptureFixture, serving: Serving
) -> None:
    caplog.set_level(logging.DEBUG)
    _, key = await create_key(migrated_url, "alice")
    configured = msgspec.structs.replace(settings, auth=AuthSettings(mode="api_key"))
    async with serving(configured) as client:
        headers = {"x-api-key": key}
        thread = (await client.post("/threads", json={}, headers=headers)).json()["thread_id"]
        said: dict[str, Any] = {"messages": [{"role": "user", "content": "My name is Ada."}]}
        ran = await client.post(
            f"/threads/{thread}/runs/wait",
            json={"assistant_id": "agent", "input": said, "metadata": {"origin": "test"}},
            headers={**headers, "authorization": f"Bearer {key}"},
        )
        assert ran.status_code == 200
        smuggled = await client.post(
            f"/threads/{thread}/runs/wait",
            json={"assistant_id": "agent", "config": {"configurable": {"api_key": key}}},
            headers=headers,
        )
        assert smuggled.status_code == 422  # not a key the server lets into a checkpoint
        await client.post("/threads", json={}, headers={"x-api-key": key + "wrong"})
    assert caplog.records  # the server did log (psycopg, langstar), just never the key
    assert key not in caplog.text
    async with await psycopg.AsyncConnection.connect(migrated_url) as conn:
        cur = await conn.execute(
            "SELECT metadata::text FROM checkpoints WHERE thread_id = %s", (thread,)
        )
        rows = [row[0] for row in await cur.fetchall()]
    assert rows
    assert all(key not in row for row in rows)
    assert any('"origin": "test"' in row for row in rows)
