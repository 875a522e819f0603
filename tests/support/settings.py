"""Settings for a test's app: a database named by URL, opened without auth."""

from __future__ import annotations

from pathlib import Path

import msgspec

from langstar.settings import AuthSettings, DatabaseSettings, Settings


def settings_for(url: str, data_dir: Path | None = None) -> Settings:
    return Settings(
        data_dir=str(data_dir or ".langstar"),
        database=DatabaseSettings(url=url, pool_min_size=1, pool_max_size=10),
        # Tests name the database by URL, which needs the open mode said out loud.
        auth=AuthSettings(mode="none"),
    )


def with_pool(settings: Settings, size: int) -> Settings:
    database = msgspec.structs.replace(settings.database, pool_max_size=size)
    return msgspec.structs.replace(settings, database=database)
