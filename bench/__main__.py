"""langstar beside its peers, in one run, on one PostgreSQL: `uv run python -m bench`.

Workload: `POST /threads/<fresh id>/runs/wait` on the shared one-node chat graph, at each
number of connections, against langstar, the seed pattern (FastAPI + the stock saver) and
`langgraph dev`, plus the in-process ceiling (`graph.ainvoke`, no HTTP). Prints absolute
figures and ratios to langstar, and writes `bench/results/bench.json` and `wait.png`.

Absolute numbers on a shared machine are noise; the ratios, measured in the same run, are
the result.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
PEERS = ("langstar", "seed", "langgraph dev")
TALKS, TURNS = 8, 20  # the multi-turn workload: conversations at once, turns each


def say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def peers_folder() -> Path:
    """The shared peers: $LANGSTAR_BENCH_PEERS, else `../shared/bench-peers` beside the repo."""
    for candidate in (
        os.environ.get("LANGSTAR_BENCH_PEERS", ""),
        ROOT.parent / "shared" / "bench-peers",
        ROOT.parent.parent / "shared" / "bench-peers",
    ):
        if candidate and (Path(candidate) / "bench_graph.py").is_file():
            return Path(candidate).resolve()
    raise SystemExit(
        "bench: cannot find the peers (bench_graph.py, seed_app.py, inprocess_limit.py); "
        "set LANGSTAR_BENCH_PEERS to their folder"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def process(
    name: str, args: list[str], env: dict[str, str], cwd: Path, ready: str
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server, wait until `ready` (a URL) answers, and stop it afterwards."""
    log = open(cwd / f"{name.replace(' ', '-')}.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        args, env={**os.environ, **env}, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"bench: {name} exited early; see {log.name}")
            try:
                if httpx.get(ready, timeout=2).status_code < 500:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            raise SystemExit(f"bench: {name} did not start; see {log.name}")
        yield proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def load(url: str, connections: int, *how: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.load", url, str(connections), *how],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


@contextmanager
def postgres(work: Path) -> Iterator[tuple[str, Any]]:
    """An admin URL: $DATABASE_URL's server, else an embedded PostgreSQL in `work`."""
    url = os.environ.get("DATABASE_URL", "")
    if url:
        yield url, None
        return
    from langstar.db.embedded import EmbeddedPostgres

    embedded = EmbeddedPostgres(work / "pg")
    embedded.start()
    try:
        yield embedded.admin_url, embedded
    finally:
        embedded.stop()


def new_database(admin_url: str, name: str) -> str:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return re.sub(r"/[^/?]*(\?|$)", f"/{name}\\1", admin_url, count=1)


def serve(name: str, peers: Path, work: Path, db: str) -> Any:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    if name == "langstar":
        env = {
            "DATABASE_URL": db,
            "LANGSTAR_AUTH__MODE": "none",
            "LANGSTAR_GRAPHS__AGENT": f"{peers / 'bench_graph.py'}:graph",
            "LANGSTAR_LOG_LEVEL": "warning",
            "LANGSTAR_LIMITS__MAX_RUNS_PER_USER": "100000",
        }
        args = [sys.executable, "-m", "langstar", "serve", "--port", str(port)]
        return url, process(name, args, env, work, url + "/ok")
    if name == "seed":
        args = [sys.executable, "-m", "uvicorn", "--app-dir", str(peers), "seed_app:app",
                "--port", str(port), "--log-level", "warning"]  # fmt: skip
        return url, process(name, args, {"DB_URI": db}, work, url + "/docs")
    project = work / "dev-project"
    project.mkdir(exist_ok=True)
    shutil.copy(peers / "bench_graph.py", project / "bench_graph.py")
    graphs = {"dependencies": ["."], "graphs": {"agent": "./bench_graph.py:graph"}}
    (project / "langgraph.json").write_text(json.dumps(graphs))
    binary = str(Path(sys.executable).with_name("langgraph"))
    args = [binary, "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1",
            "--port", str(port), "--n-jobs-per-worker", "1000"]  # fmt: skip
    env = {"LANGSMITH_TRACING": "false", "LANGGRAPH_CLI_NO_ANALYTICS": "1"}
    return url, process(name, args, env, project, url + "/ok")


def ceiling(peers: Path, db: str, connections: int, seconds: float) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, str(peers / "inprocess_limit.py"), db, str(connections), str(seconds)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    found = dict(re.findall(r"(\w+): (\d+) runs/s", out.stdout))
    return {"stock": float(found["AsyncPostgresSaver"]), "pooled": float(found["PooledSaver"])}


def chart(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    connections = results["connections"]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    width = 0.8 / len(PEERS)
    for i, peer in enumerate(PEERS):
        rps = [results["wait"][peer][str(c)]["rps"] for c in connections]
        ax.bar([x + i * width for x in range(len(connections))], rps, width, label=peer)
    pooled = results["ceiling"]["pooled"]
    ax.axhline(pooled, color="grey", linestyle="--", label="in-process ceiling (pooled saver)")
    ax.set_xticks([x + width for x in range(len(connections))], [str(c) for c in connections])
    ax.set_xlabel("connections")
    ax.set_ylabel("runs/wait per second")
    ax.set_title(f"runs/wait on fresh threads, {results['machine']}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def table(results: dict[str, Any]) -> str:
    lines = ["| connections | peer | req/s | p50 ms | p99 ms | langstar / peer (req/s) |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for c in results["connections"]:
        ours = results["wait"]["langstar"][str(c)]["rps"]
        for peer in PEERS:
            row = results["wait"][peer][str(c)]
            ratio = "" if peer == "langstar" else f"{ours / max(row['rps'], 1e-9):.2f}x"
            lines.append(f"| {c} | {peer} | {row['rps']:.0f} | {row['p50_ms']:.0f} | "
                         f"{row['p99_ms']:.0f} | {ratio} |")  # fmt: skip
    ceil = results["ceiling"]
    lines.append(
        f"\nIn-process ceiling at {results['ceiling_connections']} tasks: stock saver "
        f"{ceil['stock']:.0f} runs/s, pooled saver {ceil['pooled']:.0f} runs/s; langstar at "
        f"16 connections is {results['targets']['of_ceiling']:.0%} of the pooled ceiling."
    )
    lines.append(f"\nMulti-turn ({TALKS} conversations of {TURNS} turns), p50 latency:")
    for peer, talk in results["turns"].items():
        lines.append(
            f"- {peer}: turn 1 {talk['turn_1_p50_ms']:.0f} ms, turn {TURNS} "
            f"{talk[f'turn_{TURNS}_p50_ms']:.0f} ms ({talk['last_over_first']:.2f}x)"
        )
    return "\n".join(lines)


def targets(results: dict[str, Any]) -> dict[str, Any]:
    at16 = {peer: results["wait"][peer]["16"]["rps"] for peer in PEERS}
    found = {
        "vs_seed": at16["langstar"] / at16["seed"],
        "vs_dev": at16["langstar"] / at16["langgraph dev"],
        "of_ceiling": at16["langstar"] / results["ceiling"]["pooled"],
    }
    turns = results["turns"]["langstar"]
    found["turn_20_over_turn_1"] = turns["last_over_first"]
    found["met"] = {
        "turn_20_over_turn_1 <= 1.2": turns["last_over_first"] <= 1.2,
        "vs_seed >= 1.5": found["vs_seed"] >= 1.5,
        "vs_dev >= 3": found["vs_dev"] >= 3,
        "of_ceiling >= 0.85": found["of_ceiling"] >= 0.85,
    }
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="per measurement")
    parser.add_argument("--connections", default="1,16,64", help="comma-separated")
    parser.add_argument(
        "--only", choices=PEERS, help="measure one server alone (to try a lever); no report"
    )
    args = parser.parse_args(argv)
    connections = [int(c) for c in args.connections.split(",")]
    if 16 not in connections:
        connections.append(16)  # the targets are stated at 16 connections
    peers = peers_folder()
    results: dict[str, Any] = {
        "machine": f"{os.cpu_count()} cores, {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.system()}",
        "seconds": args.seconds,
        "connections": connections,
        "wait": {},
        "ceiling_connections": 16,
    }
    with tempfile.TemporaryDirectory(prefix="langstar-bench-") as folder:
        work = Path(folder)
        with postgres(work) as (admin, _):
            for peer in [args.only] if args.only else PEERS:
                db = new_database(admin, "bench_" + peer.replace(" ", "_"))
                if peer == "langstar":
                    from langstar.db import migrations
                    from langstar.settings import AuthSettings, DatabaseSettings, Settings

                    say("migrating langstar's database")
                    migrations.upgrade(
                        db,
                        Settings(database=DatabaseSettings(url=db), auth=AuthSettings(mode="none")),
                    )
                say(f"starting {peer}")
                url, running = serve(peer, peers, work, db)
                results["wait"][peer] = {}
                with running:
                    for c in connections:
                        say(f"{peer}: runs/wait at {c} connections for {args.seconds:g}s")
                        row = load(url, c, str(args.seconds))
                        results["wait"][peer][str(c)] = row
                        say(f"{peer}: {row['rps']:.0f} req/s, p50 {row['p50_ms']:.0f} ms, "
                            f"p99 {row['p99_ms']:.0f} ms, generator CPU "
                            f"{row['generator_cpu_share']:.0%} of a core")  # fmt: skip
                    say(f"{peer}: {TALKS} conversations of {TURNS} turns")
                    talk = load(url, TALKS, "turns", str(TURNS))
                    results.setdefault("turns", {})[peer] = talk
                    say(f"{peer}: turn 1 p50 {talk['turn_1_p50_ms']:.0f} ms, turn {TURNS} p50 "
                        f"{talk[f'turn_{TURNS}_p50_ms']:.0f} ms")  # fmt: skip
            if args.only:
                return 0
            say("in-process ceiling (graph.ainvoke, no HTTP)")
            db = new_database(admin, "bench_ceiling")
            results["ceiling"] = ceiling(peers, db, 16, args.seconds)
    results["targets"] = targets(results)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench.json").write_text(json.dumps(results, indent=2) + "\n")
    chart(results, RESULTS / "wait.png")
    print(table(results))
    print(f"\nwrote {RESULTS / 'bench.json'} and {RESULTS / 'wait.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
