"""A load generator in its own process: POST /threads/<fresh id>/runs/wait for N seconds.

    python -m bench.load URL CONNECTIONS SECONDS
    python -m bench.load URL CONNECTIONS turns TURNS

The second form holds CONNECTIONS conversations of TURNS turns each, one thread per
conversation, and reports the latency of each turn number.

Prints one JSON line: requests, errors, requests per second, p50/p99 latency in ms, and the
CPU seconds this process used, so the report can show the generator was not the limit.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
import uuid

import httpx

BODY = {
    "assistant_id": "agent",
    "input": {"messages": [{"role": "user", "content": "hi"}]},
    "if_not_exists": "create",
}


async def main(url: str, connections: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        # Warm up: the first requests pay for imports, pools and caches.
        await asyncio.gather(*(client.post(f"/threads/{uuid.uuid4()}/runs/wait", json=BODY)
                               for _ in range(connections)))  # fmt: skip
        stop = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < stop:
                started = time.perf_counter()
                response = await client.post(f"/threads/{uuid.uuid4()}/runs/wait", json=BODY)
                if response.status_code == 200:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1

        cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - began
        cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    ordered = sorted(latencies) or [0.0]
    cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / elapsed,
        "p50_ms": ordered[len(ordered) // 2] * 1000,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        "generator_cpu_share": cpu / elapsed,  # of one core
    }


async def conversations(url: str, connections: int, turns: int) -> dict[str, float]:
    """Latency by turn number: does a run get slower as its thread grows?"""
    by_turn: list[list[float]] = [[] for _ in range(turns)]
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:

        async def talk() -> None:
            thread = uuid.uuid4()
            for turn in range(turns):
                started = time.perf_counter()
                response = await client.post(f"/threads/{thread}/runs/wait", json=BODY)
                response.raise_for_status()
                by_turn[turn].append(time.perf_counter() - started)

        await asyncio.gather(*(talk() for _ in range(connections)))
    p50 = [sorted(times)[len(times) // 2] * 1000 for times in by_turn]
    return {"turn_1_p50_ms": p50[0], f"turn_{turns}_p50_ms": p50[-1],
            "last_over_first": p50[-1] / p50[0]}  # fmt: skip


if __name__ == "__main__":
    target, conns = sys.argv[1], int(sys.argv[2])
    if sys.argv[3] == "turns":
        print(json.dumps(asyncio.run(conversations(target, conns, int(sys.argv[4])))))
    else:
        print(json.dumps(asyncio.run(main(target, conns, float(sys.argv[3])))))
