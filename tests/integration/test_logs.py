"""Logs as JSON lines: every line parses, a run's lines carry its ids, no credential leaks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from langstar.auth.keys import create_key
from tests.support.server import ServerProcess

HELLO = {"messages": [{"role": "user", "content": "hello"}]}


@pytest.fixture
def json_server(migrated_database: str, tmp_path: Path) -> Iterator[ServerProcess]:
    env = {
        "DATABASE_URL": migrated_database,
        "LANGSTAR_LOG_FORMAT": "json",
        "LANGSTAR_LOG_LEVEL": "debug",
        "LANGSTAR_AUTH__MODE": "api_key",
    }
    server = ServerProcess(env, tmp_path)
    yield server
    server.stop()


def lines(server: ServerProcess) -> list[dict[str, Any]]:
    found = []
    for line in server.read_log().splitlines():
        if line.strip():
            found.append(json.loads(line))  # every line is one JSON object
    return found


async def test_every_line_is_json_with_ids_and_no_credential(
    json_server: ServerProcess, migrated_database: str
) -> None:
    _, key = await create_key(migrated_database, "ada")
    json_server.start()
    secret_jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtYWxsb3J5In0.c2VjcmV0LXNpZ25hdHVyZQ"
    async with httpx.AsyncClient(base_url=json_server.url, timeout=30) as client:
        assert (
            await client.get("/threads/x", headers={"x-api-key": "wrong-key"})
        ).status_code == 401
        bad_bearer = await client.get("/info", headers={"authorization": f"Bearer {secret_jwt}"})
        assert bad_bearer.status_code == 200
        headers = {"x-api-key": key, "x-request-id": "req-42"}
        thread = (await client.post("/threads", json={}, headers=headers)).json()
        answer = await client.post(
            f"/threads/{thread['thread_id']}/runs/wait",
            json={"assistant_id": "agent", "input": HELLO},
            headers=headers,
        )
        assert answer.status_code == 200
        assert answer.headers["x-request-id"] == "req-42"
        run_id = answer.headers["content-location"].rsplit("/", 1)[1]
    json_server.stop()
    text = json_server.read_log()
    assert key not in text
    assert secret_jwt not in text
    assert "wrong-key" not in text
    found = lines(json_server)
    assert all({"time", "level", "logger", "message"} <= set(line) for line in found)
    access = [line for line in found if line["logger"] == "langstar.access"]
    waited = [line for line in access if line.get("path", "").endswith("/runs/wait")]
    assert waited
    assert waited[0]["request_id"] == "req-42"
    assert waited[0]["user"] == "ada"
    assert waited[0]["status"] == 200
    run_lines = [line for line in found if line.get("run_id") == run_id]
    assert run_lines, "no line carries the run's id"
    assert all(line["thread_id"] == thread["thread_id"] for line in run_lines)
    said = " ".join(line["message"] for line in found)
    assert f"console: {json_server.url}/ui" in said
    assert f"metrics: {json_server.url}/metrics" in said
