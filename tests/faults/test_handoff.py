"""No run lost to a deploy or a crash: three replicas on one database behind nginx, the
official SDK as the client (resumable and live streams, waits, joins), a rolling restart
as an orchestrator does it (SIGTERM with SIGKILL after a grace, and one replica
SIGKILLed), a run that crashes every replica that takes it, and a replica paused past its
lease (SIGSTOP) that comes back.

The graph keeps a ledger of every step it starts, per thread, so each test counts how
often each step ran: a step whose checkpoint was written never runs again."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from langgraph_sdk import get_client

from tests.support import nginx
from tests.support.postgres import PostgresForTests
from tests.support.receiver import webhook_receiver
from tests.support.server import ServerProcess
from tests.support.steps import NAMES, runs_of_each_step

pytestmark = pytest.mark.skipif(not nginx.available(), reason="needs Debian's nginx")

DELAY = 0.8  # seconds a step takes
SETTINGS = {
    "LANGSTAR_GRAPHS__STEPS": "tests.support.steps:graph",
    "LANGSTAR_RUNS__LEASE_SECONDS": "3",
    "LANGSTAR_SERVER__SHUTDOWN_GRACE_SECONDS": "1",
    "LANGSTAR_DATABASE__POLL_SECONDS": "0.5",
}


@pytest.fixture
def database(postgres: PostgresForTests) -> Iterator[str]:
    with postgres.migrated("handoff") as url:
        yield url


class Cluster:
    """Replicas of langstar on one database, behind nginx, sharing a step ledger."""

    def __init__(self, url: str, folder: Path, count: int, **settings: str) -> None:
        self.ledger = folder / "ledger.txt"
        self.ledger.touch()
        env = {
            "DATABASE_URL": url,
            "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
            "STEPS_LEDGER": str(self.ledger),
            **SETTINGS,
            **settings,
        }
        self.replicas = [ServerProcess(env, folder) for _ in range(count)]
        self.database = url
        self.folder = folder

    def start(self, stack: ExitStack) -> Cluster:
        """Start every replica, each stopped when `stack` closes."""
        for replica in self.replicas:
            replica.start()
            stack.callback(replica.stop)
        return self

    def pid(self, index: int) -> int:
        proc = self.replicas[index].proc
        assert proc is not None
        return proc.pid

    def stop(self, index: int, *, kill: bool = False, grace: float = 5.0) -> float:
        """Stop one replica as an orchestrator does; returns how long it took to exit."""
        proc = self.replicas[index].proc
        assert proc is not None
        began = time.monotonic()
        proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        return time.monotonic() - began

    def in_flight(self) -> int:
        with psycopg.connect(self.database) as conn:
            row = conn.execute(
                "SELECT count(*) FROM runs WHERE status IN ('pending', 'running')"
            ).fetchone()
        return int(row[0]) if row else 0

    def busy_threads(self) -> int:
        with psycopg.connect(self.database) as conn:
            row = conn.execute("SELECT count(*) FROM threads WHERE status = 'busy'").fetchone()
        return int(row[0]) if row else 0


@pytest.fixture
def cluster(database: str, tmp_path: Path) -> Iterator[tuple[Cluster, str]]:
    """Three replicas behind nginx; yields them and nginx's URL."""
    made = Cluster(database, tmp_path, 3)
    with ExitStack() as stack:
        made.start(stack)
        upstreams = [f"127.0.0.1:{replica.port}" for replica in made.replicas]
        url = stack.enter_context(nginx.balancer(upstreams, tmp_path / "nginx"))
        yield made, url


def steps_streamed(parts: list[Any]) -> list[str]:
    """The steps a stream of `updates` told of, in order."""
    return [name for part in parts if part.event == "updates" for name in part.data]


async def follow(url: str, thread: str, how: str) -> dict[str, Any]:
    """One run, followed as a client does: streamed (resumable), waited for, or started
    in the background and joined."""
    sdk = get_client(url=url)
    run_input = {"done": []}
    context = {"delay": DELAY}
    if how in ("stream", "live"):
        parts = [
            part
            async for part in sdk.runs.stream(
                thread, "steps", input=run_input, context=context,
                stream_mode="updates", stream_resumable=how == "stream",
            )
        ]  # fmt: skip
        return {"streamed": steps_streamed(parts)}
    if how == "wait":
        return {"values": await sdk.runs.wait(thread, "steps", input=run_input, context=context)}
    run = await sdk.runs.create(thread, "steps", input=run_input, context=context)
    for _ in range(3):  # the replica serving the join may itself be restarted
        try:
            return {"values": await sdk.runs.join(thread, run["run_id"])}
        except httpx.HTTPError:
            await asyncio.sleep(1)
    return {"values": await sdk.runs.join(thread, run["run_id"])}


def rolling_restart(cluster: Cluster) -> list[float]:
    """Each replica in turn, as an orchestrator rolls a deploy: the first and last get
    SIGTERM (SIGKILL 5 s later if still up), the middle one SIGKILL; each starts again."""
    time.sleep(2 * DELAY)  # every run has begun
    exits = []
    for index, kill in ((0, False), (1, True), (2, False)):
        exits.append(cluster.stop(index, kill=kill))
        cluster.replicas[index].start()
    return exits


async def test_a_rolling_restart_with_a_sigkill_loses_no_run_and_reruns_no_written_step(
    cluster: tuple[Cluster, str],
) -> None:
    replicas, url = cluster
    sdk = get_client(url=url)
    hows = ["stream", "live", "wait", "background"] * 3
    threads = [str((await sdk.threads.create())["thread_id"]) for _ in hows]
    clients = [
        asyncio.create_task(follow(url, t, how)) for t, how in zip(threads, hows, strict=True)
    ]
    exits = await asyncio.to_thread(rolling_restart, replicas)
    results = await asyncio.wait_for(asyncio.gather(*clients), timeout=120)

    # SIGTERM: drained within the grace (1 s) plus the hand-off, not cut by SIGKILL.
    assert max(exits[0], exits[2]) < 5, exits
    for thread, how, result in zip(threads, hows, results, strict=True):
        runs = await sdk.runs.list(thread)
        assert [run["status"] for run in runs] == ["success"], (thread, runs)
        if how == "stream":
            assert result["streamed"] == NAMES, (thread, result)  # each step once, in order
        elif how == "live":
            # Not resumable: after a reconnect, what comes from then on, live; each step at
            # most once, in order (what happened while it reconnected is not replayed).
            streamed = result["streamed"]
            assert streamed, (thread, result)
            assert streamed == sorted(set(streamed)), (thread, result)
            assert set(streamed) <= set(NAMES), (thread, result)
        else:
            values = (await sdk.threads.get(thread))["values"]
            assert result["values"].get("done") == NAMES, (thread, how, result, values, runs)
    ran = runs_of_each_step(replicas.ledger)
    for thread in threads:
        counts = ran[thread]
        assert set(counts) == set(NAMES)
        # Only the step in flight when its server stopped or died runs again.
        assert sum(counts.values()) - len(NAMES) <= 2, (thread, counts)
    assert replicas.in_flight() == 0
    assert replicas.busy_threads() == 0


async def test_a_run_that_keeps_crashing_its_server_fails_naming_its_attempts(
    database: str, tmp_path: Path
) -> None:
    replicas = Cluster(database, tmp_path, 3, LANGSTAR_RUNS__MAX_ATTEMPTS="2")
    with ExitStack() as stack:
        replicas.start(stack)
        sdk = get_client(url=replicas.replicas[0].url)
        thread = (await sdk.threads.create())["thread_id"]
        run = await sdk.runs.create(thread, "steps", input={"done": []}, context={"crash": 1})
        ended = await until_ended(replicas, thread, run["run_id"])
        assert ended["status"] == "error"
        dead = [r for r in replicas.replicas if r.proc and r.proc.poll() is not None]
        assert len(dead) == 2  # each attempt took its server down
        alive = next(r for r in replicas.replicas if r not in dead)
        error = (await get_client(url=alive.url).threads.get(thread))["error"]
    assert error["error"] == "RunLost"
    assert "2 attempt(s)" in error["message"]
    assert runs_of_each_step(replicas.ledger)[str(thread)]["step1"] == 2


async def until_ended(replicas: Cluster, thread: str, run_id: str) -> dict[str, Any]:
    """The run once it has ended, asked of whichever replica is still up."""
    for _ in range(240):
        for replica in replicas.replicas:
            if replica.proc is None or replica.proc.poll() is not None:
                continue
            try:
                found = await get_client(url=replica.url).runs.get(thread, run_id)
            except httpx.HTTPError:
                continue  # it died meanwhile
            if found["status"] not in ("pending", "running"):
                return dict(found)
            break
        await asyncio.sleep(0.25)
    raise AssertionError("the run never ended")


async def test_a_replica_paused_past_its_lease_writes_nothing_once_another_took_its_run(
    database: str, tmp_path: Path
) -> None:
    replicas = Cluster(database, tmp_path, 2)
    with ExitStack() as stack:
        replicas.start(stack)
        first, second = (get_client(url=r.url) for r in replicas.replicas)
        thread = (await first.threads.create())["thread_id"]
        run = await first.runs.create(thread, "steps", input={"done": []}, context={"delay": 1.5})
        await asyncio.sleep(2)  # in its second step
        os.kill(replicas.pid(0), signal.SIGSTOP)
        try:
            done = await asyncio.wait_for(second.runs.join(thread, run["run_id"]), timeout=60)
        finally:
            os.kill(replicas.pid(0), signal.SIGCONT)
        assert done["done"] == NAMES
        await asyncio.sleep(3)  # the paused replica wakes, and finds its run taken
        state = await second.threads.get_state(thread)
        assert state["values"]["done"] == NAMES  # nothing written over the other's work
        history = await second.threads.get_history(thread, limit=100)
        written = [h["metadata"].get("step") for h in history]
        assert len(written) == len(set(written)), written  # no step written twice
        ran = await second.runs.get(thread, run["run_id"])
        assert ran["status"] == "success"
    assert "taken over by another server" in replicas.replicas[0].read_log()
    assert replicas.busy_threads() == 0


def cluster_gauge(text: str) -> dict[str, float]:
    """`langstar_cluster_runs` from a scrape, by status."""
    found = {}
    for line in text.splitlines():
        if line.startswith("langstar_cluster_runs{"):
            labels, _, value = line.rpartition(" ")
            found[labels.split('status="')[1].split('"')[0]] = float(value)
    return found


async def test_every_replica_reports_the_whole_clusters_runs_in_flight(
    database: str, tmp_path: Path
) -> None:
    replicas = Cluster(database, tmp_path, 2)
    with ExitStack() as stack:
        replicas.start(stack)
        sdk = get_client(url=replicas.replicas[0].url)
        first, second = [(await sdk.threads.create())["thread_id"] for _ in range(2)]
        slow = {"input": {"done": []}, "context": {"delay": 5}}
        for thread in (first, second, first):  # two running, one queued behind the first
            await sdk.runs.create(thread, "steps", multitask_strategy="enqueue", **slow)
        with psycopg.connect(database) as conn:
            counted = dict(
                conn.execute(
                    "SELECT status, count(*)::float FROM runs "
                    "WHERE status IN ('pending', 'running') GROUP BY status"
                ).fetchall()
            )
        assert counted == {"running": 2.0, "pending": 1.0}
        async with httpx.AsyncClient(timeout=10) as http:
            for replica in replicas.replicas:
                scraped = (await http.get(replica.url + "/metrics")).text
                assert cluster_gauge(scraped) == counted, replica.url


async def test_a_handed_off_runs_webhook_fires_once_at_its_real_end(
    database: str, tmp_path: Path
) -> None:
    replicas = Cluster(database, tmp_path, 2, LANGSTAR_WEBHOOKS__ALLOW_PRIVATE="true")
    with ExitStack() as stack, webhook_receiver() as receiver:
        replicas.start(stack)
        first, second = (get_client(url=r.url) for r in replicas.replicas)
        thread = (await first.threads.create())["thread_id"]
        run = await first.runs.create(
            thread, "steps", input={"done": []}, context={"delay": DELAY}, webhook=receiver.url
        )
        await asyncio.sleep(2 * DELAY)
        assert replicas.stop(0) < 5  # SIGTERM: handed off, no end recorded, no webhook
        done = await asyncio.wait_for(second.runs.join(thread, run["run_id"]), timeout=60)
        assert done["done"] == NAMES
        for _ in range(40):
            if receiver.received:
                break
            await asyncio.sleep(0.25)
        await asyncio.sleep(2)  # time for a second delivery, if there were one
    [sent] = receiver.received
    payload = sent.json
    assert (payload["run_id"], payload["status"]) == (run["run_id"], "success")
    assert payload["values"]["done"] == NAMES


async def test_runs_waiting_their_turn_are_handed_off_too_and_run_in_order_elsewhere(
    database: str, tmp_path: Path
) -> None:
    replicas = Cluster(database, tmp_path, 2)
    with ExitStack() as stack:
        replicas.start(stack)
        first, second = (get_client(url=r.url) for r in replicas.replicas)
        thread = (await first.threads.create())["thread_id"]
        runs = [
            await first.runs.create(
                thread, "steps", input={"done": []}, context={"delay": DELAY},
                stream_resumable=True, multitask_strategy="enqueue",
            )
            for _ in range(2)
        ]  # fmt: skip
        await asyncio.sleep(2 * DELAY)  # the first is running, the second waits its turn
        assert replicas.stop(0) < 5
        for run in runs:
            done = await asyncio.wait_for(second.runs.join(thread, run["run_id"]), timeout=60)
            assert done["done"][-len(NAMES) :] == NAMES
        statuses = [(await second.runs.get(thread, r["run_id"]))["status"] for r in runs]
        assert statuses == ["success", "success"]
        # The waiting one's stored events go on after its first attempt's, once each.
        parts = [
            p async for p in second.runs.join_stream(thread, runs[1]["run_id"], last_event_id="0")
        ]
        assert len([p for p in parts if p.event == "metadata"]) == 2
