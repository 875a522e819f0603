"""The deploy path: `alembic upgrade head` (or `langstar db upgrade`), then `langstar serve`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from langstar.db.migrations import head_revisions
from tests.support.server import ServerProcess

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, env: dict[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        env={"PATH": "/usr/bin:/bin", **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_langstar_db_commands_against_an_external_database(empty_database: str) -> None:
    env = {"DATABASE_URL": empty_database}
    check = run("-m", "langstar", "db", "check", env=env)
    assert check.returncode == 1
    assert "alembic upgrade head" in check.stderr
    assert run("-m", "langstar", "db", "current", env=env).stdout.strip() == "(empty database)"

    upgrade = run("-m", "langstar", "db", "upgrade", env=env)
    assert upgrade.returncode == 0, upgrade.stderr
    current = run("-m", "langstar", "db", "current", env=env)
    assert current.stdout.strip() == ", ".join(head_revisions())
    assert run("-m", "langstar", "db", "check", env=env).returncode == 0


def test_alembic_upgrade_head_then_serve(empty_database: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": empty_database}
    refused = run("-m", "langstar", "serve", "--port", "8999", env=env, cwd=tmp_path)
    assert refused.returncode != 0
    assert "alembic upgrade head" in refused.stderr

    migrated = run("-m", "alembic", "upgrade", "head", env=env)
    assert migrated.returncode == 0, migrated.stderr
    assert "Running upgrade" in migrated.stderr

    server = ServerProcess(env, tmp_path).start()
    try:
        thread = httpx.post(server.url + "/threads", json={}).json()["thread_id"]
        body = {
            "assistant_id": "agent",
            "input": {"messages": [{"role": "user", "content": "hi"}]},
        }
        response = httpx.post(f"{server.url}/threads/{thread}/runs/wait", json=body, timeout=30)
        assert response.status_code == 200
        assert httpx.get(server.url + "/ready").status_code == 200
    finally:
        server.stop()
