"""What langstar does to LangGraph's checkpoint tables keeps every column they have."""

from __future__ import annotations

from pathlib import Path

import psycopg

from langstar.db.checkpoints import CHECKPOINT_TABLES
from tests.support.apps import MakeApp
from tests.support.asgi import asgi_client
from tests.support.settings import settings_for


async def test_a_thread_copy_keeps_a_column_a_langgraph_release_adds(
    migrated_database: str, make_app: MakeApp, tmp_path: Path
) -> None:
    async with await psycopg.AsyncConnection.connect(migrated_database, autocommit=True) as conn:
        for table in CHECKPOINT_TABLES:
            await conn.execute(f"ALTER TABLE {table} ADD COLUMN note text")
    app = make_app(settings_for(migrated_database, tmp_path))
    async with asgi_client(app) as client:
        thread = (await client.post("/threads", json={})).json()["thread_id"]
        turn = {"assistant_id": "agent", "input": {"messages": [{"role": "user", "content": "hi"}]}}
        assert (await client.post(f"/threads/{thread}/runs/wait", json=turn)).status_code == 200
        async with await psycopg.AsyncConnection.connect(
            migrated_database, autocommit=True
        ) as conn:
            for table in CHECKPOINT_TABLES:
                await conn.execute(
                    f"UPDATE {table} SET note = 'kept' WHERE thread_id = %s", (thread,)
                )
        copied = (await client.post(f"/threads/{thread}/copy")).json()["thread_id"]
    async with await psycopg.AsyncConnection.connect(migrated_database) as conn:
        for table in CHECKPOINT_TABLES:
            cur = await conn.execute(
                f"SELECT count(*) FILTER (WHERE thread_id = %s), "
                f"count(*) FILTER (WHERE thread_id = %s AND note = 'kept') FROM {table}",
                (thread, copied),
            )
            row = await cur.fetchone()
            assert row is not None
            source, kept = row
            assert source > 0, table
            assert kept == source, table
