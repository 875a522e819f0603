"""`langgraph dev`: LangGraph's own in-memory Agent Server, as a reference to compare with."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support.server import ServerProcess, free_port


@contextmanager
def langgraph_dev(project: Path, config: str = "langgraph.json") -> Iterator[str]:
    """Serve the project in `project` (its `config`); yields its URL."""
    port = free_port()
    binary = shutil.which("langgraph", path=os.path.dirname(sys.executable))
    assert binary, "langgraph-cli is a dev dependency"
    log = open(project / "langgraph-dev.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [binary, "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1", "--port", str(port),
         "--n-jobs-per-worker", "20", "--config", config],
        cwd=project,
        env={**os.environ, "LANGSMITH_TRACING": "false", "LANGGRAPH_CLI_NO_ANALYTICS": "1"},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, (project / "langgraph-dev.log").read_text()
        try:
            if httpx.get(url + "/ok", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    else:
        pytest.fail("langgraph dev did not start:\n" + (project / "langgraph-dev.log").read_text())
    try:
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


@contextmanager
def beside_langgraph_dev(
    project: Path, env: Mapping[str, str], config: str = "langgraph.json"
) -> Iterator[tuple[ServerProcess, str]]:
    """`langstar serve` (with `env`) and `langgraph dev` on the same project's `config`:
    langstar's process, and the reference's URL."""
    server = ServerProcess(env, project, "--langgraph-json", str(project / config)).start()
    try:
        with langgraph_dev(project, config) as reference:
            yield server, reference
    finally:
        server.stop()
