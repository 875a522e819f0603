"""Conversations survive a server restart, in-process and as a real `langstar serve`."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest

from tests.support.apps import MakeApp
from tests.support.asgi import asgi_client
from tests.support.server import ServerProcess


def say(text: str) -> dict[str, object]:
    return {"assistant_id": "agent", "input": {"messages": [{"role": "user", "content": text}]}}


async def test_state_is_the_same_after_the_app_restarts(make_app: MakeApp) -> None:
    async with asgi_client(make_app()) as client:
        thread = (await client.post("/threads", json={})).json()["thread_id"]
        await client.post(f"/threads/{thread}/runs/wait", json=say("remember this"))
        before = (await client.get(f"/threads/{thread}/state")).json()
    async with asgi_client(make_app()) as client:
        after = (await client.get(f"/threads/{thread}/state")).json()
        response = await client.post(f"/threads/{thread}/runs/wait", json=say("and this"))
    assert after == before
    assert [m["content"] for m in response.json()["messages"]] == [
        "remember this",
        "echo: remember this",
        "and this",
        "echo: and this",
    ]


@pytest.mark.timeout(300)
def test_embedded_server_keeps_conversations_across_restarts(tmp_path: Path) -> None:
    """`langstar serve` with no DATABASE_URL: embedded PostgreSQL, migrated on first start."""
    env = {"LANGSTAR_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": ""}
    server = ServerProcess(env, tmp_path).start()
    try:
        thread = httpx.post(server.url + "/threads", json={}).json()["thread_id"]
        response = httpx.post(
            f"{server.url}/threads/{thread}/runs/wait", json=say("My name is Ada."), timeout=30
        )
        assert response.status_code == 200, response.text
        before = httpx.get(f"{server.url}/threads/{thread}/state").json()
    finally:
        # uvicorn re-raises SIGTERM after a clean shutdown.
        assert server.stop() in (0, -signal.SIGTERM), server.read_log()
        assert "Application shutdown complete" in server.read_log()
    assert (tmp_path / "data" / "pgdata" / "PG_VERSION").is_file()

    server = ServerProcess(env, tmp_path).start()
    try:
        after = httpx.get(f"{server.url}/threads/{thread}/state").json()
        assert after["values"] == before["values"]
        assert after["values"]["messages"][1]["content"] == "Noted. You said: My name is Ada."
    finally:
        server.stop()
