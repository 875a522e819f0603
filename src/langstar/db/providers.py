"""APP-scoped database resources, each yielded entered and closed at shutdown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dishka import Provider, Scope, provide
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.store.base import BaseStore, TTLConfig
from langgraph.store.postgres import AsyncPostgresStore
from langgraph.store.postgres.base import PostgresIndexConfig

from langstar.db.checkpoints import OWN_CHECKPOINTS, ThreadCheckpoints
from langstar.db.custom import SaverCheckpoints, project_saver, project_store, shortfall
from langstar.db.embedded import EmbeddedPostgres
from langstar.db.encryption import ProjectEncryption, load_encryption
from langstar.db.json_encryption import JsonCipher
from langstar.db.migrations import upgrade_async
from langstar.db.notifications import Notifications
from langstar.db.pool import Pool, Pooler, open_pool, pooler_of
from langstar.db.savers import PooledPostgresSaver, checkpoint_serializer
from langstar.db.schema import require_schema_at_head
from langstar.db.serializer import aes_key
from langstar.db.urls import redact, with_session_defaults
from langstar.models.providers import build_embeddings
from langstar.settings import Settings, SettingsError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Database:
    """Where the data lives. The embedded database is migrated by langstar itself; an
    external one must already be at the Alembic head.

    `url` may go through a pooler; `direct_url` reaches PostgreSQL itself (the same URL
    when no pooler is in between), or is empty behind a transaction pooler when no
    `database.direct_url` is set: nothing can then listen for notifications.
    """

    url: str
    embedded: bool
    pooler: Pooler = "none"
    direct_url: str = ""

    def conninfo(self, *, direct: bool) -> str:
        """What langstar's own connections outside the pool open, named as the pool's are:
        to `direct_url` (empty if there is none), or else to it or `url`."""
        url = self.direct_url if direct else (self.direct_url or self.url)
        return with_session_defaults(url) if url else ""

    @staticmethod
    async def external(settings: Settings) -> Database:
        url, direct = settings.database.url, settings.database.direct_url
        pooler = await pooler_of(url, settings.database)
        if not direct and pooler != "transaction":
            direct = url  # without a pooler, or one that keeps sessions, `url` can listen
        if pooler == "transaction" and not direct:
            log.warning(
                "database.url goes through a transaction pooler and database.direct_url is "
                "not set: cancels and other servers' live streams are polled for, every "
                "%g s",
                settings.database.poll_seconds,
            )
        return Database(url, embedded=False, pooler=pooler, direct_url=direct)


class DatabaseProvider(Provider):
    """The database, the pool over it, its notifications, and LangGraph's checkpointer and store."""

    scope = Scope.APP

    @provide
    async def provide_database(self, settings: Settings) -> AsyncIterator[Database]:
        if settings.database.url:
            await require_schema_at_head(settings.database.url, settings)
            database = await Database.external(settings)
            log.info(
                "serving PostgreSQL at %s (pooler: %s)",
                redact(settings.database.url),
                database.pooler,
            )
            yield database
            return
        embedded = EmbeddedPostgres(settings.data_dir)
        url = await asyncio.to_thread(embedded.start)
        try:
            await upgrade_async(url, settings)
            log.info("serving the embedded PostgreSQL in %s", embedded.pgdata)
            yield Database(url, embedded=True, direct_url=url)
        finally:
            await asyncio.to_thread(embedded.stop)

    @provide
    async def provide_pool(self, database: Database, settings: Settings) -> AsyncIterator[Pool]:
        pool = await open_pool(database.url, settings.database, pooler=database.pooler)
        try:
            yield pool
        finally:
            await pool.close()

    @provide
    async def provide_notifications(self, database: Database) -> AsyncIterator[Notifications]:
        # NOTIFY works through any pooler; LISTEN needs a session of its own.
        notifications = Notifications(
            database.conninfo(direct=False),
            listening=bool(database.direct_url),
        )
        notifications.open()
        try:
            yield notifications
        finally:
            await notifications.aclose()

    @provide
    def provide_encryption(self, settings: Settings) -> ProjectEncryption:
        spec = settings.database.encryption
        if not spec:
            return ProjectEncryption()
        encryption = load_encryption(spec, Path(settings.graphs_from).parent)
        sealed = "checkpoints and JSON" if encryption._json_encryptor else "checkpoints"
        log.info("%s are encrypted by the project's %r (%s)", sealed, encryption, spec)
        return ProjectEncryption(encryption)

    @provide
    def provide_json_cipher(self, encryption: ProjectEncryption) -> JsonCipher:
        """The project's JSON handlers, for every service that stores JSON."""
        return encryption.json

    @provide
    async def provide_checkpointer(
        self, pool: Pool, settings: Settings, encryption: ProjectEncryption
    ) -> AsyncIterator[BaseCheckpointSaver[Any]]:
        spec = settings.database.checkpointer
        if not spec:
            # No setup(): Alembic owns the schema.
            blobs = encryption.blobs
            own = blobs is not None and blobs.enabled
            serde = checkpoint_serializer(settings.database, own_encryption=own)
            yield PooledPostgresSaver(pool, serde, blobs, encryption.json)
            return
        if encryption.encryption is not None:
            raise SettingsError(
                "database.encryption", "the project's own saver (database.checkpointer) writes "
                "the checkpoints, so the blob handlers would not run"
            )  # fmt: skip
        # The pool stays a dependency: runs, threads and their statuses live there still.
        async with project_saver(spec) as saver:
            log.info("checkpoints are kept by the project's %s (%s)", type(saver).__name__, spec)
            if lacking := shortfall(saver, keyed=aes_key() is not None):
                log.warning("%s", lacking)
            yield saver

    @provide
    def provide_thread_checkpoints(
        self, checkpointer: BaseCheckpointSaver[Any], settings: Settings
    ) -> ThreadCheckpoints:
        if settings.database.checkpointer:
            return SaverCheckpoints(checkpointer)
        return OWN_CHECKPOINTS

    @provide
    async def provide_store(self, pool: Pool, settings: Settings) -> AsyncIterator[BaseStore]:
        if settings.store.path:
            async with project_store(settings.store.path) as store:
                ttl = "" if store.supports_ttl else "; an item put with a ttl is answered 501"
                log.info("the long-term store is the project's %s (%s)%s",
                         type(store).__name__, settings.store.path, ttl)  # fmt: skip
                yield store
            return
        async with _own_store(pool, settings) as store:
            yield store


@asynccontextmanager
async def _own_store(pool: Pool, settings: Settings) -> AsyncIterator[BaseStore]:
    """langstar's store, in its PostgreSQL: semantic search and ttl as settings say."""
    index: PostgresIndexConfig | None = None
    if settings.store.embedding_dims:
        index = {
            "dims": settings.store.embedding_dims,
            "embed": build_embeddings(settings.store),
            "fields": list(settings.store.embedding_fields),
            "ann_index_config": {
                "kind": settings.store.index_type,
                "vector_type": settings.store.vector_type,
            },
            "distance_type": settings.store.distance_type,
        }
    # Items put with a ttl expire; the sweeper deletes them in the background.
    ttl: TTLConfig = {
        "refresh_on_read": settings.store.ttl_refresh_on_read,
        "sweep_interval_minutes": settings.store.ttl_sweep_interval_minutes,
    }
    if settings.store.ttl_default_minutes:
        ttl["default_ttl"] = settings.store.ttl_default_minutes
    store = AsyncPostgresStore(pool, index=index, ttl=ttl)
    await store.start_ttl_sweeper()
    try:
        yield store
    finally:
        await store.stop_ttl_sweeper(timeout=5)
