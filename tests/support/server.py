"""A real `langstar serve` process on a free port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    def __init__(self, env: Mapping[str, str], cwd: Path, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # An open server on DATABASE_URL must say so; tests that test auth set their own mode.
        # One process, unless a test asks for workers: most tests need only one, and a
        # worker each costs a start-up.
        defaults = {"LANGSTAR_AUTH__MODE": "none", "LANGSTAR_SERVER__WORKERS": "1"}
        self._env = {**os.environ, **defaults, **env}
        self._cwd = cwd
        self._args = args
        self.proc: subprocess.Popen[str] | None = None
        self.output = ""

    def start(self, timeout: float = 90) -> ServerProcess:
        log = open(self._cwd / f"server-{self.port}.log", "a")  # noqa: SIM115  # restarts add
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "langstar", "serve", "--port", str(self.port), *self._args],
            env=self._env,
            cwd=self._cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.read_log()}")
            try:
                if httpx.get(self.url + "/ok", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"server did not start:\n{self.read_log()}")

    def read_log(self) -> str:
        return (self._cwd / f"server-{self.port}.log").read_text()

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        self.proc.terminate()
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()
