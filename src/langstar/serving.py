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
import difflib
import errno
import gc
import logging
import os
import re
import shutil
import socket
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import msgspec

from langstar import logs
from langstar.app import create_app, custom_auth_provider
from langstar.custom_routes import project_app, with_custom_routes
from langstar.draining import DRAIN_ON_SIGTERM
from langstar.graphs.registry import check_graphs
from langstar.objects import LoadError, load_object
from langstar.project import load_env, read_project
from langstar.settings import ENV_PREFIX, Settings, SettingsError
from langstar.tracing.setup import configure as configure_tracing

log = logging.getLogger("langstar")

# The file a worker reads its settings from (JSON, readable by the owner only).
SETTINGS_FILE_ENV = "LANGSTAR_WORKER_SETTINGS"
# The connections a process opens besides its pool: the notification listener, the
# notification sender, and the run lease renewer.
EXTRA_CONNECTIONS = 3


# Exit codes of `langstar serve`: a setting, a langgraph.json key or what one names cannot
# be served (nothing was started); the server failed while starting.
CANNOT_SERVE = 2
FAILED_TO_START = 3
# Beside a worker's settings file: the line a worker that could not start leaves there,
# for the parent to say once for all of them.
FAILURE_FILE = "startup-failure.txt"
# Beside it: there once a worker has started.
STARTED_FILE = "started"


class CannotServeError(Exception):
    """What stops `serve` before it serves: one line to say, and the error behind it."""

    def __init__(self, line: str, cause: BaseException | None = None) -> None:
        super().__init__(line)
        self.line = line
        self.cause = cause


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


def checked_app(settings: Settings) -> Any:
    """The app, or what stops `serve` from building it, as one line naming the setting
    (`http.app`, the project's own app) when one is to blame."""
    try:
        return build_app(settings)
    except Exception as exc:
        key = exc.key if isinstance(exc, SettingsError) else ""
        subject = f"load {_origin(settings, key, key)}" if key else "build the app"
        raise CannotServeError(f"langstar: cannot {subject}: {describe(exc)}", exc) from None


def worker_app() -> Any:
    """A worker's app (uvicorn's factory), from the settings its parent wrote.

    One that cannot start leaves its reason for the parent, which says it once.
    """
    _die_with_parent()
    path = Path(os.environ[SETTINGS_FILE_ENV])
    settings = msgspec.json.decode(path.read_bytes(), type=Settings)
    # Before tracing reads its OTEL_* variables: the project's env file may set them.
    if settings.graphs_from:
        load_env(read_project(settings.graphs_from))
    logs.configure(settings.log_level, settings.log_format)
    quiet_uvicorn(settings.log_level)
    configure_tracing()

    def leave(line: str) -> None:
        with (path.parent / FAILURE_FILE).open("a", encoding="utf-8") as file:
            file.write(line + "\n")

    def started() -> None:
        (path.parent / STARTED_FILE).touch()

    try:
        return ReportedStartup(build_app(settings), leave, started)
    except Exception as exc:
        leave(failure_line(exc))
        log.debug("the app could not be built", exc_info=exc)
        raise SystemExit(FAILED_TO_START) from None  # uvicorn's "failed to start"


def failure_line(exc: BaseException) -> str:
    """A start-up failure as one line: what could not start (the graph), where, and why."""
    from langstar.graphs.factory import GraphLoadError

    found: BaseException | None = exc
    while found is not None and not isinstance(found, GraphLoadError):
        found = found.exceptions[0] if isinstance(found, BaseExceptionGroup) else _below(found)
    detail = describe(exc)
    if found is None:
        return f"langstar: cannot start: {detail}"
    what = str(found)
    if detail in what:
        return f"langstar: {what}"
    root = _root(exc)
    what = what.removesuffix(f"{type(root).__name__}: {root}").rstrip(": ")
    return f"langstar: {what}: {detail}"


# Young objects collected once this many more were made than freed (CPython's: 700).
YOUNG_COLLECTION_THRESHOLD = 10_000


def settle_heap() -> None:
    """Once the app has started, keep what it loaded (modules, graphs, models) out of the
    cyclic garbage collector's way, and collect young objects less often.

    Collections walked that whole heap again and again: with many requests in flight,
    each one's objects outlived a few collections and made more of them, and a serving
    process spent a tenth to a fifth of its CPU in the collector.
    """
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, middle, old)


class ReportedStartup:
    """The app, whose failure to start is one readable line (`report`), not a traceback
    (that is logged at debug level); `started` is called once it has started."""

    def __init__(
        self, app: Any, report: Callable[[str], None], started: Callable[[], None]
    ) -> None:
        self.app = app
        self.report = report
        self.started = started

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        started = failed = False

        async def sending(message: Any) -> None:
            nonlocal started, failed
            if message["type"] == "lifespan.startup.complete":
                started = True
                settle_heap()
                self.started()
            if message["type"] == "lifespan.startup.failed":
                failed = True
                message = {**message, "message": ""}  # the traceback: logged below
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:
            if started:
                raise
            log.debug("the server could not start", exc_info=exc)
            self.report(failure_line(exc))
            if not failed:  # else uvicorn would log the traceback itself
                await send({"type": "lifespan.startup.failed", "message": ""})


# uvicorn's lines about starting and stopping processes, which langstar's own replace:
# shown at debug level only.
_UVICORN_STARTUP = re.compile(
    r"^(Started server process|Waiting for application startup|Application startup|"
    r"Started parent process|Waiting for child process|Child process \[\d+\] failed to start|"
    r"Stopping parent process)"
)


def _not_startup_chatter(record: logging.LogRecord) -> bool:
    return _UVICORN_STARTUP.match(record.getMessage()) is None


def quiet_uvicorn(level: str) -> None:
    """Below debug level, leave out uvicorn's start-up lines."""
    logger = logging.getLogger("uvicorn.error")
    if level != "debug" and _not_startup_chatter not in logger.filters:
        logger.addFilter(_not_startup_chatter)


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


# Start-up checks: what can fail to load is loaded here, before PostgreSQL or a worker starts.


def check_project(settings: Settings, *, with_app: bool) -> None:
    """Load what the settings and the project name, so that what cannot load stops `serve`
    at once with one line: the graphs, the project's auth, its app (`with_app`; a single
    process builds it next anyway), the model, the store, the checkpointer, the encryption.
    """
    from langstar.graphs.factory import GraphLoadError

    try:
        check_graphs(settings)
    except GraphLoadError as exc:
        cause = exc.__cause__
        line = f"langstar: {exc}: {describe(cause)}" if cause else f"langstar: {exc}"
        raise CannotServeError(line, exc) from None
    for verb, key, project_key, check in _checks(settings, with_app=with_app):
        try:
            check()
        except Exception as exc:
            subject = _origin(settings, key, project_key)
            raise CannotServeError(
                f"langstar: cannot {verb} {subject}: {describe(exc)}", exc
            ) from None


def _checks(
    settings: Settings, *, with_app: bool
) -> Iterator[tuple[str, str, str, Callable[[], object]]]:
    """(what it does, the setting, its langgraph.json key, the check) for each thing the
    settings name."""
    from langstar.auth.project import load_auth
    from langstar.db.encryption import load_encryption
    from langstar.models.providers import build_chat_model

    cwd = Path.cwd()
    auth = settings.auth
    if auth.mode == "project" and auth.project_auth:
        yield "load", "auth.project_auth", "auth.path", lambda: load_auth(auth.project_auth, cwd)
    if auth.mode == "custom":
        yield "load", "auth.provider", "", lambda: custom_auth_provider(settings)
    if settings.http.app and with_app:
        yield "load", "http.app", "http.app", lambda: project_app(settings.http)
    model = f"use {settings.model.provider!r} as"
    yield model, "model.provider", "", lambda: build_chat_model(settings.model)
    if settings.store.path:
        yield "load", "store.path", "store.path", lambda: load_object(settings.store.path, cwd)
    elif settings.store.embedding_dims:
        yield _embeddings_check(settings)
    if settings.database.checkpointer:
        spec = settings.database.checkpointer
        yield "load", "database.checkpointer", "checkpointer.path", lambda: load_object(spec, cwd)
    if settings.database.encryption:
        base = Path(settings.graphs_from).parent
        yield (
            "load",
            "database.encryption",
            "encryption.path",
            lambda: load_encryption(settings.database.encryption, base),
        )


def _embeddings_check(settings: Settings) -> tuple[str, str, str, Callable[[], object]]:
    """The store's embeddings: a function of the project's, or an endpoint's model."""
    from langstar.models.providers import build_embeddings

    store = settings.store
    if store.embedding_function:
        return "load", "store.embedding_function", "store.index", lambda: build_embeddings(store)
    verb = f"use {store.embedding_model!r} as"
    return verb, "store.embedding_model", "store.index", lambda: build_embeddings(store)


def _origin(settings: Settings, key: str, project_key: str) -> str:
    """How a setting was given: by the project's langgraph.json, a variable, or settings."""
    if project_key and settings.graphs_from:
        section, _, option = project_key.partition(".")
        given = read_project(settings.graphs_from).config.get(section)
        if isinstance(given, dict) and given.get(option):
            return f"{project_key} in {Path(settings.graphs_from).expanduser().resolve()}"
    variable = ENV_PREFIX + key.replace(".", "__").upper()
    return f"{key} ({variable})" if variable in os.environ else key


def describe(exc: BaseException) -> str:
    """Why something could not load, where: `file:line: Error: message`, or the message
    of langstar's own error when it is the whole story."""
    root = _root(exc)
    if isinstance(root, SyntaxError) and root.filename:
        return f"{root.filename}:{root.lineno}: {type(root).__name__}: {root.msg}"
    if isinstance(root, FileNotFoundError) and root.filename:
        return f"no such file {root.filename}{_did_you_mean(str(root.filename))}"
    module = type(root).__module__
    if isinstance(root, LoadError) or module == "langstar" or module.startswith("langstar."):
        return str(root)
    where = _user_frame(root.__traceback__)
    message = f"{type(root).__name__}: {root}"
    return f"{where}: {message}" if where else message


def _root(exc: BaseException) -> BaseException:
    """The error at the bottom: through exception groups, explicit causes, and errors a
    handler replaced (`raise ... from None`); a LoadError without a cause is the bottom."""
    while True:
        if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
            exc = exc.exceptions[0]
            continue
        below = _below(exc)
        if below is None:
            return exc
        exc = below


def _below(exc: BaseException) -> BaseException | None:
    below = exc.__cause__
    if below is None and exc.__suppress_context__ and not isinstance(exc, LoadError):
        below = exc.__context__
    return below


def _did_you_mean(missing: str) -> str:
    path = Path(missing)
    try:
        names = [p.name for p in path.parent.iterdir() if p.suffix == path.suffix]
    except OSError:
        return ""
    close = difflib.get_close_matches(path.name, names, n=1, cutoff=0.8)
    return f" (did you mean {close[0]}?)" if close else ""


def _user_frame(tb: TracebackType | None) -> str:
    """`file:line` where an import or a call raised: the last frame in the project's code,
    else in an installed library's (never Python's own modules or langstar's)."""
    ours = str(Path(__file__).parent)
    libraries = (sys.prefix, sys.base_prefix)
    project = library = ""
    for frame, line in traceback.walk_tb(tb):
        name = frame.f_code.co_filename
        if name.startswith(("<", ours)):
            continue
        if any(part.endswith("-packages") for part in Path(name).parts):
            library = f"{name}:{line}"
        elif not name.startswith(libraries):  # Python's own modules are left out
            project = f"{name}:{line}"
    return project or library


def listening_socket(settings: Settings) -> socket.socket:
    """The server's socket, bound before anything else starts: a port already in use
    stops `serve` with one line naming it."""
    host, port = settings.server.host, settings.server.port
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        change = "--port or server.port (LANGSTAR_SERVER__PORT)"
        if exc.errno == errno.EADDRINUSE:
            line = f"port {port} on {host} is already in use: stop what holds it, or set {change}"
        else:
            line = f"cannot listen on {host}:{port}: {exc.strerror}; check --host and {change}"
        raise CannotServeError(f"langstar: {line}", exc) from None
    sock.set_inheritable(True)
    return sock


@contextlib.contextmanager
def workers_watched(folder: Path, stop: threading.Event, say: Callable[[], None]) -> Iterator[None]:
    """`say` (where the API is) once a worker has started; `stop` set as soon as one
    cannot start (uvicorn's supervisor would notice it gone only after its health check
    times out)."""
    done = threading.Event()

    def watch() -> None:
        said = False
        while not done.wait(0.1):
            if (folder / FAILURE_FILE).is_file():
                stop.set()
                return
            if not said and (folder / STARTED_FILE).is_file():
                said = True
                say()

    thread = threading.Thread(target=watch, name="langstar-workers-watch", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
