"""Migrations go to `database.direct_url`: they hold a session-level lock a pooler would lose."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from langstar.db.migrations import current_revisions, head_revisions
from tests.support.server import free_port

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        env={"PATH": "/usr/bin:/bin", **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_migrations_use_the_direct_url_when_one_is_set(empty_database: str) -> None:
    # Nothing listens at DATABASE_URL: a migration that used it would fail to connect.
    env = {
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere",
        "LANGSTAR_DATABASE__DIRECT_URL": empty_database,
    }
    upgraded = run("-m", "langstar", "db", "upgrade", env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert current_revisions(empty_database) == set(head_revisions())
    assert run("-m", "langstar", "db", "current", env=env).stdout.strip() == ", ".join(
        head_revisions()
    )
    alembic = run("-m", "alembic", "upgrade", "head", env=env)
    assert alembic.returncode == 0, alembic.stderr
