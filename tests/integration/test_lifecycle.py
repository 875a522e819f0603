"""The three classic errors cannot happen: closed connections, un-entered savers, no tables."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.store.base import BaseStore
from langgraph.store.postgres import AsyncPostgresStore
from litestar import Litestar

from langstar.app import container_of
from langstar.db.pool import Pool
from langstar.db.savers import PooledPostgresSaver
from langstar.db.schema import SchemaNotAtHeadError
from langstar.graphs.registry import GraphRegistry
from tests.support.apps import MakeApp
from tests.support.asgi import asgi_client, startup_error
from tests.support.postgres import PostgresForTests, database_name
from tests.support.settings import settings_for


def say(text: str) -> dict[str, object]:
    return {"assistant_id": "agent", "input": {"messages": [{"role": "user", "content": text}]}}


async def test_handlers_get_entered_saver_and_store_and_shutdown_closes_the_pool(
    app: Litestar,
) -> None:
    async with asgi_client(app) as client:
        container = container_of(app)
        saver = await container.get(BaseCheckpointSaver[Any])
        store = await container.get(BaseStore)  # type: ignore[type-abstract]
        pool = await container.get(Pool)
        assert isinstance(saver, PooledPostgresSaver)
        assert isinstance(saver, AsyncPostgresSaver)
        assert isinstance(store, AsyncPostgresStore)
        graph = (await container.get(GraphRegistry)).graphs["agent"].compiled
        assert graph.checkpointer is saver
        assert graph.store is store
        thread = (await client.post("/threads", json={})).json()["thread_id"]
        response = await client.post(f"/threads/{thread}/runs/wait", json=say("hi"))
        assert response.status_code == 200
        assert not pool.closed
    assert pool.closed


async def test_requests_succeed_again_after_postgres_restarts_under_the_app(
    postgres: PostgresForTests, app: Litestar
) -> None:
    if postgres.embedded is None:
        pytest.skip("restarting PostgreSQL needs the embedded server")
    async with asgi_client(app) as client:
        thread = (await client.post("/threads", json={})).json()["thread_id"]
        assert (await client.post(f"/threads/{thread}/runs/wait", json=say("a"))).status_code == 200
        postgres.embedded.restart()
        # Every pooled connection is now dead; the pool's check must replace them.
        for text in ("b", "c", "d"):
            response = await client.post(f"/threads/{thread}/runs/wait", json=say(text))
            assert response.status_code == 200, response.text
        state = (await client.get(f"/threads/{thread}/state")).json()
        assert len(state["values"]["messages"]) == 8
        assert (await client.get("/ready")).status_code == 200


async def test_unmigrated_database_stops_startup_naming_the_command(
    empty_database: str, tmp_path: Path, make_app: MakeApp
) -> None:
    app = make_app(settings_for(empty_database, tmp_path))
    error = await startup_error(app)
    assert isinstance(error, SchemaNotAtHeadError)
    assert "alembic upgrade head" in str(error)


def test_serve_exits_nonzero_on_an_unmigrated_database(empty_database: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": empty_database, "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "langstar", "serve", "--port", "1"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "alembic upgrade head" in result.stderr
    assert "does not exist" not in result.stderr


async def test_ready_reports_503_while_the_schema_is_behind(
    migrated_database: str, tmp_path: Path, make_app: MakeApp
) -> None:
    app = make_app(settings_for(migrated_database, tmp_path))
    async with asgi_client(app) as client:
        assert (await client.get("/ready")).status_code == 200
        with psycopg.connect(migrated_database, autocommit=True) as conn:
            conn.execute("UPDATE alembic_version SET version_num = '0002'")
        response = await client.get("/ready")
        assert response.status_code == 503
        assert "alembic upgrade head" in response.json()["detail"]
        assert (await client.get("/ok")).status_code == 200


async def test_server_runs_under_a_role_without_ddl_rights(
    postgres: PostgresForTests, migrated_database: str, tmp_path: Path, make_app: MakeApp
) -> None:
    role = f"app_{uuid.uuid4().hex[:8]}"
    database = database_name(migrated_database)
    with psycopg.connect(migrated_database, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'pw'")
        conn.execute(f"REVOKE CREATE ON SCHEMA public FROM PUBLIC, {role}")
        conn.execute(f"REVOKE CREATE, TEMPORARY ON DATABASE {database} FROM PUBLIC")
        conn.execute(f"GRANT CONNECT ON DATABASE {database} TO {role}")
        conn.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
        conn.execute(
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}"
        )
    url = migrated_database.replace("postgres:@", f"{role}:pw@", 1)
    if url == migrated_database:
        pytest.skip("cannot derive a URL for another role from DATABASE_URL")
    with psycopg.connect(url, autocommit=True) as conn, pytest.raises(psycopg.Error):
        conn.execute("CREATE TABLE forbidden (x int)")
    app = make_app(settings_for(url, tmp_path))
    async with asgi_client(app) as client:
        thread = (await client.post("/threads", json={})).json()["thread_id"]
        response = await client.post(f"/threads/{thread}/runs/wait", json=say("no ddl"))
        assert response.status_code == 200, response.text
        state = (await client.get(f"/threads/{thread}/state")).json()
        assert state["values"]["messages"][0]["content"] == "no ddl"
    # LangGraph's own setup() always issues CREATE TABLE IF NOT EXISTS, so it fails here.
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            await AsyncPostgresSaver(conn).setup()  # type: ignore[arg-type]


async def test_postgres_restarting_under_load_hangs_no_request_and_loses_no_turn(
    postgres: PostgresForTests, app: Litestar
) -> None:
    """Sixteen clients keep talking while PostgreSQL restarts under them."""
    if postgres.embedded is None:
        pytest.skip("restarting PostgreSQL needs the embedded server")
    embedded = postgres.embedded
    outcomes: list[tuple[str, int, str, Any]] = []
    restarted_at: list[float] = []
    recovered_after: dict[int, float] = {}
    under_way = asyncio.Event()

    async def client_loop(client: httpx.AsyncClient, index: int) -> None:
        thread = (await client.post("/threads", json={})).json()["thread_id"]
        turn = 0
        while index not in recovered_after:
            text = f"client {index} turn {turn}"
            turn += 1
            # No request may hang: each must answer well within its deadline.
            response = await asyncio.wait_for(
                client.post(f"/threads/{thread}/runs/wait", json=say(text)), timeout=30
            )
            body = response.json()
            outcomes.append((thread, response.status_code, text, body))
            if len(outcomes) >= 48:
                under_way.set()
            if response.status_code == 503:
                assert "database unavailable" in body["detail"]
                assert response.headers["retry-after"] == "1"
                await asyncio.sleep(0.2)
            elif restarted_at and "__error__" not in body:
                recovered_after[index] = time.monotonic() - restarted_at[0]

    async with asgi_client(app) as client:
        loops = [asyncio.create_task(client_loop(client, i)) for i in range(16)]
        # The restart comes once the load is under way (a fixed pause was too short
        # on a busy machine: some clients had not been answered once).
        await asyncio.wait_for(under_way.wait(), timeout=30)
        before = len(outcomes)
        await asyncio.to_thread(embedded.restart)
        restarted_at.append(time.monotonic())
        await asyncio.wait_for(asyncio.gather(*loops), timeout=90)
        states = {
            thread: (await client.get(f"/threads/{thread}/state")).json()
            for thread in {t for t, _, _, _ in outcomes}
        }
    assert {code for _, code, _, _ in outcomes} <= {200, 503}
    assert len(outcomes) > before  # the load went on after the restart
    assert max(recovered_after.values()) < 10, recovered_after
    # Every turn a client was told succeeded is in its thread, answered.
    for thread, code, text, body in outcomes:
        if code == 200 and "__error__" not in body:
            contents = [m["content"] for m in states[thread]["values"]["messages"]]
            assert text in contents
            assert f"echo: {text}" in contents
