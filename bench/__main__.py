"""langstar beside its peers, in one run, on one PostgreSQL: `uv run python -m bench`.

Workloads, each against langstar, the seed pattern (FastAPI + the stock saver) and
`langgraph dev`, one server after another:

- wait: `POST /threads/<fresh id>/runs/wait` on the shared one-node chat graph, at each
  number of connections, plus the in-process ceiling (`graph.ainvoke`, no HTTP); every
  server is up at once and they take turns, in rounds, so that a slow minute on the
  machine does not fall on one of them;
- turns: conversations of 20 turns at once, their turn numbers spread evenly, turn 20's
  latency against turn 1's;
- stream: the peers' `stream_probe.py` (time to the first `messages` event on the `fast`
  graph, then many concurrent streams of the `slow` one), not against the seed, which
  has no stream endpoint;
- state: latest-state and history reads on threads of 10, 100 and 1,000 checkpoints (not
  against the seed either).

Prints absolute figures and ratios to langstar, and writes `bench/results/bench.json`,
`wait.png` and a py-spy flame graph of langstar serving `runs/wait`.

Absolute numbers on a shared machine are noise; the ratios, measured in the same run, are
the result.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
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

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
PEERS = ("langstar", "seed", "langgraph dev")
WORKLOADS = ("wait", "turns", "stream", "state")
TALKS, TURNS = 8, 20  # the multi-turn workload: conversations at once, turns each
LENGTHS = (10, 100, 1000)  # checkpoints per thread, for the state workload
FLAME = "flame-wait.svg"
LOGS = "logs"  # each server's output, kept from the last run (not committed)


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
    name: str, args: list[str], env: dict[str, str], cwd: Path, ready: str, logs: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server, wait until `ready` (a URL) answers, and stop it afterwards.

    Its output goes to `logs/<name>.log`, kept after the run for reading failures.
    """
    logs.mkdir(parents=True, exist_ok=True)
    log = open(logs / f"{name.replace(' ', '-')}.log", "wb")  # noqa: SIM115
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


def load(url: str, connections: int, *how: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.load", url, str(connections), *how],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, check=True,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
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
    out = subprocess.run(
        [sys.executable, str(peers / "stream_probe.py"), url, str(pid), str(streams)],
        stdout=subprocess.PIPE, text=True, check=True,
    )  # fmt: skip
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
    succeeded = by_status["idle"]
    return {
        "first_messages_ms": first_ms,
        "fast_stream_ms": whole_ms,
        "fast_events_per_s": events / (whole_ms / 1000),
        "streams": int(slow[1]),
        "streams_ended": int(slow[2]),
        "streams_succeeded": succeeded,
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
    }


def cpu_seconds(pid: int) -> float:
    """CPU time a server process has used so far (user and system)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def flame(url: str, pid: int, seconds: float, out: Path) -> str:
    """Sample langstar with py-spy while it serves runs/wait at 16 connections."""
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        return "py-spy is not installed"
    sampler = subprocess.Popen(
        [spy, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))),
         "--rate", "100", "--nonblocking", "--output", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    load(url, 16, str(seconds))
    _, errors = sampler.communicate(timeout=120)
    if sampler.returncode != 0:
        return f"py-spy could not sample langstar: {errors.strip().splitlines()[-1:]}"
    return f"wrote {out}"


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


def serve(name: str, peers: Path, work: Path, db: str, logs: Path) -> Any:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    if name == "langstar":
        env = {
            "DATABASE_URL": db,
            "LANGSTAR_AUTH__MODE": "none",
            "LANGSTAR_GRAPHS__AGENT": f"{peers / 'bench_graph.py'}:graph",
            "LANGSTAR_GRAPHS__FAST": f"{peers / 'stream_graph.py'}:fast",
            "LANGSTAR_GRAPHS__SLOW": f"{peers / 'stream_graph.py'}:slow",
            "LANGSTAR_LOG_LEVEL": "warning",
            # The workloads are one user's; the per-user caps are for many users.
            "LANGSTAR_LIMITS__MAX_RUNS_PER_USER": "100000",
            "LANGSTAR_LIMITS__MAX_STREAMS_PER_USER": "100000",
        }
        args = [sys.executable, "-m", "langstar", "serve", "--port", str(port)]
        return url, process(name, args, env, work, url + "/ok", logs)
    if name == "seed":
        args = [sys.executable, "-m", "uvicorn", "--app-dir", str(peers), "seed_app:app",
                "--port", str(port), "--log-level", "warning"]  # fmt: skip
        return url, process(name, args, {"DB_URI": db}, work, url + "/docs", logs)
    project = work / "dev-project"
    project.mkdir(exist_ok=True)
    shutil.copy(peers / "bench_graph.py", project / "bench_graph.py")
    shutil.copy(peers / "stream_graph.py", project / "stream_graph.py")
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
    return url, process(name, args, env, project, url + "/ok", logs)


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
    lines: list[str] = []
    for section, render in (
        ("wait", _wait_table),
        ("turns", _turns_table),
        ("stream", _stream_table),
        ("state", _state_table),
        ("targets", _targets_table),
    ):
        if section in results:
            lines += render(results)
    return "\n".join(lines)


def _wait_table(results: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    lines += ["| connections | peer | req/s | p50 ms | p99 ms | server CPU ms/request "
              "| langstar / peer (req/s) |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for c in results["connections"]:
        ours = results["wait"]["langstar"][str(c)]["rps"]
        for peer in PEERS:
            row = results["wait"][peer][str(c)]
            ratio = "" if peer == "langstar" else f"{ours / max(row['rps'], 1e-9):.2f}x"
            cpu = row.get("server_cpu_ms_per_request")
            cpu_text = "" if cpu is None else f"{cpu:.1f}"
            lines.append(f"| {c} | {peer} | {row['rps']:.0f} | {row['p50_ms']:.0f} | "
                         f"{row['p99_ms']:.0f} | {cpu_text} | {ratio} |")  # fmt: skip
    ceil = results["ceiling"]
    lines.append(
        f"\nIn-process ceiling at {results['ceiling_connections']} tasks: stock saver "
        f"{ceil['stock']:.0f} runs/s, pooled saver {ceil['pooled']:.0f} runs/s; langstar at "
        f"16 connections is {results['targets']['of_ceiling']:.0%} of the pooled ceiling."
    )
    return lines


def _turns_table(results: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    lines.append(f"\nMulti-turn ({TALKS} conversations of {TURNS} turns), p50 latency:")
    for peer, talk in results["turns"].items():
        lines.append(
            f"- {peer}: turn 1 {talk['turn_1_p50_ms']:.0f} ms, turn {TURNS} "
            f"{talk[f'turn_{TURNS}_p50_ms']:.0f} ms ({talk['last_over_first']:.2f}x)"
        )
    return lines


def _stream_table(results: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    lines += ["\n| streaming | " + " | ".join(results["stream"]) + " | langstar / dev |",
              "|---|" + "---|" * (len(results["stream"]) + 1)]  # fmt: skip
    rows = [
        ("first `messages` event, ms", "first_messages_ms", "{:.0f}"),
        ("`fast` events per second", "fast_events_per_s", "{:.0f}"),
        ("slow streams succeeded", "streams_succeeded", "{:.0f}"),
        ("slow streams: total time, s", "total_s", "{:.1f}"),
        ("server RSS growth, MB", "rss_growth_mb", "{:.0f}"),
        ("gap between events p50, ms", "gap_p50_ms", "{:.0f}"),
        ("gap between events p99, ms", "gap_p99_ms", "{:.0f}"),
    ]
    for label, key, shape in rows:
        values = [results["stream"][peer][key] for peer in results["stream"]]
        dev = results["stream"].get("langgraph dev", {}).get(key)
        ratio = f"{values[0] / dev:.2f}x" if dev else ""
        lines.append(f"| {label} | " + " | ".join(shape.format(v) for v in values)
                     + f" | {ratio} |")  # fmt: skip
    return lines


def _state_table(results: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    lines += ["\n| checkpoints | peer | latest state p50 ms | history (10) p50 ms |",
              "|---|---|---|---|"]  # fmt: skip
    for length in results.get("lengths", LENGTHS):
        for peer, reads in results["state"].items():
            row = reads[str(length)]
            lines.append(f"| {length} | {peer} | {row['state_p50_ms']:.1f} | "
                         f"{row['history_p50_ms']:.1f} |")  # fmt: skip
    return lines


def _targets_table(results: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    lines.append("\nTargets:")
    for name, met in results["targets"]["met"].items():
        lines.append(f"- {'met' if met else 'NOT met'}: {name}")
    return lines


def targets(results: dict[str, Any]) -> dict[str, Any]:
    """The ratios the issue states, each with whether it holds."""
    found: dict[str, Any] = {"met": {}}
    met = found["met"]
    if "wait" in results and "ceiling" in results:
        at16 = {peer: results["wait"][peer]["16"]["rps"] for peer in PEERS}
        found["vs_seed"] = at16["langstar"] / at16["seed"]
        found["vs_dev"] = at16["langstar"] / at16["langgraph dev"]
        found["of_ceiling"] = at16["langstar"] / results["ceiling"]["pooled"]
        met[f"runs/wait at 16: {found['vs_seed']:.2f}x seed >= 1.5"] = found["vs_seed"] >= 1.5
        met[f"runs/wait at 16: {found['vs_dev']:.2f}x langgraph dev >= 3"] = found["vs_dev"] >= 3
        met[f"runs/wait at 16: {found['of_ceiling']:.0%} of the pooled ceiling >= 85%"] = (
            found["of_ceiling"] >= 0.85
        )
    if "turns" in results:
        ratio = found["turn_20_over_turn_1"] = results["turns"]["langstar"]["last_over_first"]
        met[f"turn {TURNS} / turn 1: {ratio:.2f}x <= 1.2"] = ratio <= 1.2
    stream = results.get("stream", {})
    if "langstar" in stream and "langgraph dev" in stream:
        ours, dev = stream["langstar"], stream["langgraph dev"]
        every = ours["streams_succeeded"] == ours["streams"]
        met[f"slow streams: {ours['streams_succeeded']}/{ours['streams']} succeeded"] = every
        for key, limit, label in (
            ("first_messages_ms", 0.1, "first `messages` event"),
            ("total_s", 0.5, "slow streams' total time"),
            ("rss_growth_mb", 0.5, "RSS growth"),
            ("gap_p99_ms", 0.33, "p99 gap between events"),
        ):
            ratio = found[f"{key}_vs_dev"] = ours[key] / max(dev[key], 1e-9)
            met[f"{label}: {ratio:.2f}x langgraph dev <= {limit}"] = ratio <= limit
    if "langstar" in results.get("state", {}):
        reads = results["state"]["langstar"]
        short, long = results["lengths"][0], results["lengths"][-1]
        ratio = reads[str(long)]["state_p50_ms"] / reads[str(short)]["state_p50_ms"]
        found["state_read_growth"] = ratio
        # Flat: within the noise of a shared machine between 10 and 1,000 checkpoints.
        met[f"latest state, {long} vs {short} checkpoints: {ratio:.2f}x <= 1.25"] = ratio <= 1.25
    return found


def combine(rows: list[dict[str, Any]], connections: int) -> dict[str, Any]:
    """One figure from a peer's rounds: medians, and CPU over every request served."""
    requests = sum(row["requests"] for row in rows)
    return {
        "requests": requests,
        "errors": sum(row["errors"] for row in rows),
        "rps": statistics.median(row["rps"] for row in rows),
        "p50_ms": statistics.median(row["p50_ms"] for row in rows),
        "p99_ms": statistics.median(row["p99_ms"] for row in rows),
        "generator_cpu_share": max(row["generator_cpu_share"] for row in rows),
        # The server's own CPU time per answered request (warm-up requests included).
        "server_cpu_ms_per_request": sum(row["server_cpu_s"] for row in rows)
        * 1000
        / max(requests + connections * len(rows), 1),
        "rounds_rps": [row["rps"] for row in rows],
    }


def wait_rounds(
    args: argparse.Namespace, peers: list[str], dbs: dict[str, str], admin: str, work: Path,
    results: dict[str, Any],
) -> None:  # fmt: skip
    """runs/wait against every peer, all started at once and measured in turns.

    The machine is shared and its speed drifts over minutes: measuring one peer after
    another would give a peer the slow minute. Each round gives every peer (and the
    in-process ceiling) a slice of `--seconds`, in an order that rotates, and the report
    takes the median round.
    """
    slice_ = args.seconds / args.rounds
    with contextlib.ExitStack() as stack:
        running: dict[str, tuple[str, int]] = {}
        for peer in peers:
            say(f"starting {peer}")
            url, server = serve(peer, args.peers, work, dbs[peer], args.results / LOGS)
            running[peer] = (url, stack.enter_context(server).pid)
        ceiling_db = None if args.only else new_database(admin, "bench_ceiling")
        rows: dict[str, dict[int, list[dict[str, Any]]]] = {p: {} for p in peers}
        ceilings: list[dict[str, float]] = []
        for number in range(args.rounds):
            order = peers[number % len(peers) :] + peers[: number % len(peers)]
            for c in args.connection_counts:
                for peer in order:
                    url, pid = running[peer]
                    say(f"round {number + 1}/{args.rounds}: {peer}: runs/wait at {c} "
                        f"connections for {slice_:g}s")  # fmt: skip
                    cpu_before = cpu_seconds(pid)
                    row = load(url, c, str(slice_))
                    row["server_cpu_s"] = cpu_seconds(pid) - cpu_before
                    rows[peer].setdefault(c, []).append(row)
            if ceiling_db is not None:
                say(f"round {number + 1}/{args.rounds}: in-process ceiling (graph.ainvoke, "
                    "no HTTP)")  # fmt: skip
                ceilings.append(ceiling(args.peers, ceiling_db, 16, slice_))
    results["wait"] = {}
    for peer in peers:
        results["wait"][peer] = {str(c): combine(rows[peer][c], c) for c in rows[peer]}
        for c in args.connection_counts:
            row = results["wait"][peer][str(c)]
            say(f"{peer} at {c} connections: {row['rps']:.0f} req/s (rounds: "
                + ", ".join(f"{r:.0f}" for r in row["rounds_rps"])
                + f"), p50 {row['p50_ms']:.0f} ms, p99 {row['p99_ms']:.0f} ms, server CPU "
                f"{row['server_cpu_ms_per_request']:.1f} ms per request, generator CPU "
                f"{row['generator_cpu_share']:.0%} of a core")  # fmt: skip
    if ceilings:
        results["ceiling"] = {
            kind: statistics.median(found[kind] for found in ceilings)
            for kind in ("stock", "pooled")
        }
        results["ceiling"]["rounds_pooled"] = [found["pooled"] for found in ceilings]


def measure(
    peer: str, url: str, pid: int, args: argparse.Namespace, results: dict[str, Any]
) -> None:
    """Every chosen workload but `wait` (see `wait_rounds`) against one running server."""
    peers = args.peers
    if "turns" in args.workloads:
        say(f"{peer}: {TALKS} conversations of {TURNS} turns")
        talk = load(url, TALKS, "turns", str(TURNS))
        results.setdefault("turns", {})[peer] = talk
        say(f"{peer}: turn 1 p50 {talk['turn_1_p50_ms']:.0f} ms, turn {TURNS} p50 "
            f"{talk[f'turn_{TURNS}_p50_ms']:.0f} ms")  # fmt: skip
    if peer == "seed":
        return  # the seed serves runs/wait only
    if "state" in args.workloads:
        lengths = args.lengths
        say(f"{peer}: state and history reads on threads of {lengths} checkpoints")
        reads = load(url, 1, "state", ",".join(map(str, lengths)))
        results.setdefault("state", {})[peer] = reads
        say(f"{peer}: latest state p50 " + ", ".join(
            f"{n}: {reads[str(n)]['state_p50_ms']:.1f} ms" for n in lengths))  # fmt: skip
    if "stream" in args.workloads:
        say(f"{peer}: stream probe, then {args.streams} slow streams at once")
        row = probe(peers, url, pid, args.streams)
        results.setdefault("stream", {})[peer] = row
        say(f"{peer}: first messages event {row['first_messages_ms']:.0f} ms; "
            f"{row['streams_succeeded']}/{row['streams']} slow streams succeeded "
            f"({row['streams_failed']} failed, {row['streams_refused']} refused) in "
            f"{row['total_s']:.1f}s, RSS +{row['rss_growth_mb']:.0f} MB, "
            f"gap p99 {row['gap_p99_ms']:.0f} ms")  # fmt: skip
    if peer == "langstar" and args.flame:
        say("langstar: runs/wait at 16 connections under py-spy, for the flame graph")
        results["flame"] = flame(url, pid, args.seconds, args.results / FLAME)
        say(f"langstar: {results['flame']}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line, checked; `connection_counts` always includes 16."""
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="per measurement")
    parser.add_argument(
        "--rounds", type=int, default=3, help="runs/wait: rounds, each a slice of --seconds"
    )
    parser.add_argument("--connections", default="1,16,64", help="comma-separated")
    parser.add_argument("--streams", type=int, default=1000, help="concurrent slow streams")
    parser.add_argument(
        "--workloads",
        default=",".join(WORKLOADS),
        help="comma-separated, of " + ", ".join(WORKLOADS),
    )
    parser.add_argument(
        "--only", choices=PEERS, help="measure one server alone (to try a lever); no report"
    )
    parser.add_argument(
        "--lengths",
        default=",".join(map(str, LENGTHS)),
        help="checkpoints per thread for the state workload, comma-separated",
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=RESULTS,
        help="where to write bench.json and the charts (default: bench/results)",
    )
    parser.add_argument("--no-flame", dest="flame", action="store_false",
                        help="skip the py-spy flame graph")  # fmt: skip
    args = parser.parse_args(argv)
    args.workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = sorted(set(args.workloads) - set(WORKLOADS))
    if unknown:
        parser.error(f"unknown workload {unknown[0]!r}; choose from {', '.join(WORKLOADS)}")
    try:
        args.lengths = sorted({int(n) for n in args.lengths.split(",")})
        connections = [int(c) for c in args.connections.split(",")]
    except ValueError:
        parser.error("--lengths and --connections take comma-separated whole numbers")
    if (args.streams < 1 or args.rounds < 1 or args.seconds <= 0
            or min(args.lengths + connections) < 1):  # fmt: skip
        parser.error("--streams, --rounds, --seconds, --lengths and --connections must be positive")
    if 16 not in connections:
        connections.append(16)  # the targets are stated at 16 connections
    args.connection_counts = connections
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    connections = args.connection_counts
    args.peers = peers_folder()
    args.results.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "machine": f"{os.cpu_count()} cores, {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.system()}",
        "seconds": args.seconds,
        "rounds": args.rounds,
        "connections": connections,
        "streams": args.streams,
        "lengths": args.lengths,
        "workloads": args.workloads,
        "ceiling_connections": 16,
    }
    with tempfile.TemporaryDirectory(prefix="langstar-bench-") as folder:
        work = Path(folder)
        with postgres(work) as (admin, _):
            chosen = [args.only] if args.only else list(PEERS)
            dbs: dict[str, str] = {}
            for peer in chosen:
                dbs[peer] = new_database(admin, "bench_" + peer.replace(" ", "_"))
                if peer == "langstar":
                    from langstar.db import migrations
                    from langstar.settings import AuthSettings, DatabaseSettings, Settings

                    say("migrating langstar's database")
                    migrations.upgrade(
                        dbs[peer],
                        Settings(
                            database=DatabaseSettings(url=dbs[peer]),
                            auth=AuthSettings(mode="none"),
                        ),
                    )
            if "wait" in args.workloads:
                wait_rounds(args, chosen, dbs, admin, work, results)
            for peer in chosen:
                others = set(args.workloads) - {"wait"}
                flame_only = peer == "langstar" and args.flame
                if not others and not flame_only:
                    continue
                if peer == "seed" and "turns" not in others:
                    continue  # the seed serves runs/wait only
                say(f"starting {peer}")
                url, running = serve(peer, args.peers, work, dbs[peer], args.results / LOGS)
                with running as proc:
                    measure(peer, url, proc.pid, args, results)
            if args.only:
                print(json.dumps({k: v for k, v in results.items() if k not in ("machine",)},
                                 indent=2))  # fmt: skip
                return 0
    results["targets"] = targets(results)
    (args.results / "bench.json").write_text(json.dumps(results, indent=2) + "\n")
    if "wait" in results:
        chart(results, args.results / "wait.png")
    print(table(results))
    print(
        f"\nwrote {args.results / 'bench.json'}"
        + (f" and {args.results / 'wait.png'}" if "wait" in results else "")
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
