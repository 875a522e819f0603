"""A real PostgreSQL for tests: the embedded server, or the one DATABASE_URL names."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

from langstar.db.embedded import EmbeddedPostgres
from langstar.db.urls import with_database


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


@dataclass
class PostgresForTests:
    admin_url: str
    embedded: EmbeddedPostgres | None

    def create_database(self, prefix: str = "t") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return with_database(self.admin_url, name)

    @contextmanager
    def migrated(self, prefix: str) -> Iterator[str]:
        """A database of its own at the Alembic head, dropped afterwards."""
        from langstar.db import migrations
        from tests.support.settings import settings_for

        url = self.create_database(prefix)
        migrations.upgrade(url, settings_for(url))
        try:
            yield url
        finally:
            self.drop_database(url)

    def drop_database(self, url: str) -> None:
        name = database_name(url)
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
