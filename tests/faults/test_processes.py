"""Real server processes on one database: SIGTERM, SIGKILL, and two replicas side by side."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.support.graphs import TEST_GRAPHS
from tests.support.postgres import PostgresForTests
from tests.support.server import ServerProcess
from tests.support.sse import parse

GRAPHS = {f"LANGSTAR_GRAPHS__{name.upper()}": spec for name, spec in TEST_GRAPHS.items()}


@pytest.fixture
def database(postgres: PostgresForTests) -> Iterator[str]:
    from langstar.db import migrations
    from tests.support.settings import settings_for

    url = postgres.create_database("faults")
    migrations.upgrade(url, settings_for(url))
    yield url
    postgres.drop_database(url)


def server(url: str, cwd: Path, **settings: str) -> ServerProcess:
    env = {"DATABASE_URL": url, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), **GRAPHS}
    env.update({f"LANGSTAR_{k.upper()}": v for k, v in settings.items()})
    return ServerProcess(env, cwd).start()


def nap(seconds: float, text: str = "z", **extra: Any) -> dict[str, Any]:
    return {
        "assistant_id": "slow",
        "input": {"messages": [{"role": "user", "content": text}]},
        "context": {"delay": seconds},
        **extra,
    }


def run_status(client: httpx.Client, thread: str, run: str) -> str:
    return str(client.get(f"/threads/{thread}/runs/{run}").json()["status"])


def wait_for(check: Any, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.1)
    raise AssertionError("gave up waiting")


def test_sigterm_fails_readiness_finishes_short_runs_and_hands_long_ones_off(
    database: str, tmp_path: Path
) -> None:
    first = server(database, tmp_path, SERVER__SHUTDOWN_GRACE_SECONDS="2")
    assert first.proc is not None
    with httpx.Client(base_url=first.url, timeout=30) as c:
        short_thread = c.post("/threads", json={}).json()["thread_id"]
        long_thread = c.post("/threads", json={}).json()["thread_id"]
        short = c.post(f"/threads/{short_thread}/runs", json=nap(1)).json()["run_id"]
        long = c.post(f"/threads/{long_thread}/runs", json=nap(6)).json()["run_id"]
        wait_for(lambda: run_status(c, long_thread, long) == "running")
        stopped_at = time.monotonic()
        first.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        # Not ready at once, so a load balancer stops sending work; still serving.
        assert c.get("/ready").status_code == 503
        assert c.get("/ok").status_code == 200
    # uvicorn shuts down gracefully, then re-raises the signal it caught.
    assert first.proc.wait(timeout=30) in (0, -signal.SIGTERM)
    assert "handed 1 of 1 run(s) off" in first.read_log()
    assert time.monotonic() - stopped_at < 2 + 8  # the grace, the hand-off, the exit

    # Neither failed nor interrupted: queued for any server, which resumes it.
    with psycopg.connect(database) as conn:
        row = conn.execute("SELECT status, worker FROM runs WHERE run_id = %s", (long,))
        assert row.fetchone() == ("pending", None)
    second = server(database, tmp_path)
    try:
        with httpx.Client(base_url=second.url, timeout=30) as c:
            assert run_status(c, short_thread, short) == "success"
            wait_for(lambda: run_status(c, long_thread, long) == "success", timeout=30)
            state = c.get(f"/threads/{long_thread}/state").json()
            assert state["values"]["messages"][-1]["content"] == "slept 6.0"
    finally:
        second.stop()


def test_sigkill_mid_run_is_resumed_by_another_server_not_left_running(
    database: str, tmp_path: Path
) -> None:
    first = server(database, tmp_path, RUNS__LEASE_SECONDS="3")
    assert first.proc is not None
    with httpx.Client(base_url=first.url, timeout=30) as c:
        thread = c.post("/threads", json={}).json()["thread_id"]
        running = c.post(f"/threads/{thread}/runs", json=nap(2)).json()["run_id"]
        queued = c.post(f"/threads/{thread}/runs", json=nap(0, "queued")).json()["run_id"]
        wait_for(lambda: run_status(c, thread, running) == "running")
    os.kill(first.proc.pid, signal.SIGKILL)
    first.proc.wait(timeout=10)

    second = server(database, tmp_path, RUNS__LEASE_SECONDS="3")
    try:
        with httpx.Client(base_url=second.url, timeout=30) as c:
            # Its lease lapses; the second server queues it again and resumes it.
            wait_for(lambda: run_status(c, thread, running) == "success", timeout=30)
            wait_for(lambda: run_status(c, thread, queued) == "success", timeout=30)
            done = c.get(f"/threads/{thread}").json()
            assert done["status"] == "idle"
            assert done["values"]["messages"][-1]["content"] == "slept 0.0"
        with psycopg.connect(database) as conn:
            row = conn.execute("SELECT attempt FROM runs WHERE run_id = %s", (running,))
            assert row.fetchone() == (2,)
    finally:
        second.stop()


def test_two_replicas_share_runs_through_the_database(database: str, tmp_path: Path) -> None:
    a, b = server(database, tmp_path), server(database, tmp_path)
    try:
        with (
            httpx.Client(base_url=a.url, timeout=30) as on_a,
            httpx.Client(base_url=b.url, timeout=30) as on_b,
        ):
            thread = on_a.post("/threads", json={}).json()["thread_id"]
            # A resumable run executing on A, streamed from B as it goes.
            run = on_a.post(
                f"/threads/{thread}/runs",
                json=nap(1.5, stream_mode=["values", "updates"], stream_resumable=True),
            ).json()["run_id"]
            streamed = on_b.get(f"/threads/{thread}/runs/{run}/stream")
            events = [e.event for e in parse(streamed.text)]
            assert "updates" in events
            assert events[-1] == "values"
            assert run_status(on_b, thread, run) == "success"

            # A run that keeps no events is still joined from B: its final values arrive.
            plain = on_a.post(f"/threads/{thread}/runs", json=nap(1, "plain")).json()["run_id"]
            joined = on_b.get(f"/threads/{thread}/runs/{plain}/join").json()
            assert joined["messages"][-1]["content"] == "slept 1.0"
            plain_stream = on_b.get(f"/threads/{thread}/runs/{plain}/stream")
            [final] = parse(plain_stream.text)
            assert final.event == "values"

            # A cancel sent to B stops the run on A.
            doomed = on_a.post(f"/threads/{thread}/runs", json=nap(60)).json()["run_id"]
            wait_for(lambda: run_status(on_b, thread, doomed) == "running")
            assert on_b.post(f"/threads/{thread}/runs/{doomed}/cancel").status_code == 202
            assert wait_for(lambda: run_status(on_a, thread, doomed) == "interrupted")
            # Each run ran once: one row each, none left in flight.
            runs = on_b.get(f"/threads/{thread}/runs").json()
            assert sorted(r["status"] for r in runs) == ["interrupted", "success", "success"]
    finally:
        a.stop()
        b.stop()
