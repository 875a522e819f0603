"""A load generator in its own process: POST /threads/<fresh id>/runs/wait for N seconds.

    python -m bench.load URL CONNECTIONS SECONDS

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


if __name__ == "__main__":
    target, conns, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    print(json.dumps(asyncio.run(main(target, conns, secs))))
