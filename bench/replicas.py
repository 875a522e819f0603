"""A live stream followed from another process: `python -m bench.replicas URL_A URL_B N`.

N slow runs at once (the `slow` graph: 100 tokens, one every 50 ms), each started with
`POST /threads/<id>/runs/stream` on replica A and joined at the same time with
`GET /threads/<id>/runs/<run id>/stream` on replica B, another process on the same
database. The gaps between successive `messages` events are measured on each side: a
token reaching B should come about as steadily as it does on A, the run's own process.

Prints one JSON line: per side, the `messages` events seen, the p50 and p99 gap, and the
event names B saw (to say what it got when it did not get the tokens).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from collections import Counter
from typing import Any

import httpx

BODY = {
    "assistant_id": "slow",
    "input": {"messages": [{"role": "user", "content": "hi"}]},
    "stream_mode": ["messages-tuple"],
    "if_not_exists": "create",
}


class Side:
    """What one side of the runs saw: gaps between `messages` events, and every event name."""

    def __init__(self) -> None:
        self.gaps: list[float] = []
        self.messages = 0
        self.names: Counter[str] = Counter()
        self.failures: list[str] = []

    async def read(self, response: httpx.Response) -> None:
        last = None
        async for line in response.aiter_lines():
            if not line.startswith("event: "):
                continue
            name = line.removeprefix("event: ").strip()
            self.names[name] += 1
            if name.startswith("messages"):
                now = time.perf_counter()
                if last is not None:
                    self.gaps.append(now - last)
                last = now
                self.messages += 1

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.gaps) or [0.0]
        return {
            "messages_events": self.messages,
            "gap_p50_ms": ordered[len(ordered) // 2] * 1000,
            "gap_p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
            "events": dict(self.names),
            "failures": self.failures[:3],
        }


async def one(a: httpx.AsyncClient, b: httpx.AsyncClient, local: Side, remote: Side) -> None:
    async with a.stream("POST", f"/threads/{uuid.uuid4()}/runs/stream", json=BODY) as started:
        if started.status_code != 200:
            local.failures.append(f"{started.status_code}: {(await started.aread())[:200]!r}")
            return
        # Where the run lives, from the first answer's headers: join it at once on B.
        run = started.headers["content-location"]

        async def follow() -> None:
            async with b.stream("GET", run + "/stream") as joined:
                if joined.status_code != 200:
                    failure = f"{joined.status_code}: {(await joined.aread())[:200]!r}"
                    remote.failures.append(failure)
                    return
                await remote.read(joined)

        joining = asyncio.create_task(follow())
        await local.read(started)
    await joining


async def main(url_a: str, url_b: str, runs: int) -> dict[str, Any]:
    local, remote = Side(), Side()
    limits = httpx.Limits(max_connections=runs + 5, max_keepalive_connections=runs + 5)
    async with (
        httpx.AsyncClient(base_url=url_a, limits=limits, timeout=120) as a,
        httpx.AsyncClient(base_url=url_b, limits=limits, timeout=120) as b,
    ):
        await asyncio.gather(*(one(a, b, local, remote) for _ in range(runs)))
    return {"runs": runs, "local": local.summary(), "remote": remote.summary()}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))))
