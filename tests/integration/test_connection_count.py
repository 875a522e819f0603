"""How many connections one langstar process opens: what pool sizing must budget for."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
import psycopg

from langstar.serving import EXTRA_CONNECTIONS
from tests.support.apps import MakeApp
from tests.support.asgi import asgi_client
from tests.support.postgres import database_name
from tests.support.sdk import eventually
from tests.support.settings import settings_for

POOL = 3


def langstar_connections(url: str) -> list[str]:
    with psycopg.connect(url, autocommit=True, application_name="counter") as conn:
        rows = conn.execute(
            "SELECT query FROM pg_stat_activity"
            " WHERE datname = %s AND application_name = 'langstar'",
            (database_name(url),),
        ).fetchall()
    return [str(query) for (query,) in rows]


async def test_a_process_opens_its_pool_and_three_connections_more(
    migrated_database: str, tmp_path: Path, make_app: MakeApp
) -> None:
    settings = settings_for(migrated_database, tmp_path)
    settings = msgspec.structs.replace(
        settings,
        database=msgspec.structs.replace(settings.database, pool_min_size=POOL, pool_max_size=POOL),
        runs=msgspec.structs.replace(settings.runs, lease_seconds=3),  # renewals soon
    )
    app = make_app(settings)
    body = {
        "assistant_id": "agent",
        "input": {"messages": [{"role": "user", "content": "hi"}]},
        "stream_resumable": True,  # relayed: the notification sender is opened
    }
    async with asgi_client(app) as client:
        thread = (await client.post("/threads", json={})).json()["thread_id"]
        # Many at once, so that the pool is used to its size.
        answers = await asyncio.gather(
            *(client.post(f"/threads/{thread}/runs/stream", json=body) for _ in range(8))
        )
        assert {answer.status_code for answer in answers} == {200}
        expected = POOL + EXTRA_CONNECTIONS
        assert await eventually(
            lambda: len(langstar_connections(migrated_database)) == expected, 10
        ), langstar_connections(migrated_database)
        await asyncio.sleep(2)  # a lease renewal later, no more
        assert len(langstar_connections(migrated_database)) == expected
