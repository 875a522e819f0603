"""API keys end to end: `langstar keys` makes them, the SDK sends them, `langstar serve` checks."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from langgraph_sdk import get_client

from tests.support.postgres import PostgresForTests
from tests.support.server import ServerProcess


@pytest.fixture(scope="module")
def database(postgres: PostgresForTests) -> Iterator[str]:
    with postgres.migrated("keys") as url:
        yield url


def langstar(
    url: str, cwd: Path, *args: str, mode: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {"DATABASE_URL": url, "PATH": "/usr/bin:/bin"}
    if mode is not None:
        env["LANGSTAR_AUTH__MODE"] = mode
    return subprocess.run(
        [sys.executable, "-m", "langstar", *args],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


async def test_keys_made_by_the_cli_let_the_sdk_in(database: str, tmp_path: Path) -> None:
    made = langstar(database, tmp_path, "keys", "create", "--user", "alice", "--name", "ci")
    assert made.returncode == 0, made.stderr
    key = made.stdout.splitlines()[-1]
    assert key.startswith("lsk_")
    listed = langstar(database, tmp_path, "keys", "list")
    assert "alice\tci" in listed.stdout
    assert key not in listed.stdout
    key_id = next(line.split("\t")[0] for line in listed.stdout.splitlines() if "\talice\t" in line)

    server = ServerProcess(
        {"DATABASE_URL": database, "LANGSTAR_AUTH__MODE": "api_key"}, tmp_path
    ).start()
    try:
        client = get_client(url=server.url, api_key=key)
        thread = await client.threads.create()
        result = await client.runs.wait(
            thread["thread_id"], "agent",
            input={"messages": [{"role": "user", "content": "My name is Ada."}]},
        )  # fmt: skip
        assert result["messages"][-1]["content"]
        anonymous = get_client(url=server.url, api_key=None)
        with pytest.raises(httpx.HTTPStatusError) as refused:
            await anonymous.threads.search()
        assert refused.value.response.status_code == 401
        assert "detail" in refused.value.response.json()

        revoked = langstar(database, tmp_path, "keys", "revoke", key_id)
        assert revoked.returncode == 0, revoked.stderr
        with pytest.raises(httpx.HTTPStatusError) as after:
            await client.threads.get(thread["thread_id"])
        assert after.value.response.status_code == 401
    finally:
        server.stop()
    again = langstar(database, tmp_path, "keys", "revoke", key_id)
    assert again.returncode == 1
    assert langstar(database, tmp_path, "keys", "create", "--user", " ").returncode == 2


def test_serve_refuses_to_run_open_on_a_database_url(database: str, tmp_path: Path) -> None:
    result = langstar(database, tmp_path, "serve", "--port", "1")
    assert result.returncode == 2
    assert "LANGSTAR_AUTH__MODE=none" in result.stderr
