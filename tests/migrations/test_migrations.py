"""Alembic owns the schema, LangGraph's tables included."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec
import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.postgres.base import BasePostgresSaver
from langgraph.store.postgres import AsyncPostgresStore
from langgraph.store.postgres.base import BasePostgresStore
from psycopg.rows import dict_row
from sqlalchemy import create_engine, pool

from langstar.db import migrations
from langstar.db.schema import expected_langgraph_versions, require_schema_at_head
from langstar.db.tables import LANGGRAPH_TABLES, include_object, metadata
from langstar.db.urls import sqlalchemy_url
from langstar.settings import Settings, StoreSettings
from tests.support.postgres import PostgresForTests
from tests.support.settings import settings_for


def snapshot(url: str, tables: frozenset[str] | None = None) -> dict[str, Any]:
    """Columns, indexes, constraints and LangGraph version rows, in comparable form."""
    with psycopg.connect(url) as conn:
        columns = conn.execute(
            "SELECT table_name, column_name, data_type, is_nullable, column_default "
            "FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2"
        ).fetchall()
        indexes = conn.execute(
            "SELECT tablename, indexname, indexdef FROM pg_indexes "
            "WHERE schemaname = 'public' ORDER BY 1, 2"
        ).fetchall()
        constraints = conn.execute(
            "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) "
            "FROM pg_constraint c WHERE c.connamespace = 'public'::regnamespace ORDER BY 1, 2"
        ).fetchall()
        invalid = conn.execute(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE NOT i.indisvalid"
        ).fetchall()
        versions = {}
        for table in ("checkpoint_migrations", "store_migrations", "vector_migrations"):
            if conn.execute("SELECT to_regclass(%s)", (table,)).fetchone() != (None,):
                rows = conn.execute(f"SELECT v FROM {table} ORDER BY v").fetchall()
                versions[table] = [r[0] for r in rows]

    def keep(name: str) -> bool:
        return tables is None or name in tables

    return {
        "columns": [c for c in columns if keep(c[0])],
        "indexes": [i for i in indexes if keep(i[0])],
        "constraints": [c for c in constraints if keep(c[0])],
        "invalid": invalid,
        "versions": versions,
    }


async def run_langgraph_setup(url: str) -> None:
    async with await psycopg.AsyncConnection.connect(
        url, autocommit=True, prepare_threshold=0, row_factory=dict_row
    ) as conn:
        await AsyncPostgresSaver(conn).setup()  # type: ignore[arg-type]
        await AsyncPostgresStore(conn).setup()  # type: ignore[arg-type]


@pytest.fixture
def fresh(postgres: PostgresForTests) -> Iterator[str]:
    url = postgres.create_database("mig")
    yield url
    postgres.drop_database(url)


def test_stairway_upgrade_downgrade_upgrade_every_revision(fresh: str) -> None:
    settings = settings_for(fresh)
    script = ScriptDirectory.from_config(migrations.alembic_config(fresh, settings))
    revisions = list(script.walk_revisions())
    revisions.reverse()
    assert len(revisions) >= 4
    for revision in revisions:
        migrations.upgrade(fresh, settings, revision.revision)
        before = snapshot(fresh)
        migrations.downgrade(fresh, settings, revision.down_revision or "base")
        migrations.upgrade(fresh, settings, revision.revision)
        assert snapshot(fresh) == before, f"revision {revision.revision} does not round-trip"
    migrations.downgrade(fresh, settings, "base")
    assert snapshot(fresh)["columns"] == [
        ("alembic_version", "version_num", "character varying", "NO", None)
    ]


async def test_head_schema_is_exactly_what_langgraph_setup_builds(
    postgres: PostgresForTests, fresh: str
) -> None:
    await migrations.upgrade_async(fresh, settings_for(fresh))
    by_library = postgres.create_database("lib")
    try:
        await run_langgraph_setup(by_library)
        assert snapshot(fresh, LANGGRAPH_TABLES) == snapshot(by_library, LANGGRAPH_TABLES)
    finally:
        postgres.drop_database(by_library)


def test_head_schema_is_exactly_what_tables_py_describes(migrated_database: str) -> None:
    """Autogenerate, set up as env.py sets it up, finds nothing to do at head.

    So `langstar.db.tables` and the revisions agree on langstar's tables, their columns
    (type and nullability), indexes (name, columns, uniqueness), unique and foreign keys.
    Autogenerate does not compare CHECK constraints, an index's method or WHERE clause, or
    (as env.py leaves it) server defaults.
    """
    engine = create_engine(sqlalchemy_url(migrated_database), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"include_object": include_object, "compare_type": True}
            )
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


async def test_langgraph_setup_after_head_finds_nothing_to_do(fresh: str) -> None:
    await migrations.upgrade_async(fresh, settings_for(fresh))
    before = snapshot(fresh)
    assert before["versions"]["checkpoint_migrations"] == list(
        range(len(BasePostgresSaver.MIGRATIONS))
    )
    assert before["versions"]["store_migrations"] == list(range(len(BasePostgresStore.MIGRATIONS)))
    await run_langgraph_setup(fresh)
    assert snapshot(fresh) == before


async def test_existing_langgraph_database_is_adopted_without_loss(fresh: str) -> None:
    await run_langgraph_setup(fresh)
    with psycopg.connect(fresh, autocommit=True) as conn:
        conn.execute("INSERT INTO store (prefix, key, value) VALUES ('a', 'k', '{\"x\": 1}')")
    await migrations.upgrade_async(fresh, settings_for(fresh))
    await require_schema_at_head(fresh, settings_for(fresh))
    with psycopg.connect(fresh) as conn:
        assert conn.execute("SELECT value FROM store").fetchone() == ({"x": 1},)


def test_revisions_cover_every_migration_of_the_installed_langgraph() -> None:
    """Fails when a LangGraph upgrade adds a migration that no revision replays yet."""
    covered: dict[str, set[int]] = {}
    for module in migrations.revision_modules():
        for table, versions in getattr(module, "langgraph_versions", {}).items():
            covered.setdefault(table, set()).update(versions)
    assert covered["checkpoint_migrations"] == set(range(len(BasePostgresSaver.MIGRATIONS)))
    assert covered["store_migrations"] == set(range(len(BasePostgresStore.MIGRATIONS)))
    assert covered["vector_migrations"] == set(range(len(BasePostgresStore.VECTOR_MIGRATIONS)))
    with_vectors = Settings(store=StoreSettings(embedding_dims=8))
    for table, wanted in expected_langgraph_versions(with_vectors).items():
        assert wanted <= covered[table]


def test_an_invalid_index_left_by_an_interrupted_build_is_rebuilt(fresh: str) -> None:
    settings = settings_for(fresh)
    migrations.upgrade(fresh, settings)
    with psycopg.connect(fresh, autocommit=True) as conn:
        # What an interrupted CREATE INDEX CONCURRENTLY leaves behind.
        conn.execute(
            "UPDATE pg_index SET indisvalid = false "
            "WHERE indexrelid = 'checkpoints_thread_id_idx'::regclass"
        )
    assert snapshot(fresh)["invalid"] == [("checkpoints_thread_id_idx",)]
    migrations.downgrade(fresh, settings, "0001")
    with psycopg.connect(fresh, autocommit=True) as conn:
        conn.execute("DELETE FROM alembic_version")
    migrations.upgrade(fresh, settings)
    assert snapshot(fresh)["invalid"] == []


def test_vector_tables_follow_the_embedding_settings(fresh: str) -> None:
    plain = settings_for(fresh)
    migrations.upgrade(fresh, plain)
    assert "vector_migrations" not in snapshot(fresh)["versions"]

    # Turning embeddings on later: running upgrade head again applies what is missing.
    store = StoreSettings(embedding_dims=8, index_type="hnsw")
    with_vectors = msgspec.structs.replace(plain, store=store)
    migrations.upgrade(fresh, with_vectors)
    after = snapshot(fresh)
    assert after["versions"]["vector_migrations"] == [0, 1, 2]
    assert any(i[1] == "store_vectors_embedding_idx" for i in after["indexes"])
    with psycopg.connect(fresh) as conn:
        kind = conn.execute(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = 'store_vectors'::regclass AND attname = 'embedding'"
        ).fetchone()
    assert kind == ("vector(8)",)


async def test_schema_check_names_the_upgrade_command(fresh: str) -> None:
    settings = settings_for(fresh)
    with pytest.raises(Exception, match="alembic upgrade head"):
        await require_schema_at_head(fresh, settings)
    await migrations.upgrade_async(fresh, settings, "0002")
    with pytest.raises(Exception, match=r"0002.*alembic upgrade head"):
        await require_schema_at_head(fresh, settings)
    await migrations.upgrade_async(fresh, settings)
    await require_schema_at_head(fresh, settings)
    with psycopg.connect(fresh, autocommit=True) as conn:
        conn.execute("DELETE FROM checkpoint_migrations WHERE v = 9")
    with pytest.raises(Exception, match=r"checkpoint_migrations lacks .*\[9\]"):
        await require_schema_at_head(fresh, settings)


def test_replicas_migrating_at_once_do_not_race(fresh: str) -> None:
    """Several processes run `upgrade head` together, as replicas that boot at once do."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": fresh}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "alembic", "upgrade", "head"],
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [proc.communicate(timeout=120)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0, 0], outputs
    assert sum("Running upgrade  -> 0001" in out for out in outputs) == 1
    state = snapshot(fresh)
    assert state["invalid"] == []
    assert state["versions"]["checkpoint_migrations"] == list(
        range(len(BasePostgresSaver.MIGRATIONS))
    )
