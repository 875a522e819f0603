"""`langstar serve --workers N`: N processes on one port, one database, one set of metrics."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.server import ServerProcess

BODY = {
    "assistant_id": "agent",
    "input": {"messages": [{"role": "user", "content": "hi"}]},
    "if_not_exists": "create",
}


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def workers_of(pid: int) -> list[int]:
    """The worker processes (not multiprocessing's resource tracker)."""
    return [
        child
        for child in children(pid)
        if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()
    ]


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def wait_run(url: str) -> int:
    response = httpx.post(f"{url}/threads/{uuid.uuid4()}/runs/wait", json=BODY, timeout=60)
    return response.status_code


def runs_total(url: str) -> float:
    text = httpx.get(url + "/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        if family.name == "langstar_runs":
            return sum(s.value for s in family.samples if s.labels.get("status") == "success")
    return 0.0


def postmasters(pgdata: Path) -> int:
    """PostgreSQL servers running on this data directory."""
    found = 0
    for proc in Path("/proc").iterdir():
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except (OSError, NotADirectoryError):
            continue
        found += (
            args[:1] != [b""] and args[0].endswith(b"/postgres") and str(pgdata).encode() in args
        )
    return found


@pytest.mark.timeout(300)
def test_workers_share_one_port_one_embedded_database_and_their_metrics(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    env = {"LANGSTAR_DATA_DIR": str(data), "DATABASE_URL": "", "LANGSTAR_SERVER__WORKERS": "2"}
    server = ServerProcess(env, tmp_path).start()
    assert server.proc is not None
    try:
        workers = workers_of(server.proc.pid)
        assert len(workers) == 2, server.read_log()
        assert postmasters(data / "pgdata") == 1  # started once, by the parent
        before = {pid: cpu_ticks(pid) for pid in workers}
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda _: wait_run(server.url), range(120)))
        assert statuses == [200] * 120
        # The kernel spreads the connections over the workers: each served some of them.
        assert all(cpu_ticks(pid) - before[pid] > 20 for pid in workers), (before, workers)
        # Any worker's scrape counts every worker's runs.
        assert [runs_total(server.url) for _ in range(6)] == [120.0] * 6
    finally:
        assert server.stop() in (0, -signal.SIGTERM), server.read_log()
    log = server.read_log()
    assert "2 worker processes" in log
    assert log.count("Application shutdown complete") == 2
    assert postmasters(data / "pgdata") == 0
    assert all(not alive(pid) for pid in workers)


@pytest.mark.timeout(180)
def test_workers_stop_when_their_parent_is_killed(migrated_url: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": migrated_url, "LANGSTAR_SERVER__WORKERS": "2"}
    server = ServerProcess(env, tmp_path).start()
    assert server.proc is not None
    workers = workers_of(server.proc.pid)
    assert len(workers) == 2
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait()
    deadline = time.monotonic() + 30
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(alive(pid) for pid in workers), "orphaned workers kept serving"


def test_a_bad_number_of_workers_is_refused(tmp_path: Path) -> None:
    for flag, setting in (("--workers=-1", None), (None, "257")):
        env = {**os.environ, "LANGSTAR_AUTH__MODE": "none"}
        if setting is not None:
            env["LANGSTAR_SERVER__WORKERS"] = setting
        args = [sys.executable, "-m", "langstar", "serve", *([flag] if flag else [])]
        done = subprocess.run(args, env=env, cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == 2, done.stderr
        assert "server.workers" in done.stderr
