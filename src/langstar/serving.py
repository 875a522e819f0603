"""Serving the app over HTTP: one process, or N worker processes on one port.

With several workers the parent does what must happen once: it starts the embedded
PostgreSQL and migrates it (or checks an external database's schema), settles the auth
mode, and hands every worker the same settings through a private file. Each worker is a
whole langstar (pool, executor, sweeper, schedulers) on the shared database; uvicorn's
supervisor shares the listening socket among them and restarts a worker that dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

from langstar import logs
from langstar.app import create_app
from langstar.custom_routes import with_custom_routes
from langstar.draining import DRAIN_ON_SIGTERM
from langstar.project import load_env, read_project
from langstar.settings import Settings
from langstar.tracing.setup import configure as configure_tracing

log = logging.getLogger("langstar")

# The file a worker reads its settings from (JSON, readable by the owner only).
SETTINGS_FILE_ENV = "LANGSTAR_WORKER_SETTINGS"
# The connections a process opens besides its pool: the notification listener, the
# notification sender, and the run lease renewer.
EXTRA_CONNECTIONS = 3


def workers_for(settings: Settings) -> int:
    """How many processes serve: `server.workers`, or one per usable CPU core when 0."""
    if settings.server.workers:
        return settings.server.workers
    return max(1, len(os.sched_getaffinity(0)))


def build_app(settings: Settings) -> Any:
    """The ASGI app: langstar, with a project's own routes around it when it has some."""
    app: Any = create_app(settings)
    app.state[DRAIN_ON_SIGTERM] = True  # `serve` owns the process: SIGTERM drains it
    if settings.http.app:
        app = with_custom_routes(
            app, settings.http.app, authenticate=settings.http.enable_custom_route_auth
        )
    return app


def worker_app() -> Any:
    """A worker's app (uvicorn's factory), from the settings its parent wrote."""
    _die_with_parent()
    path = os.environ[SETTINGS_FILE_ENV]
    settings = msgspec.json.decode(Path(path).read_bytes(), type=Settings)
    # Before tracing reads its OTEL_* variables: the project's env file may set them.
    if settings.graphs_from:
        load_env(read_project(settings.graphs_from))
    logs.configure(settings.log_level, settings.log_format)
    configure_tracing()
    return build_app(settings)


def _die_with_parent() -> None:
    """Linux: stop this worker when its parent dies, even by SIGKILL, rather than serve on
    as an orphan holding the port and its runs' leases."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() == 1:  # the parent died before the call took effect
        os.kill(os.getpid(), signal.SIGTERM)


@contextlib.contextmanager
def shared_by_workers(settings: Settings, workers: int) -> Iterator[Settings]:
    """What N workers share, set up once: the database and the metrics directory.

    Yields the settings every worker runs with: the database's URL filled in and the
    auth mode settled, so that no worker starts or migrates a database of its own.
    """
    from langstar.auth.authenticators import effective_mode

    mode = effective_mode(settings)  # decided here: an embedded database's URL is set below
    settings = msgspec.structs.replace(
        settings, auth=msgspec.structs.replace(settings.auth, mode=mode)
    )
    with contextlib.ExitStack() as stack:
        url = settings.database.url or stack.enter_context(_embedded(settings))
        settings = msgspec.structs.replace(
            settings, database=msgspec.structs.replace(settings.database, url=url)
        )
        _warn_if_too_many_connections(url, settings, workers)
        stack.enter_context(_metrics_directory())
        yield settings


@contextlib.contextmanager
def _embedded(settings: Settings) -> Iterator[str]:
    from langstar.db.embedded import EmbeddedPostgres
    from langstar.db.migrations import upgrade

    embedded = EmbeddedPostgres(settings.data_dir)
    url = embedded.start()
    try:
        upgrade(url, settings)
        log.info("serving the embedded PostgreSQL in %s", embedded.pgdata)
        yield url
    finally:
        embedded.stop()


@contextlib.contextmanager
def _metrics_directory() -> Iterator[None]:
    """Prometheus' multiprocess mode, so that `/metrics` on any worker counts them all."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # the operator's own directory
        yield
        return
    folder = tempfile.mkdtemp(prefix="langstar-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    try:
        yield
    finally:
        del os.environ["PROMETHEUS_MULTIPROC_DIR"]
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def settings_file(settings: Settings) -> Iterator[Path]:
    """The workers' settings, in a file only this user can read (they may hold secrets)."""
    folder = Path(tempfile.mkdtemp(prefix="langstar-workers-"))  # mode 0700
    path = folder / "settings.json"
    try:
        path.write_bytes(msgspec.json.encode(settings))
        path.chmod(0o600)
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _warn_if_too_many_connections(url: str, settings: Settings, workers: int) -> None:
    """Say so at start when the workers' pools could exhaust PostgreSQL's connections."""
    wanted = workers * (settings.database.pool_max_size + EXTRA_CONNECTIONS)
    try:
        available = asyncio.run(_connection_limit(url))
    except Exception as exc:  # the workers will report an unreachable database themselves
        log.debug("could not read max_connections: %s", exc)
        return
    if wanted > available:
        log.warning(
            "%d workers may open %d connections, but PostgreSQL allows %d for clients: "
            "lower database.pool_max_size or server.workers, or raise max_connections",
            workers, wanted, available,
        )  # fmt: skip


async def _connection_limit(url: str) -> int:
    import psycopg

    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cursor = await conn.execute(
            "SELECT current_setting('max_connections')::int"
            " - current_setting('superuser_reserved_connections')::int"
        )
        row = await cursor.fetchone()
        assert row is not None
        return int(row[0])
