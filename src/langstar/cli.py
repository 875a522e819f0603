"""`langstar serve` and `langstar db upgrade|current|check`."""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import os
import socket
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import msgspec

from langstar import logs
from langstar.project import apply_project, project_settings
from langstar.settings import MAX_WORKERS, Settings, SettingsError, load_settings
from langstar.tracing.setup import configure as configure_tracing

log = logging.getLogger("langstar")
# How long requests still open may take once the server stops listening.
SHUTDOWN_REQUESTS_SECONDS = 5


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="langstar", description=__doc__)
    parser.add_argument("--config", help="TOML settings file (default: $LANGSTAR_CONFIG)")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the configured graphs over HTTP")
    serve.add_argument("--host", help="address to listen on (server.host)")
    serve.add_argument("--port", type=int, help="port to listen on (server.port)")
    serve.add_argument(
        "--langgraph-json",
        metavar="PATH",
        help="serve the graphs of this langgraph.json (graphs_from)",
    )
    serve.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="processes serving on one port; 0: one per CPU core (server.workers)",
    )
    serve.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        help="log level (log_level); debug shows the traceback behind a start-up error",
    )

    db = commands.add_parser("db", help="manage the database schema (Alembic)")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    for name, purpose in (
        ("upgrade", "migrate the database to the latest schema"),
        ("current", "show the schema revision of the database"),
        ("check", "exit 1 unless the database is at the latest schema"),
    ):
        db_commands.add_parser(name, help=purpose).add_argument(
            "--langgraph-json",
            metavar="PATH",
            help="the project whose settings (store.index) the schema follows (graphs_from)",
        )
    keys = commands.add_parser("keys", help="manage API keys (auth.mode = api_key)")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    create = key_commands.add_parser("create", help="make a key; it is printed last, once")
    create.add_argument("--user", required=True, help="the user id the key acts as")
    create.add_argument("--name", default="", help="a label to recognise the key by")
    key_commands.add_parser("list", help="list keys (never the keys themselves)")
    revoke = key_commands.add_parser("revoke", help="revoke a key at once")
    revoke.add_argument("key_id", help="the key's id, as `langstar keys list` shows it")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        # The project's env file is loaded before anything reads a variable it may hold.
        settings = project_settings(lambda env: _with_flags(load_settings(args.config, env), args))
        logs.configure(settings.log_level, settings.log_format)
        # Alembic announces every plugin it loads at INFO; keep its migration lines only.
        logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
        settings = apply_project(settings)
        if args.command == "serve":
            configure_tracing()
    except SettingsError as exc:
        print(f"langstar: configuration error: {_explained(exc)}", file=sys.stderr)
        raise SystemExit(2) from None
    if args.command == "serve":
        raise SystemExit(serve(settings))
    try:
        if args.command == "keys":
            raise SystemExit(keys_command(args, settings))
        raise SystemExit(db_command(args.db_command, settings))
    except connection_errors() as exc:
        print(unreachable(settings.database.url, exc), file=sys.stderr)
        raise SystemExit(1) from None


def _explained(exc: SettingsError) -> str:
    """The key, and why, at the file and line to blame when loading something failed."""
    from langstar.objects import LoadError

    if not isinstance(exc.__cause__ or exc.__context__, LoadError):
        return str(exc)
    from langstar.serving import describe

    return f"{exc.key}: {describe(exc)}" if exc.key else describe(exc)


def connection_errors() -> tuple[type[BaseException], ...]:
    """What failing to connect raises: psycopg's own error, or SQLAlchemy's around it."""
    import psycopg
    import sqlalchemy.exc

    return (OSError, psycopg.OperationalError, sqlalchemy.exc.OperationalError)


def _with_flags(settings: Settings, args: argparse.Namespace) -> Settings:
    if args.command == "serve":
        settings = _with_serve_flags(settings, args)
    if getattr(args, "langgraph_json", None) is not None:
        settings = msgspec.structs.replace(settings, graphs_from=args.langgraph_json)
    return settings


def _with_serve_flags(settings: Settings, args: argparse.Namespace) -> Settings:
    if args.log_level is not None:
        settings = msgspec.structs.replace(settings, log_level=args.log_level)
    server = settings.server
    if args.host is not None:
        server = msgspec.structs.replace(server, host=args.host)
    if args.port is not None:
        if not 1 <= args.port <= 65535:
            raise SettingsError("server.port", f"{args.port} is out of range 1-65535")
        server = msgspec.structs.replace(server, port=args.port)
    if args.workers is not None:
        if not 0 <= args.workers <= MAX_WORKERS:
            raise SettingsError("server.workers", f"{args.workers} is out of range 0-{MAX_WORKERS}")
        server = msgspec.structs.replace(server, workers=args.workers)
    return msgspec.structs.replace(settings, server=server)


def unreachable(url: str, exc: BaseException) -> str:
    """One line for a database that cannot be reached, naming it without its password.

    libpq's own reason is kept: it says when the server's certificate failed
    verification (`sslmode=verify-full` with a wrong `sslrootcert`), or a password was
    refused.
    """
    from langstar.db.urls import redact

    cause = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the driver's error
    reason = " ".join(str(cause).split())
    hint = ""
    if "certificate" in reason or "SSL" in reason:
        hint = (
            " (TLS: check that sslrootcert names the CA that signed the server's"
            " certificate, and sslmode)"
        )
    return f"langstar: cannot connect to the database at {redact(url)}: {reason}{hint}"


def serve(settings: Settings) -> int:
    """Serve, once what can be checked is: the project loads, the database is at head, the
    auth mode is settled and the port is free. What stops it is one line (the traceback at
    debug level), said once; where the API is is said once the app has started."""
    from langstar import loopback
    from langstar.serving import (
        CANNOT_SERVE,
        CannotServeError,
        check_project,
        checked_app,
        listening_socket,
        quiet_uvicorn,
        workers_for,
    )

    quiet_uvicorn(settings.log_level)
    # A graph that makes a client (`get_client()`) as it is imported, before the server
    # it reaches in-process exists.
    os.environ.setdefault(loopback.DEFER, "true")
    workers = workers_for(settings)
    try:
        # A single process builds the app next: its own app is loaded there, once.
        check_project(settings, with_app=workers > 1)
        app = None if workers > 1 else checked_app(settings)
        if (refused := _refused(settings)) is not None:
            return refused
        sock = listening_socket(settings)
    except CannotServeError as exc:
        log.debug("cannot serve", exc_info=exc.cause)
        print(exc.line, file=sys.stderr)
        return CANNOT_SERVE
    if app is None:
        return _serve_workers(settings, workers, sock)
    return _serve_one(settings, app, sock)


def _refused(settings: Settings) -> int | None:
    """Why the database or the auth mode refuses this server, said; None when neither does."""
    from langstar.auth.authenticators import AuthConfigError, effective_mode
    from langstar.db.schema import SchemaNotAtHeadError, require_schema_at_head

    if settings.database.url:
        try:
            asyncio.run(require_schema_at_head(settings.database.url, settings))
        except SchemaNotAtHeadError as exc:
            print(f"langstar: {exc}", file=sys.stderr)
            return 1
        except connection_errors() as exc:
            print(unreachable(settings.database.url, exc), file=sys.stderr)
            return 1
    try:
        effective_mode(settings)
    except AuthConfigError as exc:
        print(f"langstar: {exc}", file=sys.stderr)
        return 2
    return None


def _serve_one(settings: Settings, app: Any, sock: socket.socket) -> int:
    import uvicorn

    from langstar.serving import FAILED_TO_START, ReportedStartup

    def say(line: str) -> None:
        print(line, file=sys.stderr)

    served = ReportedStartup(app, say, lambda: _say_where(settings, 1))
    server = uvicorn.Server(_uvicorn_config(settings, served))
    try:
        server.run(sockets=[sock])
    except SystemExit as exc:  # uvicorn's, when the app failed to start
        return exc.code if isinstance(exc.code, int) else FAILED_TO_START
    # uvicorn returns normally when startup failed; its `started` flag tells.
    return 0 if server.started else FAILED_TO_START


def _serve_workers(settings: Settings, workers: int, sock: socket.socket) -> int:
    """N processes on one port, sharing the database (and the embedded one, started here)."""
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    from langstar.serving import (
        FAILED_TO_START,
        FAILURE_FILE,
        SETTINGS_FILE_ENV,
        settings_file,
        shared_by_workers,
        workers_watched,
    )

    with shared_by_workers(settings, workers) as shared, settings_file(shared) as path:
        os.environ[SETTINGS_FILE_ENV] = str(path)
        config = _uvicorn_config(shared, "langstar.serving:worker_app", workers=workers)
        supervisor = Multiprocess(config, sockets=[sock])
        say = functools.partial(_say_where, shared, workers)
        with workers_watched(path.parent, supervisor.should_exit, say):
            supervisor.run()
        failures = path.parent / FAILURE_FILE
        said = failures.read_text(encoding="utf-8").splitlines() if failures.is_file() else []
    if said:  # said once, for every worker that could not start
        print(said[0], file=sys.stderr)
    # The supervisor stops every worker when one cannot start: the app would fail again.
    failed = bool(said) or any(p.process.exitcode == STARTUP_FAILURE for p in supervisor.processes)
    return FAILED_TO_START if failed else 0


def _uvicorn_config(settings: Settings, app: Any, workers: int = 1) -> Any:
    import uvicorn

    return uvicorn.Config(
        app,
        factory=isinstance(app, str),
        workers=workers,
        host=settings.server.host,
        port=settings.server.port,
        log_level=settings.log_level,
        log_config=None,  # langstar's own handler (text or JSON) writes uvicorn's lines
        access_log=False,  # langstar writes one line per request itself
        lifespan="on",
        # Runs were finished or handed off before (on SIGTERM) or after (lifespan): this
        # only bounds how long requests still open may take once the server stops.
        timeout_graceful_shutdown=SHUTDOWN_REQUESTS_SECONDS,
    )


def _say_where(settings: Settings, workers: int) -> None:
    """Where the API, its docs, the console and the metrics are, as the server starts."""
    base = f"http://{settings.server.host}:{settings.server.port}"
    api = base + settings.http.mount_prefix
    processes = "one process" if workers == 1 else f"{workers} worker processes"
    log.info("langstar API: %s (%s)", api, processes)
    if not settings.http.disable_meta:
        log.info("API docs: %s/docs", api)
    if not settings.http.disable_ui:
        log.info("console: %s/ui", api)
    if not settings.http.disable_meta:
        log.info("metrics: %s/metrics", base)


@contextmanager
def _database_url(settings: Settings) -> Iterator[str]:
    # Migrations hold a session-level lock: straight to PostgreSQL when a pooler is between.
    if url := settings.database.direct_url or settings.database.url:
        yield url
        return
    from langstar.db.embedded import EmbeddedPostgres

    embedded = EmbeddedPostgres(settings.data_dir)
    print(f"using the embedded PostgreSQL in {embedded.pgdata}", file=sys.stderr)
    url = embedded.start()
    try:
        yield url
    finally:
        embedded.stop()


def db_command(name: str, settings: Settings) -> int:
    from langstar.db import migrations
    from langstar.db.schema import SchemaNotAtHeadError, require_schema_at_head

    with _database_url(settings) as url:
        if name == "upgrade":
            print("migrating to the latest schema...", file=sys.stderr)
            migrations.upgrade(url, settings)
            print(f"at head: {', '.join(migrations.head_revisions())}")
            return 0
        if name == "current":
            print(", ".join(sorted(migrations.current_revisions(url))) or "(empty database)")
            return 0
        try:
            asyncio.run(require_schema_at_head(url, settings))
        except SchemaNotAtHeadError as exc:
            print(f"langstar: {exc}", file=sys.stderr)
            return 1
        print(f"ok: at head {', '.join(migrations.head_revisions())}")
        return 0


def keys_command(args: argparse.Namespace, settings: Settings) -> int:
    import uuid

    from langstar.auth import keys
    from langstar.db.schema import SchemaNotAtHeadError, require_schema_at_head

    with _database_url(settings) as url:
        try:
            asyncio.run(require_schema_at_head(url, settings))
        except SchemaNotAtHeadError as exc:
            print(f"langstar: {exc}", file=sys.stderr)
            return 1
        if args.keys_command == "create":
            try:
                key_id, key = asyncio.run(keys.create_key(url, args.user, args.name))
            except ValueError as exc:
                print(f"langstar: {exc}", file=sys.stderr)
                return 2
            print(f"key {key_id} for user {args.user!r}; store it now, it is not shown again:")
            print(key)
            return 0
        if args.keys_command == "list":
            print("key_id\tuser\tname\tprefix\tcreated\trevoked")
            for k in asyncio.run(keys.list_keys(url)):
                revoked = k.revoked_at.isoformat() if k.revoked_at else "-"
                print(
                    f"{k.key_id}\t{k.user_id}\t{k.name}\t{k.prefix}...\t"
                    f"{k.created_at.isoformat()}\t{revoked}"
                )
            return 0
        try:
            key_id = uuid.UUID(args.key_id)
        except ValueError:
            print(f"langstar: not a key id: {args.key_id!r}", file=sys.stderr)
            return 2
        if not asyncio.run(keys.revoke_key(url, key_id)):
            print(f"langstar: no live key {key_id}", file=sys.stderr)
            return 1
        print(f"revoked {key_id}")
        return 0
