"""`python -m bench` runs every workload against every server and reports each target.

A small configuration of the real command: the same servers, `wrk`, stream probes and
report, for seconds instead of minutes, written to a temporary folder and a copy of the
README. The peers are the repo's own (`bench/peers`): a clone needs nothing beside it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench import report, wrk
from bench.__main__ import TALKS, has_workers_option
from bench.load import TALK_ROUNDS

ROOT = Path(__file__).resolve().parents[2]
REPLICA_RUNS = 4
TARGETS = 14  # each stated whether or not its figures could be measured


@pytest.fixture(scope="module")
def wrk_binary() -> str:
    try:
        return wrk.ensure_wrk()
    except SystemExit as exc:  # the throughput workload needs it
        pytest.skip(str(exc))


@pytest.mark.timeout(600)
def test_the_bench_command_measures_every_server_and_states_each_target(
    wrk_binary: str, tmp_path: Path
) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# before\n\n{report.BEGIN}\nold figures\n{report.END}\n\n# after\n")
    out = subprocess.run(
        [sys.executable, "-m", "bench", "--seconds", "2", "--rounds", "1",
         "--connections", "1,64", "--streams", "20", "--lengths", "2,6", "--turns", "3",
         "--replica-runs", str(REPLICA_RUNS), "--results", str(tmp_path),
         "--readme", str(readme)],
        cwd=ROOT, capture_output=True, text=True, timeout=540, env=without_peers_variable(),
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    results = json.loads((tmp_path / "bench.json").read_text())
    servers = ["langstar", "seed", "langgraph-dev"]
    if has_workers_option():
        servers.append("langstar-workers")
    else:
        assert "--workers" in results["workers_note"]
    assert sorted(results["wait"]) == sorted(servers)
    for server in servers:
        for connections in ("1", "16", "64"):
            row = results["wait"][server][connections]
            assert row["non_2xx"] == row["socket_errors"] == 0, (server, row)
            # langgraph dev's queue wakes once a second: two seconds at one connection may
            # see a single answer, or none.
            if (server, connections) != ("langgraph-dev", "1"):
                assert row["requests"] > 0, (server, row)
                assert row["server_cpu_ms_per_request"] > 0, (server, row)
        at16 = results["wait"][server]["16"]
        # wrk's own CPU is shown, and it is a fraction of what the server needs.
        assert 0 < at16["generator_cpu_ms_per_request"] < at16["server_cpu_ms_per_request"]
    for server in ("langstar", "seed"):
        assert results["wait"][server]["16"]["postgres_cpu_ms_per_request"] > 0
    for server in ("langstar", "seed", "langgraph-dev"):
        assert results["turns"][server]["turn_1_p50_ms"] > 0
        # Every turn number is measured as often: each conversation at once, each round.
        assert results["turns"][server]["samples_per_turn"] == TALKS * TALK_ROUNDS
        assert results["turns"][server]["generator_cpu_s"] > 0
    for server in ("langstar", "langgraph-dev"):
        stream = results["stream"][server]
        assert stream["streams_succeeded"] == stream["streams"] == 20, (server, stream)
        assert stream["first_messages_ms"] > 0
        assert set(results["state"][server]) == {"2", "6", "generator_cpu_s"}
    assert "seed" not in results["stream"]
    assert results["ceiling"]["pooled"] > 0
    # The run's own process streams every token of the slow graph (100 per run).
    replicas = results["replicas"]
    assert replicas["local"]["messages_events"] == 100 * REPLICA_RUNS, replicas
    assert replicas["remote"]["failures"] == [], replicas
    # Every target is stated, met or not, and the table says which.
    assert len(results["targets"]["met"]) == TARGETS
    assert out.stdout.count("met: ") == TARGETS
    assert (tmp_path / "wait.png").stat().st_size > 0
    assert results["flame"] == f"wrote {tmp_path / 'flame-wait.svg'}"
    assert (tmp_path / "flame-wait.svg").read_text().lstrip().startswith("<?xml")
    # The page's block is this run's report, and nothing around it changed. The chart is not
    # linked from it: the docs site is built strictly from docs/ alone.
    written = readme.read_text()
    assert written.startswith(f"# before\n\n{report.BEGIN}\nRun of ")
    assert written.endswith(f"\n{report.END}\n\n# after\n")
    assert "](" not in written.split(report.BEGIN)[1]
    assert "old figures" not in written
    assert "Targets (ratios of this run):" in written


def without_peers_variable() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "LANGSTAR_BENCH_PEERS"}


def clean_clone(into: Path) -> Path:
    """The files of the repo's `bench` package a clone of it holds, and nothing beside them.

    Those git tracks, and those it would once committed (not the ignored ones): the repo's
    working tree, as a clone made after committing it would have them.
    """
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "bench"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    clone = into / "clone"
    for name in listed:
        if (ROOT / name).is_file():  # a tracked file deleted in the work tree is gone
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, clone / name)
    return clone


@pytest.mark.timeout(300)
def test_the_quick_look_runs_on_a_clone_with_nothing_beside_it(
    wrk_binary: str, tmp_path: Path
) -> None:
    clone = clean_clone(tmp_path)
    out = subprocess.run(
        [sys.executable, "-m", "bench", "--only", "langstar,seed", "--workloads", "wait",
         "--connections", "16", "--seconds", "1", "--rounds", "1", "--no-flame",
         "--results", str(tmp_path / "results")],
        cwd=clone, capture_output=True, text=True, timeout=240, env=without_peers_variable(),
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    results = json.loads((tmp_path / "results" / "bench.json").read_text())
    for server in ("langstar", "seed"):
        row = results["wait"][server]["16"]
        assert row["requests"] > 0, (server, row)
        assert row["non_2xx"] == row["socket_errors"] == 0, (server, row)
    assert "req/s / seed's" in out.stdout


def test_a_peers_folder_missing_a_file_stops_the_bench_naming_it(tmp_path: Path) -> None:
    clone = clean_clone(tmp_path)
    (clone / "bench" / "peers" / "wait.lua").unlink()
    out = subprocess.run(
        [sys.executable, "-m", "bench", "--only", "seed", "--workloads", "wait"],
        cwd=clone, capture_output=True, text=True, timeout=60, env=without_peers_variable(),
    )  # fmt: skip
    assert out.returncode == 1
    peers = clone / "bench" / "peers"
    assert out.stderr.strip().splitlines() == [f"bench: {peers} has no wait.lua"]


def test_without_wrk_the_bench_stops_saying_how_to_install_it(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bench", "--only", "seed", "--workloads", "wait"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**without_peers_variable(), "PATH": str(tmp_path)},  # where no wrk is
    )  # fmt: skip
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [
        "bench: wrk is not installed; install it (as root): apt-get install -y wrk"
    ]


def test_wrk_report_is_read_with_its_failures() -> None:
    report_text = """Running 1s test @ http://127.0.0.1:18765
  1 threads and 2 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.13ms  818.78us   6.83ms   83.45%
    Req/Sec     1.76k   188.69     2.13k    70.00%
  Latency Distribution
     50%  910.00us
     75%    1.44ms
     90%    2.09ms
     99%    1.20s
  1758 requests in 2.00s, 0.93MB read
  Socket errors: connect 0, read 3, write 0, timeout 2
  Non-2xx or 3xx responses: 58
Requests/sec:    879.00
Transfer/sec:      0.93MB
"""
    row = wrk.parse(report_text)
    assert row["requests"] == 1700  # wrk counts the non-2xx answers as requests
    assert row["non_2xx"] == 58
    assert row["socket_errors"] == 5
    assert row["rps"] == 850
    assert row["p50_ms"] == pytest.approx(0.91)
    assert row["p99_ms"] == pytest.approx(1200)


def test_an_unreadable_wrk_report_stops_the_bench() -> None:
    with pytest.raises(SystemExit, match="cannot read wrk's report"):
        wrk.parse("unable to connect to 127.0.0.1:1 Connection refused\n")
