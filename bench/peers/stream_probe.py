"""Streaming from any server of the Agent Server API that serves `stream_graph.py`'s graphs.

    python stream_probe.py URL SERVER_PID N

First five `fast` runs, one after another: the median time to the first `messages` event
and to the end of the stream. Then N `slow` runs streamed at once: how many streams ended
without an error, in how long, the serving process's resident memory before and at its
peak (sampled every half second), and the p50 and p99 gaps between successive `messages`
events of a stream (the model sends one every 50 ms). Prints two lines the bench reads:

    fast: first messages event median F ms, whole 200-token stream median W ms, events E
    slow xN: ok K/N in T s; RSS B -> peak P MB; event gap p50 G ms p99 H ms (...)

The probe is a Python process on the same cores as the server: only ratios between
servers probed in the same run mean anything.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
import uuid
from pathlib import Path

import httpx

FAST_RUNS = 5
SAMPLE_EVERY_S = 0.5
BODY = {
    "input": {"messages": [{"role": "user", "content": "hi"}]},
    "stream_mode": ["messages-tuple"],
    "if_not_exists": "create",
}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def rank(ordered: list[float], share: float) -> float:
    """The value `share` of the way through `ordered`, which must not be empty."""
    return ordered[min(int(len(ordered) * share), len(ordered) - 1)]


async def stream(
    client: httpx.AsyncClient, graph: str, gaps: list[float] | None = None
) -> tuple[float, float, int]:
    """One run streamed to its end: seconds to its first `messages` event, to its end,
    and how many `messages` events came; the gaps between them go to `gaps`."""
    started = time.perf_counter()
    first = 0.0
    previous, events = started, 0
    body = {**BODY, "assistant_id": graph}
    async with client.stream("POST", f"/threads/{uuid.uuid4()}/runs/stream", json=body) as r:
        async for line in r.aiter_lines():
            if not line.startswith("event: messages"):
                continue
            now = time.perf_counter()
            if events == 0:
                first = now - started
            elif gaps is not None:
                gaps.append(now - previous)
            previous, events = now, events + 1
    return first, time.perf_counter() - started, events


async def probe(url: str, pid: int, streams: int) -> None:
    limits = httpx.Limits(max_connections=streams + 10, max_keepalive_connections=streams + 10)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        fast = [await stream(client, "fast") for _ in range(FAST_RUNS)]
        print(
            "fast: first messages event median "
            f"{statistics.median(f[0] for f in fast) * 1000:.1f} ms, whole 200-token stream "
            f"median {statistics.median(f[1] for f in fast) * 1000:.0f} ms, events {fast[0][2]}",
            flush=True,
        )
        before = rss_mb(pid)
        rss = [before]

        async def watch_memory() -> None:
            while True:
                rss.append(rss_mb(pid))
                await asyncio.sleep(SAMPLE_EVERY_S)

        watching = asyncio.create_task(watch_memory())
        gaps: list[float] = []
        started = time.perf_counter()
        ended = await asyncio.gather(
            *(stream(client, "slow", gaps) for _ in range(streams)), return_exceptions=True
        )
        took = time.perf_counter() - started
        watching.cancel()
        errors = [e for e in ended if isinstance(e, BaseException)]
        gaps.sort()
        print(
            f"slow x{streams}: ok {streams - len(errors)}/{streams} in {took:.1f}s; "
            f"RSS {before:.0f} -> peak {max(rss):.0f} MB; event gap p50 "
            f"{rank(gaps, 0.5) * 1000:.0f} ms p99 {rank(gaps, 0.99) * 1000:.0f} ms "
            "(model emits every 50 ms)",
            flush=True,
        )
        if errors:
            print("errors:", errors[:2], flush=True)


if __name__ == "__main__":
    asyncio.run(probe(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
