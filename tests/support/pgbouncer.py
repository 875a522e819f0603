"""A real PgBouncer in front of the test PostgreSQL, started from a config file of its own."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from tests.support.server import free_port

BINARY = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"


def available() -> bool:
    return os.access(BINARY, os.X_OK)


class PgBouncer:
    """PgBouncer listening on a free local port, forwarding to the server `admin_url` names.

    It reaches PostgreSQL as `admin_url`'s user, over its unix socket (`?host=/dir`) or
    TCP, and lets any client in (`auth_type = trust`). PgBouncer refuses to run as root:
    then it runs as the owner of the socket directory (who can reach the socket), or
    `nobody` over TCP.
    """

    def __init__(self, admin_url: str, *, mode: str = "transaction", pool_size: int = 20) -> None:
        self.port = free_port()
        # Not under pytest's base directory, which the user PgBouncer runs as may not enter.
        self.folder = Path(tempfile.mkdtemp(prefix="langstar-pgbouncer-"))
        self._target = urlsplit(admin_url)
        self._mode = mode
        self._pool_size = pool_size
        self.proc: subprocess.Popen[bytes] | None = None

    def url(self, database_url: str) -> str:
        """`database_url`'s database, reached through this PgBouncer."""
        name = urlsplit(database_url).path.lstrip("/")
        user = self._target.username or "postgres"
        return f"postgresql://{user}@127.0.0.1:{self.port}/{name}"

    def _server(self) -> str:
        query = parse_qs(self._target.query)
        host = query.get("host", [self._target.hostname or "127.0.0.1"])[0]
        port = self._target.port or int(query.get("port", ["5432"])[0])
        user = self._target.username or "postgres"
        parts = [f"host={host}", f"port={port}", f"user={user}"]
        if self._target.password:
            parts.append(f"password={unquote(self._target.password)}")
        return " ".join(parts)

    def _run_as(self) -> str | None:
        if os.geteuid() != 0:
            return None
        host = parse_qs(self._target.query).get("host", [""])[0]
        if host.startswith("/"):
            return pwd.getpwuid(Path(host).stat().st_uid).pw_name
        return "nobody"

    def start(self) -> PgBouncer:
        user = self._target.username or "postgres"
        (self.folder / "users.txt").write_text(f'"{user}" ""\n')
        config = self.folder / "pgbouncer.ini"
        config.write_text(
            "[databases]\n"
            f"* = {self._server()}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            "unix_socket_dir =\n"
            "auth_type = trust\n"
            f"auth_file = {self.folder / 'users.txt'}\n"
            f"pool_mode = {self._mode}\n"
            f"default_pool_size = {self._pool_size}\n"
            "max_client_conn = 1000\n"
            "query_wait_timeout = 60\n"
            # Retry a server login soon after PostgreSQL restarts (the default waits 15 s).
            "server_login_retry = 1\n"
            "ignore_startup_parameters = extra_float_digits,options\n"
            f"logfile = {self.folder / 'pgbouncer.log'}\n"
        )
        args = [BINARY]
        if user_name := self._run_as():
            for path in (self.folder, *self.folder.iterdir()):
                shutil.chown(path, user_name)
            args += ["-u", user_name]
        self.proc = subprocess.Popen([*args, str(config)], stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pgbouncer exited early:\n{self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"pgbouncer did not listen:\n{self.log()}")

    def log(self) -> str:
        path = self.folder / "pgbouncer.log"
        return path.read_text() if path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.folder, ignore_errors=True)
