"""Alembic, driven through its own API: the schema steps `langstar db` and the server share."""

from __future__ import annotations

import asyncio
import io
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import TextIO

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from langstar.settings import Settings


@cache
def migrations_dir() -> Path:
    """The revisions: `migrations/` beside `src/`, else in the working directory."""
    here = Path(__file__).resolve()
    for candidate in (here.parents[3] / "migrations", Path.cwd() / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise FileNotFoundError("langstar's migrations directory is missing from this install")


def alembic_config(url: str, settings: Settings, *, stdout: TextIO | None = None) -> Config:
    """An Alembic config bound to one database; `migrations/env.py` reads these attributes."""
    config = Config(stdout=stdout or io.StringIO())
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["database_url"] = url
    config.attributes["settings"] = settings
    return config


@cache
def script_directory() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    return ScriptDirectory.from_config(config)


def head_revisions() -> tuple[str, ...]:
    return tuple(script_directory().get_heads())


def revision_modules() -> list[ModuleType]:
    """Every revision's module, oldest first."""
    revisions = list(script_directory().walk_revisions())
    revisions.reverse()
    return [rev.module for rev in revisions]


def upgrade(url: str, settings: Settings, revision: str = "head") -> None:
    """Blocking; run from a thread when called under an event loop."""
    command.upgrade(alembic_config(url, settings), revision)


def downgrade(url: str, settings: Settings, revision: str) -> None:
    command.downgrade(alembic_config(url, settings), revision)


async def upgrade_async(url: str, settings: Settings, revision: str = "head") -> None:
    # env.py runs its own event loop, so it needs a thread of its own.
    await asyncio.to_thread(upgrade, url, settings, revision)


def current_revisions(url: str) -> set[str]:
    """The revisions the database is at (empty for a database Alembic never touched)."""
    import psycopg

    with psycopg.connect(url) as conn:
        exists = conn.execute("SELECT to_regclass('alembic_version')").fetchone()
        if exists is None or exists[0] is None:
            return set()
        return {row[0] for row in conn.execute("SELECT version_num FROM alembic_version")}
