"""Alembic environment: async, bound to the same settings as the server."""

from __future__ import annotations

import asyncio
import logging
import time
from logging.config import fileConfig
from typing import Any

from alembic import context
from alembic.operations import Operations
from alembic.script import ScriptDirectory
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from langstar.db.embedded import EmbeddedPostgres
from langstar.db.tables import include_object, metadata
from langstar.db.urls import sqlalchemy_url
from langstar.settings import Settings, load_settings

config = context.config
if config.config_file_name is not None and not config.attributes.get("database_url"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)
log = logging.getLogger("alembic.env")


def _configure(**kwargs: Any) -> None:
    context.configure(
        target_metadata=metadata,
        include_object=include_object,
        compare_type=True,
        transaction_per_migration=True,
        **kwargs,
    )


# Any fixed key: it only has to be the same for every process migrating this database.
MIGRATION_LOCK_KEY = 0x6C616E67  # "lang"


def _do_run(connection: Connection) -> None:
    _hold_migration_lock(connection)
    try:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        _apply_late_vector_migrations()
    except BaseException:
        connection.rollback()  # so the unlock below runs, and the real error surfaces
        raise
    finally:
        connection.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})")
        connection.commit()


def _hold_migration_lock(connection: Connection) -> None:
    """One migrating process at a time, so replicas that boot together cannot race.

    It polls pg_try_advisory_lock rather than waiting in pg_advisory_lock: a session
    blocked inside a statement keeps a snapshot open, and CREATE INDEX CONCURRENTLY in
    the lock holder would wait for that snapshot forever.
    """
    waited = False
    while True:
        got = connection.exec_driver_sql(
            f"SELECT pg_try_advisory_lock({MIGRATION_LOCK_KEY})"
        ).scalar()
        connection.commit()
        if got:
            return
        if not waited:
            log.info("another process is migrating this database; waiting for it")
            waited = True
        time.sleep(0.25)


def _apply_late_vector_migrations() -> None:
    """Embeddings turned on after revision 0003 ran: apply the vector migrations now missing."""
    settings: Settings = config.attributes["settings"]
    migration_context = context.get_context()
    script = ScriptDirectory.from_config(config)
    if not settings.store.embedding_dims:
        return
    if set(migration_context.get_current_heads()) != set(script.get_heads()):
        return
    vectors_revision = script.get_revision("0003")
    assert vectors_revision is not None
    with (
        Operations.context(migration_context),
        migration_context.begin_transaction(_per_migration=True),
    ):
        vectors_revision.module.apply_missing()


async def _run_online(url: str) -> None:
    engine = create_async_engine(sqlalchemy_url(url), poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_do_run)
    finally:
        await engine.dispose()


def main() -> None:
    settings: Settings = config.attributes.get("settings") or load_settings()
    config.attributes["settings"] = settings
    # Straight to PostgreSQL: the migration lock is held by a session, which a transaction
    # pooler does not keep.
    url: str | None = (
        config.attributes.get("database_url")
        or settings.database.direct_url
        or settings.database.url
        or None
    )
    if context.is_offline_mode():
        _configure(url=sqlalchemy_url(url or "postgresql://localhost/langstar"), literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    embedded = None
    if url is None:
        embedded = EmbeddedPostgres(settings.data_dir)
        url = embedded.start()
        log.info("migrating the embedded PostgreSQL in %s", embedded.pgdata)
    try:
        asyncio.run(_run_online(url))
    finally:
        if embedded is not None:
            embedded.stop()


main()
