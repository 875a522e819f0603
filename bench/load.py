"""The latency workloads, each from a process of its own (throughput is `wrk`'s).

    python -m bench.load URL CONNECTIONS turns TURNS
    python -m bench.load URL 1 state LENGTH[,LENGTH...]

The first form holds CONNECTIONS conversations of TURNS turns at once, one thread per
conversation, their turn numbers spread evenly, and reports the p50 latency of the
first and the last turn. The second grows one thread per LENGTH to that many checkpoints
(state updates after a first run), then times reads of its latest state and of its
newest ten history entries.

Prints one JSON line. This generator is Python (httpx) and needs more CPU per request than
the servers do; here that costs only latency, which the report shows beside its CPU time.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from typing import Any

import httpx

BODY = {
    "assistant_id": "agent",
    "input": {"messages": [{"role": "user", "content": "hi"}]},
    "if_not_exists": "create",
}
TALK_ROUNDS = 3  # sets of conversations in the multi-turn workload


async def conversations(
    url: str, connections: int, turns: int, rounds: int = TALK_ROUNDS
) -> dict[str, float]:
    """Latency by turn number: does a run get slower as its thread grows?

    CONNECTIONS conversations go on at once, their turn numbers spread evenly: before
    the clock starts, conversation k has already had `k * turns // connections` turns.
    Each then goes on to its last turn, has `rounds - 1` whole conversations more, and
    ends with the turns it skipped, on a fresh thread. So every turn number is measured
    all through the run, under the same load: the machine's speed, which drifts by a
    third over seconds here, falls on turn 1 and turn 20 alike. Each turn number gets
    `rounds * connections` samples.
    """
    by_turn: list[list[float]] = [[] for _ in range(turns)]
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:

        async def say(thread: uuid.UUID, turn: int, *, timed: bool = True) -> None:
            started = time.perf_counter()
            response = await client.post(f"/threads/{thread}/runs/wait", json=BODY)
            response.raise_for_status()
            if timed:
                by_turn[turn].append(time.perf_counter() - started)

        async def begin(offset: int) -> uuid.UUID:
            thread = uuid.uuid4()
            for turn in range(offset):
                await say(thread, turn, timed=False)
            return thread

        async def talk(thread: uuid.UUID, offset: int) -> None:
            for turn in range(offset, turns):
                await say(thread, turn)
            for _ in range(rounds - 1):
                thread = uuid.uuid4()
                for turn in range(turns):
                    await say(thread, turn)
            thread = uuid.uuid4()
            for turn in range(offset):
                await say(thread, turn)

        offsets = [k * turns // connections for k in range(connections)]
        # Also the warm-up, as the throughput workload has one.
        threads = await asyncio.gather(*(begin(offset) for offset in offsets))
        await asyncio.gather(*(talk(t, o) for t, o in zip(threads, offsets, strict=True)))
    first, last = p50_ms(by_turn[0]), p50_ms(by_turn[-1])
    counts = {len(times) for times in by_turn}
    return {"turn_1_p50_ms": first, f"turn_{turns}_p50_ms": last,
            "last_over_first": last / first,
            "samples_per_turn": min(counts) if len(counts) == 1 else -1}  # fmt: skip


async def state_reads(url: str, lengths: list[int], reads: int = 60) -> dict[str, Any]:
    """p50 of reading a thread's latest state, and its newest ten checkpoints, by length.

    The threads are built first, then read in turns, one read of each per round, so that
    the machine's load at any moment weighs on every length alike.
    """
    update = {"values": {"messages": []}, "as_node": "chat"}
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        threads: dict[int, str] = {}
        for length in lengths:
            thread = threads[length] = str(uuid.uuid4())
            first = await client.post(f"/threads/{thread}/runs/wait", json=BODY)
            first.raise_for_status()
            for done in range(length):
                response = await client.post(f"/threads/{thread}/state", json=update)
                response.raise_for_status()
                if done % 250 == 249:
                    progress(f"{length}-checkpoint thread: {done + 1} updates")
        timings: dict[int, dict[str, list[float]]] = {
            length: {"state": [], "history": []} for length in lengths
        }
        for _ in range(reads):
            for length, thread in threads.items():
                started = time.perf_counter()
                (await client.get(f"/threads/{thread}/state")).raise_for_status()
                timings[length]["state"].append(time.perf_counter() - started)
                started = time.perf_counter()
                history = await client.post(f"/threads/{thread}/history", json={"limit": 10})
                history.raise_for_status()
                timings[length]["history"].append(time.perf_counter() - started)
                if len(history.json()) < min(10, length):
                    raise SystemExit(
                        f"history of a {length}-checkpoint thread: {history.text[:200]}"
                    )
    return {
        str(length): {f"{name}_p50_ms": p50_ms(times) for name, times in timings[length].items()}
        for length in lengths
    }


def p50_ms(seconds: list[float]) -> float:
    return sorted(seconds)[len(seconds) // 2] * 1000


def progress(message: str) -> None:
    print(f"bench.load: {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    target, conns = sys.argv[1], int(sys.argv[2])
    if sys.argv[3] == "turns":
        print(json.dumps(asyncio.run(conversations(target, conns, int(sys.argv[4])))))
    elif sys.argv[3] == "state":
        sizes = [int(n) for n in sys.argv[4].split(",")]
        print(json.dumps(asyncio.run(state_reads(target, sizes))))
    else:
        raise SystemExit(f"unknown workload {sys.argv[3]!r}: turns or state")
