"""langstar beside its peers, in one run, on one PostgreSQL: `uv run python -m bench`.

Servers, each with its own database on the same PostgreSQL: langstar with one worker,
langstar with its default number of workers (one per CPU core), the seed pattern
(uvicorn + FastAPI + the stock saver) and `langgraph dev`.

Workloads:

- wait: throughput of `POST /threads/<fresh id>/runs/wait` on the one-node chat graph,
  driven by `wrk` with the peers' `wait.lua`, at each number of connections. Every
  server is up at once and they take turns, in rounds, so that a slow minute on the
  machine does not fall on one of them; each figure is the median round, with the
  rounds' range. Beside it: the server's CPU per request (its whole process tree, from
  /proc), PostgreSQL's (when embedded) and wrk's own. Each round also runs the
  in-process ceiling (`graph.ainvoke`, no HTTP);
- turns: conversations of 20 turns at once, their turn numbers spread evenly, turn 20's
  latency against turn 1's (httpx; its CPU is shown);
- stream: the peers' `stream_probe.py` (time to the first `messages` event on the `fast`
  graph, then many concurrent streams of the `slow` one), not against the seed, which
  has no stream endpoint;
- state: latest-state and history reads on threads of 10, 100 and 1,000 checkpoints (not
  against the seed either);
- replicas: two langstar processes on one database; slow runs streamed on one and joined
  on the other at the same time, gaps between token events compared.

Prints the tables and the targets, and writes `bench/results/bench.json`, `wait.png` and a
py-spy flame graph of langstar serving `runs/wait`; `--readme` also writes the report into
docs/how-to/performance.md between its bench markers.

Quick look at one change: `--only langstar,seed --workloads wait --connections 16`.

The peers are langstar's own, in `bench/peers/` (see its `__init__.py`): the graphs every
server serves, the seed app, `wait.lua`, the stream probe and the in-process ceiling.
LANGSTAR_BENCH_PEERS may name another folder holding files of the same names, to measure
against those instead. Besides the dev dependency group (`uv sync`: FastAPI for the seed
app, `langgraph-cli[inmem]` for `langgraph dev`, matplotlib, py-spy), the wait workload
and the flame graph need `wrk`, from Debian: `apt-get install -y wrk` (as root).

Absolute numbers on a shared machine are noise; the ratios, measured in the same run, are
the result.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench import cpu, report, wrk

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
PEERS = ROOT / "bench" / "peers"
PEER_FILES = ("bench_graph.py", "stream_graph.py", "seed_app.py", "wait.lua", "stream_probe.py",
              "inprocess_limit.py")  # fmt: skip
REPORT_PAGE = ROOT / "docs" / "how-to" / "performance.md"
SERVERS = ("langstar", "langstar-workers", "seed", "langgraph-dev")
CHOICES = (*SERVERS, "ceiling")
WORKLOADS = ("wait", "turns", "stream", "state", "replicas")
TALKS = 8  # the multi-turn workload's conversations at once
LENGTHS = (10, 100, 1000)  # checkpoints per thread, for the state workload
FLAME = "flame-wait.svg"
LOGS = "logs"  # each server's output, kept from the last run (not committed)
WARM_UP_S = 2  # of wrk at 16 connections, per server, before the first round


def say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def peers_folder() -> Path:
    """The peers' folder: `bench/peers`, or the one $LANGSTAR_BENCH_PEERS names."""
    chosen = os.environ.get("LANGSTAR_BENCH_PEERS", "")
    folder = Path(chosen).expanduser() if chosen else PEERS
    missing = [name for name in PEER_FILES if not (folder / name).is_file()]
    if missing:
        origin = f"$LANGSTAR_BENCH_PEERS ({folder})" if chosen else str(folder)
        raise SystemExit(f"bench: {origin} has no {', '.join(missing)}")
    return folder.resolve()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def has_workers_option() -> bool:
    """Whether this langstar's `serve` takes `--workers`."""
    out = subprocess.run(
        [sys.executable, "-m", "langstar", "serve", "--help"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    return "--workers" in out.stdout


@contextmanager
def process(
    name: str, args: list[str], env: dict[str, str], cwd: Path, ready: str, logs: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server, wait until `ready` (a URL) answers, and stop it afterwards.

    Its output goes to `logs/<name>.log`, kept after the run for reading failures.
    """
    logs.mkdir(parents=True, exist_ok=True)
    log = open(logs / f"{name}.log", "wb")  # noqa: SIM115
    # The bench's own variable is not a langstar setting: langstar refuses unknown keys.
    inherited = {k: v for k, v in os.environ.items() if k != "LANGSTAR_BENCH_PEERS"}
    proc = subprocess.Popen(
        args, env={**inherited, **env}, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
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
        with contextlib.suppress(ProcessLookupError):  # it may have exited already
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def child(args: list[str], **how: Any) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run a generator process to its end; also the CPU seconds it used."""
    before = wrk.children_cpu_seconds()
    out = subprocess.run(args, stdout=subprocess.PIPE, text=True, check=True, **how)
    return out, wrk.children_cpu_seconds() - before


def load(url: str, connections: int, *how: str) -> dict[str, Any]:
    """One of `bench.load`'s latency workloads, with the generator's CPU seconds."""
    out, used = child([sys.executable, "-m", "bench.load", url, str(connections), *how], cwd=ROOT)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    result["generator_cpu_s"] = used
    return result


FAST = re.compile(r"first messages event median ([\d.]+) ms, whole 200-token stream median "
                  r"([\d.]+) ms, events (\d+)")  # fmt: skip
SLOW = re.compile(r"slow x(\d+): ok (\d+)/\d+ in ([\d.]+)s; RSS ([\d.]+) -> peak ([\d.]+) MB; "
                  r"event gap p50 ([\d.]+) ms p99 ([\d.]+) ms")  # fmt: skip


def probe(peers: Path, url: str, pid: int, streams: int) -> dict[str, Any]:
    """The peers' stream probe, then a count of the slow runs that really succeeded.

    The probe counts a stream as done when its HTTP response ends; a refused request or a
    run that failed also ends. The servers' own thread status says which runs finished.
    """
    serving = cpu.largest(pid)  # the probe reads one process's RSS: the one that serves
    out, used = child([sys.executable, str(peers / "stream_probe.py"), url, str(serving),
                       str(streams)])  # fmt: skip
    fast, slow = FAST.search(out.stdout), SLOW.search(out.stdout)
    if fast is None or slow is None:
        raise SystemExit(f"bench: cannot read the stream probe's report:\n{out.stdout}")
    first_ms, whole_ms, events = float(fast[1]), float(fast[2]), int(fast[3])
    by_status = {
        status: int(
            httpx.post(
                url + "/threads/count",
                json={"status": status, "metadata": {"graph_id": "slow"}},
                timeout=60,
            ).json()
        )
        for status in ("idle", "error", "busy")
    }
    return {
        "first_messages_ms": first_ms,
        "fast_stream_ms": whole_ms,
        "fast_events_per_s": events / (whole_ms / 1000),
        "streams": int(slow[1]),
        "streams_ended": int(slow[2]),
        "streams_succeeded": by_status["idle"],
        "streams_failed": by_status["error"],
        "streams_unfinished": by_status["busy"],
        # Refused before a run existed (an error status, or the connection dropped).
        "streams_refused": int(slow[1]) - sum(by_status.values()),
        "total_s": float(slow[3]),
        "rss_before_mb": float(slow[4]),
        "rss_peak_mb": float(slow[5]),
        "rss_growth_mb": float(slow[5]) - float(slow[4]),
        "gap_p50_ms": float(slow[6]),
        "gap_p99_ms": float(slow[7]),
        "generator_cpu_s": used,
    }


def flame(binary: str, script: Path, url: str, pid: int, seconds: int, out: Path) -> str:
    """Sample langstar with py-spy while wrk drives runs/wait at 16 connections."""
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        return "py-spy is not installed"
    sampler = subprocess.Popen(
        [spy, "record", "--pid", str(pid), "--subprocesses", "--duration", str(seconds),
         "--rate", "100", "--nonblocking", "--output", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    wrk.run(binary, script, url, 16, seconds)
    _, errors = sampler.communicate(timeout=120)
    if sampler.returncode != 0:
        return f"py-spy could not sample langstar: {errors.strip().splitlines()[-1:]}"
    return f"wrote {out}"


@contextmanager
def postgres(work: Path) -> Iterator[tuple[str, int | None]]:
    """An admin URL and the postmaster's pid: embedded in `work`, or $DATABASE_URL's server.

    The pid is None for a server of $DATABASE_URL: its CPU cannot be read from here.
    """
    url = os.environ.get("DATABASE_URL", "")
    if url:
        yield url, None
        return
    from langstar.db.embedded import EmbeddedPostgres

    embedded = EmbeddedPostgres(work / "pg")
    embedded.start()
    try:
        pid = int((embedded.pgdata / "postmaster.pid").read_text().split()[0])
        yield embedded.admin_url, pid
    finally:
        embedded.stop()


def new_database(admin_url: str, name: str, *, langstar: bool = False) -> str:
    """A fresh database on the server; langstar's migrated."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = re.sub(r"/[^/?]*(\?|$)", f"/{name}\\1", admin_url, count=1)
    if langstar:
        from langstar.db import migrations
        from langstar.settings import AuthSettings, DatabaseSettings, Settings

        say(f"migrating langstar's database {name}")
        settings = Settings(database=DatabaseSettings(url=url), auth=AuthSettings(mode="none"))
        migrations.upgrade(url, settings)
    return url


class Bench:
    """One run's settings, folders and the servers it starts."""

    def __init__(self, args: argparse.Namespace, work: Path, admin: str, pg: int | None) -> None:
        self.args, self.work, self.admin, self.pg = args, work, admin, pg
        self.peers: Path = args.peers
        self.logs: Path = args.results / LOGS
        self.wrk = ""
        self.workers = args.workers  # whether `langstar serve` takes --workers
        self.dbs: dict[str, str] = {}

    def database(self, server: str) -> str:
        if server not in self.dbs:
            name = "bench_" + server.replace("-", "_")
            self.dbs[server] = new_database(self.admin, name, langstar="langstar" in server)
        return self.dbs[server]

    def serve(self, server: str, name: str | None = None) -> tuple[str, Any]:
        """The URL of `server` and a context that runs it, on its own database."""
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        db, name = self.database(server), name or server
        if server.startswith("langstar"):
            return url, self._langstar(name, server, db, port, url)
        if server == "seed":
            args = [sys.executable, "-m", "uvicorn", "--app-dir", str(self.peers), "seed_app:app",
                    "--port", str(port), "--log-level", "warning"]  # fmt: skip
            return url, process(name, args, {"DB_URI": db}, self.work, url + "/docs", self.logs)
        return url, self._dev(name, port, url)

    def _langstar(self, name: str, server: str, db: str, port: int, url: str) -> Any:
        env = {
            "DATABASE_URL": db,
            "LANGSTAR_AUTH__MODE": "none",
            "LANGSTAR_GRAPHS__AGENT": f"{self.peers / 'bench_graph.py'}:graph",
            "LANGSTAR_GRAPHS__FAST": f"{self.peers / 'stream_graph.py'}:fast",
            "LANGSTAR_GRAPHS__SLOW": f"{self.peers / 'stream_graph.py'}:slow",
            "LANGSTAR_LOG_LEVEL": "warning",
            # The workloads are one user's; the per-user caps are for many users.
            "LANGSTAR_LIMITS__MAX_RUNS_PER_USER": "100000",
            "LANGSTAR_LIMITS__MAX_STREAMS_PER_USER": "100000",
        }
        args = [sys.executable, "-m", "langstar", "serve", "--port", str(port)]
        if server == "langstar" and self.workers:
            args += ["--workers", "1"]  # langstar-workers: the default, one per CPU core
        return process(name, args, env, self.work, url + "/ok", self.logs)

    def _dev(self, name: str, port: int, url: str) -> Any:
        project = self.work / "dev-project"
        project.mkdir(exist_ok=True)
        shutil.copy(self.peers / "bench_graph.py", project / "bench_graph.py")
        shutil.copy(self.peers / "stream_graph.py", project / "stream_graph.py")
        graphs = {
            "dependencies": ["."],
            "graphs": {
                "agent": "./bench_graph.py:graph",
                "fast": "./stream_graph.py:fast",
                "slow": "./stream_graph.py:slow",
            },
        }
        (project / "langgraph.json").write_text(json.dumps(graphs))
        binary = str(Path(sys.executable).with_name("langgraph"))
        args = [binary, "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1",
                "--port", str(port), "--n-jobs-per-worker", "1000"]  # fmt: skip
        env = {"LANGSMITH_TRACING": "false", "LANGGRAPH_CLI_NO_ANALYTICS": "1"}
        return process(name, args, env, project, url + "/ok", self.logs)

    def wait_once(self, server: str, url: str, pid: int, connections: int) -> dict[str, Any]:
        """One wrk measurement, with the CPU the server and PostgreSQL used meanwhile.

        `langgraph dev` keeps its threads in memory: PostgreSQL's CPU is not its.
        """
        pg = None if server == "langgraph-dev" else self.pg
        seconds = self.args.seconds
        cpu.settle([pid] if pg is None else [pid, pg])
        server_before = cpu.cpu_seconds(pid)
        pg_before = None if pg is None else cpu.cpu_seconds(pg)
        row = wrk.run(self.wrk, self.peers / "wait.lua", url, connections, seconds)
        row["server_cpu_s"] = cpu.cpu_seconds(pid) - server_before
        row["postgres_cpu_s"] = None if pg is None else cpu.cpu_seconds(pg) - (pg_before or 0.0)
        return row

    def ceiling(self, db: str, seconds: int) -> dict[str, float]:
        out, _ = child([sys.executable, str(self.peers / "inprocess_limit.py"), db, "16",
                        str(seconds)])  # fmt: skip
        found = dict(re.findall(r"(\w+): (\d+) runs/s", out.stdout))
        return {"stock": float(found["AsyncPostgresSaver"]), "pooled": float(found["PooledSaver"])}


def combine(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One figure from a server's rounds: medians, and CPU over every request answered."""
    requests = sum(row["requests"] for row in rows)

    def per_request(key: str) -> float | None:
        if any(row[key] is None for row in rows):
            return None
        return float(sum(row[key] for row in rows) * 1000 / max(requests, 1))

    return {
        "requests": requests,
        "non_2xx": sum(row["non_2xx"] for row in rows),
        "socket_errors": sum(row["socket_errors"] for row in rows),
        "rps": statistics.median(row["rps"] for row in rows),
        "p50_ms": statistics.median(row["p50_ms"] for row in rows),
        "p99_ms": statistics.median(row["p99_ms"] for row in rows),
        "server_cpu_ms_per_request": per_request("server_cpu_s"),
        "postgres_cpu_ms_per_request": per_request("postgres_cpu_s"),
        "generator_cpu_ms_per_request": per_request("generator_cpu_s"),
        "generator_cpu_share": max(row["generator_cpu_share"] for row in rows),
        "rounds_rps": [row["rps"] for row in rows],
    }


def wait_rounds(bench: Bench, servers: list[str], results: dict[str, Any]) -> None:
    """runs/wait against every server, all started at once and measured in turns.

    The machine is shared and its speed drifts over minutes: measuring one server after
    another would give one the slow minute. Each round gives every server (and the
    in-process ceiling) `--seconds` at each number of connections, in an order that
    rotates, and the report takes the median round.
    """
    args = bench.args
    with contextlib.ExitStack() as stack:
        running: dict[str, tuple[str, int]] = {}
        for server in servers:
            say(f"starting {server}")
            url, serving = bench.serve(server)
            running[server] = (url, stack.enter_context(serving).pid)
            say(f"{server}: warming up ({WARM_UP_S}s of wrk at 16 connections)")
            wrk.run(bench.wrk, bench.peers / "wait.lua", url, 16, WARM_UP_S)
        ceiling_db = new_database(bench.admin, "bench_ceiling") if args.ceiling else None
        rows: dict[str, dict[int, list[dict[str, Any]]]] = {s: {} for s in servers}
        ceilings: list[dict[str, float]] = []
        for number in range(args.rounds):
            order = servers[number % len(servers) :] + servers[: number % len(servers)]
            for c in args.connection_counts:
                for server in order:
                    url, pid = running[server]
                    say(f"round {number + 1}/{args.rounds}: {server}: runs/wait at {c} "
                        f"connections for {args.seconds}s")  # fmt: skip
                    row = bench.wait_once(server, url, pid, c)
                    rows[server].setdefault(c, []).append(row)
            if ceiling_db is not None:
                say(f"round {number + 1}/{args.rounds}: in-process ceiling")
                ceilings.append(bench.ceiling(ceiling_db, args.seconds))
    results["wait"] = {s: {str(c): combine(rows[s][c]) for c in rows[s]} for s in servers}
    for server in servers:
        for c in args.connection_counts:
            row = results["wait"][server][str(c)]
            say(f"{server} at {c} connections: {row['rps']:.0f} req/s (rounds: "
                + ", ".join(f"{r:.0f}" for r in row["rounds_rps"])
                + f"), p99 {row['p99_ms']:.0f} ms, {row['non_2xx']} non-2xx, server CPU "
                f"{row['server_cpu_ms_per_request']:.2f} ms/request, wrk CPU "
                f"{row['generator_cpu_ms_per_request']:.2f} ms/request")  # fmt: skip
    if ceilings:
        results["ceiling"] = {
            kind: statistics.median(found[kind] for found in ceilings)
            for kind in ("stock", "pooled")
        }
        results["ceiling"]["rounds_pooled"] = [found["pooled"] for found in ceilings]


def measure(bench: Bench, server: str, url: str, pid: int, results: dict[str, Any]) -> None:
    """Every chosen latency workload against one running server."""
    args = bench.args
    if "turns" in args.workloads:
        turns = args.turns
        say(f"{server}: {TALKS} conversations of {turns} turns")
        talk = load(url, TALKS, "turns", str(turns))
        results.setdefault("turns", {})[server] = talk
        say(f"{server}: turn 1 p50 {talk['turn_1_p50_ms']:.0f} ms, turn {turns} p50 "
            f"{talk[f'turn_{turns}_p50_ms']:.0f} ms")  # fmt: skip
    if server == "seed":
        return  # the seed serves runs/wait only
    if "state" in args.workloads:
        say(f"{server}: state and history reads on threads of {args.lengths} checkpoints")
        reads = load(url, 1, "state", ",".join(map(str, args.lengths)))
        results.setdefault("state", {})[server] = reads
    if "stream" in args.workloads:
        say(f"{server}: stream probe, then {args.streams} slow streams at once")
        row = probe(bench.peers, url, pid, args.streams)
        results.setdefault("stream", {})[server] = row
        say(f"{server}: first messages event {row['first_messages_ms']:.0f} ms; "
            f"{row['streams_succeeded']}/{row['streams']} slow streams succeeded "
            f"({row['streams_failed']} failed, {row['streams_refused']} refused) in "
            f"{row['total_s']:.1f}s, gap p99 {row['gap_p99_ms']:.0f} ms")  # fmt: skip
    if server == "langstar" and args.flame:
        say("langstar: runs/wait at 16 connections under py-spy, for the flame graph")
        results["flame"] = flame(bench.wrk, bench.peers / "wait.lua", url, pid, args.seconds,
                                 args.results / FLAME)  # fmt: skip
        say(f"langstar: {results['flame']}")


def replicas(bench: Bench, results: dict[str, Any]) -> None:
    """Slow runs streamed on one langstar process and joined on another, at once."""
    say(f"replicas: two langstar processes, {bench.args.replica_runs} slow runs streamed "
        "on A and joined on B")  # fmt: skip
    url_a, serving_a = bench.serve("langstar", "replica-a")
    url_b, serving_b = bench.serve("langstar", "replica-b")
    with serving_a, serving_b:
        args = [sys.executable, "-m", "bench.replicas", url_a, url_b, str(bench.args.replica_runs)]
        out, used = child(args, cwd=ROOT)
    found: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    found["generator_cpu_s"] = used
    results["replicas"] = found
    say(f"replicas: A saw {found['local']['messages_events']} messages events (p99 gap "
        f"{found['local']['gap_p99_ms']:.0f} ms), B {found['remote']['messages_events']} "
        f"(p99 gap {found['remote']['gap_p99_ms']:.0f} ms)")  # fmt: skip


def latency_workloads(bench: Bench, servers: list[str], results: dict[str, Any]) -> None:
    """turns, state, stream and the flame graph, one server at a time."""
    args = bench.args
    others = set(args.workloads) - {"wait", "replicas"}
    for server in servers:
        if server == "langstar-workers":
            continue  # the latency workloads are langstar's with one worker
        flame_only = server == "langstar" and args.flame and "wait" in args.workloads
        if server == "seed" and "turns" not in others:
            continue  # the seed serves runs/wait only
        if not others and not flame_only:
            continue
        say(f"starting {server}")
        url, serving = bench.serve(server)
        with serving as proc:
            measure(bench, server, url, proc.pid, results)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line, checked; `connection_counts` always includes 16."""
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--seconds", type=int, default=5, help="length of each wrk measurement (default 5)")
    add("--rounds", type=int, default=3, help="runs/wait rounds, servers taking turns (3)")
    add("--connections", default="1,16,64", help="wrk connections, comma-separated (1,16,64)")
    add("--streams", type=int, default=1000, help="concurrent slow streams (1000)")
    add("--turns", type=int, default=report.TURNS,
        help=f"turns per conversation in the turns workload ({report.TURNS})")  # fmt: skip
    add("--replica-runs", type=int, default=50, help="slow runs joined from another process (50)")
    add("--workloads", default=",".join(WORKLOADS),
        help="comma-separated, of " + ", ".join(WORKLOADS) + " (all)")  # fmt: skip
    add("--only", default="",
        help="comma-separated, of " + ", ".join(CHOICES) + " (default: all); e.g. "
        "langstar,seed to try a change quickly")  # fmt: skip
    add(
        "--lengths",
        default=",".join(map(str, LENGTHS)),
        help="checkpoints per thread for the state workload, comma-separated (10,100,1000)",
    )
    add(
        "--results",
        type=Path,
        default=RESULTS,
        help="where to write bench.json, wait.png and the flame graph (bench/results; "
        "bench/results/tmp for a run of fewer servers or workloads)",
    )
    add("--no-flame", dest="flame", action="store_false", help="skip the py-spy flame graph")
    add("--readme", nargs="?", type=Path, const=REPORT_PAGE, default=None, metavar="PATH",
        help="write the report into docs/how-to/performance.md (or PATH) between its bench "
        "markers; needs every server and workload")  # fmt: skip
    args = parser.parse_args(argv)
    _check(parser, args)
    partial = len(args.servers) + args.ceiling < len(CHOICES) or len(args.workloads) < len(
        WORKLOADS
    )
    if partial and args.results == RESULTS:
        args.results = RESULTS / "tmp"  # a partial run leaves the full run's results alone
    return args


def _check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    args.workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    only = [s.strip() for s in args.only.split(",") if s.strip()] or list(CHOICES)
    for name, chosen, allowed in (
        ("workload", args.workloads, WORKLOADS),
        ("--only", only, CHOICES),
    ):
        unknown = sorted(set(chosen) - set(allowed))
        if unknown:
            parser.error(f"unknown {name} {unknown[0]!r}; choose from {', '.join(allowed)}")
    args.servers = [s for s in SERVERS if s in only]
    args.ceiling = "ceiling" in only and "wait" in args.workloads
    try:
        args.lengths = sorted({int(n) for n in args.lengths.split(",")})
        connections = [int(c) for c in args.connections.split(",")]
    except ValueError:
        parser.error("--lengths and --connections take comma-separated whole numbers")
    if min(args.streams, args.rounds, args.seconds, args.replica_runs, *args.lengths,
           *connections) < 1:  # fmt: skip
        parser.error("--streams, --rounds, --seconds, --replica-runs, --lengths and "
                     "--connections must be positive")  # fmt: skip
    if args.turns < 2:
        parser.error("--turns must be 2 or more: the last turn is compared with the first")
    if args.readme and (len(only) < len(CHOICES) or len(args.workloads) < len(WORKLOADS)):
        parser.error("--readme takes every server and workload: its figures are one run's")
    if 16 not in connections:
        connections.append(16)  # the targets are stated at 16 connections
    args.connection_counts = sorted(set(connections))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    began = time.monotonic()
    args.peers = peers_folder()
    args.results.mkdir(parents=True, exist_ok=True)
    args.workers = has_workers_option()
    # The wait workload and the flame graph drive langstar with wrk: missing, it stops here.
    wrk_path = wrk.ensure_wrk() if "wait" in args.workloads or args.flame else ""
    results = header(args)
    if not args.workers and "langstar-workers" in args.servers:
        args.servers.remove("langstar-workers")
        results["workers_note"] = (
            "langstar with its default number of workers was not measured: this "
            "langstar's `serve` has no `--workers` option"
        )
        say(results["workers_note"])
    with tempfile.TemporaryDirectory(prefix="langstar-bench-") as folder:
        work = Path(folder)
        with postgres(work) as (admin, pg):
            results["postgres"] = "PostgreSQL " + ("of $DATABASE_URL" if pg is None else
                                                    "embedded, on the same cores")  # fmt: skip
            bench = Bench(args, work, admin, pg)
            bench.wrk = wrk_path
            if "wait" in args.workloads:
                wait_rounds(bench, args.servers, results)
            latency_workloads(bench, args.servers, results)
            if "replicas" in args.workloads and "langstar" in args.servers:
                replicas(bench, results)
    results["duration_s"] = time.monotonic() - began
    results["targets"] = report.targets(results)
    text = report.table(results)
    print(text)
    write(args, results, text)
    return 0


def header(args: argparse.Namespace) -> dict[str, Any]:
    """What a report says about its run before any figure."""
    servers = {
        "langstar": "langstar, 1 worker",
        "langstar-workers": f"langstar, {os.cpu_count()} workers (default)",
        "seed": "seed pattern",
        "langgraph-dev": "langgraph dev",
    }
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": shlex.join(["python", "-m", "bench", *sys.argv[1:]]),
        "machine": f"{os.cpu_count()} cores, {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.system()}",
        "servers": {s: {"label": servers[s]} for s in args.servers},
        "seconds": args.seconds,
        "rounds": args.rounds,
        "connections": args.connection_counts,
        "streams": args.streams,
        "turns_per_conversation": args.turns,
        "lengths": args.lengths,
        "workloads": args.workloads,
    }


def write(args: argparse.Namespace, results: dict[str, Any], text: str) -> None:
    """bench.json and the chart; the performance page's block when asked."""
    (args.results / "bench.json").write_text(json.dumps(results, indent=2) + "\n")
    written = [args.results / "bench.json"]
    if "wait" in results:
        report.chart(results, args.results / "wait.png")
        written.append(args.results / "wait.png")
    if args.readme:
        # The chart stays in bench/results: the docs site is built strictly from docs/ alone,
        # so a link out of it would fail the build.
        report.write_readme(args.readme, text)
        written.append(args.readme)
    print("\nwrote " + ", ".join(str(path) for path in written))


if __name__ == "__main__":
    raise SystemExit(main())
