"""Soak: many users talk to a real `langstar serve` for minutes; then every turn is checked.

    uv run python -m tests.soak --users 20 --threads 5 --minutes 3 --restart-db

Loopback only. It starts PostgreSQL (embedded, in a temporary folder, unless DATABASE_URL
is set), migrates it, makes one API key per user and serves the built-in agent. Each
user's clients send turns to their threads (some two at once, to double-text), while the
server's memory is sampled. With --restart-db, PostgreSQL is restarted half-way. At the
end every turn the server answered as done must be in its thread's state, once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx


@dataclass
class Figures:
    users: int
    threads_per_user: int
    seconds: float
    turns_sent: int = 0
    turns_done: int = 0
    turns_failed_clearly: int = 0  # a 503 or a run error: the client knows to retry
    server_errors: int = 0  # any 500
    turns_lost: int = 0  # answered as done, yet missing from the thread
    db_restarts: int = 0
    rss_start_mb: float = 0.0
    rss_end_mb: float = 0.0
    rss_peak_mb: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    latencies: list[float] = field(default_factory=list, repr=False)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def user_loop(
    url: str, key: str, threads: list[str], deadline: float, figures: Figures,
    done: dict[str, list[str]], name: str,
) -> None:  # fmt: skip
    async with httpx.AsyncClient(
        base_url=url, headers={"x-api-key": key}, timeout=httpx.Timeout(120)
    ) as client:
        turn = 0
        while time.monotonic() < deadline:
            thread = random.choice(threads)
            # Now and then two turns at once on one thread: both must land (enqueue).
            texts = [f"{name} turn {turn + i}" for i in range(2 if random.random() < 0.2 else 1)]
            turn += len(texts)
            await asyncio.gather(*(send(client, thread, t, figures, done) for t in texts))


async def send(
    client: httpx.AsyncClient, thread: str, text: str, figures: Figures,
    done: dict[str, list[str]],
) -> None:  # fmt: skip
    figures.turns_sent += 1
    body = {
        "assistant_id": "agent",
        "input": {"messages": [{"role": "user", "content": text}]},
        "multitask_strategy": "enqueue",
    }
    started = time.monotonic()
    try:
        response = await client.post(f"/threads/{thread}/runs/wait", json=body)
    except httpx.HTTPError:
        figures.turns_failed_clearly += 1
        return
    figures.latencies.append(time.monotonic() - started)
    if response.status_code >= 500 and response.status_code != 503:
        figures.server_errors += 1
    elif response.status_code == 200 and "__error__" not in response.json():
        figures.turns_done += 1
        done.setdefault(thread, []).append(text)
    else:
        figures.turns_failed_clearly += 1


async def soak(
    url: str, pid: int, keys: list[str], args: argparse.Namespace, restart: Any
) -> Figures:
    figures = Figures(args.users, args.threads, args.minutes * 60)
    figures.rss_start_mb = figures.rss_peak_mb = rss_mb(pid)
    threads: list[list[str]] = []
    for key in keys:
        async with httpx.AsyncClient(base_url=url, headers={"x-api-key": key}) as client:
            made = [(await client.post("/threads", json={})).json()["thread_id"]
                    for _ in range(args.threads)]  # fmt: skip
        threads.append(made)
    done: dict[str, list[str]] = {}
    deadline = time.monotonic() + figures.seconds
    loops = [
        asyncio.create_task(user_loop(url, key, mine, deadline, figures, done, f"user{i}"))
        for i, (key, mine) in enumerate(zip(keys, threads, strict=True))
    ]
    restarted = False
    while not all(task.done() for task in loops):
        await asyncio.sleep(1)
        figures.rss_peak_mb = max(figures.rss_peak_mb, rss_mb(pid))
        left = deadline - time.monotonic()
        if restart is not None and not restarted and left < figures.seconds / 2:
            print("soak: restarting PostgreSQL", file=sys.stderr)
            await asyncio.to_thread(restart)
            restarted = True
            figures.db_restarts += 1
        print(
            f"soak: {max(0, left):4.0f}s left, {figures.turns_done} turns done, "
            f"{figures.server_errors} 5xx, rss {rss_mb(pid):.0f} MB",
            file=sys.stderr,
        )
    await asyncio.gather(*loops)
    figures.rss_end_mb = rss_mb(pid)
    # Every turn answered as done must be in its thread's state, exactly once.
    for key, mine in zip(keys, threads, strict=True):
        async with httpx.AsyncClient(base_url=url, headers={"x-api-key": key}, timeout=60) as c:
            for thread in mine:
                state = (await c.get(f"/threads/{thread}/state")).json()
                said = [m["content"] for m in state["values"].get("messages", [])]
                figures.turns_lost += sum(1 for t in done.get(thread, []) if said.count(t) != 1)
    ordered = sorted(figures.latencies) or [0.0]
    figures.p50_ms = round(ordered[len(ordered) // 2] * 1000, 1)
    figures.p99_ms = round(ordered[int(len(ordered) * 0.99)] * 1000, 1)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.soak", description=__doc__)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--threads", type=int, default=3, help="threads per user")
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--restart-db", action="store_true", help="restart PostgreSQL half-way")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    figures = run(args)
    report = {k: v for k, v in asdict(figures).items() if k != "latencies"}
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if figures.turns_lost == 0 and figures.server_errors == 0 else 1


def run(args: argparse.Namespace, url: str = "", restart: Any = None) -> Figures:
    """Soak a server on `url` (else $DATABASE_URL, else an embedded PostgreSQL of its own).

    `restart` restarts that PostgreSQL; with --restart-db it is called half-way.
    """
    import os

    from langstar.auth.keys import create_key
    from langstar.db import migrations
    from langstar.db.embedded import EmbeddedPostgres
    from tests.support.server import ServerProcess
    from tests.support.settings import settings_for

    with tempfile.TemporaryDirectory(prefix="langstar-soak-") as folder:
        work = Path(folder)
        embedded = None
        url = url or os.environ.get("DATABASE_URL", "")
        if not url:
            embedded = EmbeddedPostgres(work / "pg")
            url = embedded.start()
            restart = embedded.restart
        try:
            print("soak: migrating", file=sys.stderr)
            migrations.upgrade(url, settings_for(url))
            keys = [asyncio.run(create_key(url, f"soak-user-{i}"))[1] for i in range(args.users)]
            env = {
                "DATABASE_URL": url,
                "LANGSTAR_AUTH__MODE": "api_key",
                "LANGSTAR_LIMITS__MAX_RUNS_PER_USER": "1000",
                "LANGSTAR_LOG_LEVEL": "warning",
            }
            server = ServerProcess(env, work).start()
            assert server.proc is not None
            if not args.restart_db:
                restart = None
            try:
                return asyncio.run(soak(server.url, server.proc.pid, keys, args, restart))
            finally:
                server.stop()
        finally:
            if embedded is not None:
                embedded.stop()


if __name__ == "__main__":
    raise SystemExit(main())
