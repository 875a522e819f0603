"""The gaps between token events of slow streams read on the run's own server, and on another.

Not a test: a measurement. Two `langstar serve` processes on one (embedded) database serve
the shared streaming workload (`stream_graph.py`'s `slow`: 100 chunks, one every 50 ms).
Locally, N clients stream their runs from the server that executes them; remotely, N runs
start on server A and are joined on server B, so every token crosses PostgreSQL.

    uv run python -m tests.support.stream_gaps /path/to/bench-peers [N ...]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from langstar.db import migrations
from langstar.db.embedded import EmbeddedPostgres
from tests.support.postgres import PostgresForTests
from tests.support.server import ServerProcess
from tests.support.settings import settings_for

BODY = {
    "assistant_id": "slow",
    "input": {"messages": [{"role": "user", "content": "hi"}]},
    "stream_mode": ["messages-tuple"],
    "if_not_exists": "create",
}


async def gaps_of(response: httpx.Response, gaps: list[float], asked: float) -> int:
    last, count = None, 0
    async for line in response.aiter_lines():
        if line.startswith("event: messages"):
            now = time.perf_counter()
            if last is not None:
                gaps.append(now - last)
            else:
                FIRSTS.append(now - asked)
            last, count = now, count + 1
    if last is not None:
        ENDS.append(time.perf_counter() - last)
    return count


ENDS: list[float] = []  # from each stream's last token to its end
FIRSTS: list[float] = []  # from asking for each stream to its first token


async def local(client: httpx.AsyncClient, gaps: list[float]) -> int:
    asked = time.perf_counter()
    async with client.stream("POST", f"/threads/{uuid.uuid4()}/runs/stream", json=BODY) as r:
        return await gaps_of(r, gaps, asked)


async def remote(a: httpx.AsyncClient, b: httpx.AsyncClient, gaps: list[float]) -> int:
    thread, asked = str(uuid.uuid4()), time.perf_counter()
    run = (await a.post(f"/threads/{thread}/runs", json=BODY)).json()["run_id"]
    async with b.stream("GET", f"/threads/{thread}/runs/{run}/stream") as r:
        return await gaps_of(r, gaps, asked)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] * 1000


async def measure(a_url: str, b_url: str, n: int) -> None:
    limits = httpx.Limits(max_connections=n + 10, max_keepalive_connections=n + 10)
    async with (
        httpx.AsyncClient(base_url=a_url, timeout=120, limits=limits) as a,
        httpx.AsyncClient(base_url=b_url, timeout=120, limits=limits) as b,
    ):
        for name in ("local", "remote", "local", "remote"):  # alternate: the machine drifts
            gaps: list[float] = []
            ENDS.clear()
            FIRSTS.clear()
            began = time.perf_counter()
            if name == "local":
                done = await asyncio.gather(
                    *(local(a, gaps) for _ in range(n)), return_exceptions=True
                )
            else:
                done = await asyncio.gather(
                    *(remote(a, b, gaps) for _ in range(n)), return_exceptions=True
                )
            counts = [c for c in done if isinstance(c, int)]
            failed = [repr(c) for c in done if not isinstance(c, int)]
            print(
                f"{name:6} x{n}: {len(counts)} streams, {len(failed)} failed {failed[:2]};"
                f" {sum(counts)} token events in {time.perf_counter() - began:.1f}s;"
                f" gap p50 {percentile(gaps, 0.5):.0f} ms, p99 {percentile(gaps, 0.99):.0f} ms;"
                f" first token p50 {percentile(FIRSTS, 0.5):.0f} ms,"
                f" max {percentile(FIRSTS, 1.0):.0f} ms;"
                f" last token to end p50 {percentile(ENDS, 0.5):.0f} ms,"
                f" max {percentile(ENDS, 1.0):.0f} ms",
                flush=True,
            )


def main() -> None:
    peers = Path(sys.argv[1]).resolve()
    sizes = [int(n) for n in sys.argv[2:]] or [1, 20]
    repo = Path(__file__).resolve().parents[2]
    with tempfile.TemporaryDirectory() as tmp:
        embedded = EmbeddedPostgres(Path(tmp) / "pg")
        embedded.start()
        postgres = PostgresForTests(admin_url=embedded.admin_url, embedded=embedded)
        url = postgres.create_database("gaps")
        migrations.upgrade(url, settings_for(url))
        env = {
            "DATABASE_URL": url,
            "PYTHONPATH": f"{repo}:{peers}",
            "LANGSTAR_GRAPHS__SLOW": "stream_graph:slow",
            "LANGSTAR_LOG_LEVEL": "warning",
            "LANGSTAR_LIMITS__MAX_STREAMS_PER_USER": "10000",
            "LANGSTAR_LIMITS__MAX_RUNS_PER_USER": "10000",
        }
        a, b = ServerProcess(env, Path(tmp)).start(), ServerProcess(env, Path(tmp)).start()
        try:
            for n in sizes:
                asyncio.run(measure(a.url, b.url, n))
        finally:
            for server in (a, b):
                server.stop()
                print(f"--- {server.url}:", *server.read_log().splitlines()[-15:], sep="\n")
            embedded.stop()


if __name__ == "__main__":
    main()
