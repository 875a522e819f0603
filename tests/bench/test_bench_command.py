"""`python -m bench` runs every workload against every peer and reports each target.

A small configuration of the real command: the same servers, load generator, stream
probe and report, for seconds instead of minutes, written to a temporary folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.__main__ import PEERS, TALKS, peers_folder
from bench.load import TALK_ROUNDS

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def peers() -> Path:
    try:
        return peers_folder()
    except SystemExit as exc:
        pytest.skip(str(exc))


@pytest.mark.timeout(600)
def test_the_bench_command_measures_every_peer_and_states_each_target(
    peers: Path, tmp_path: Path
) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bench", "--seconds", "1", "--connections", "2",
         "--streams", "20", "--lengths", "2,6", "--results", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=540,
        # As a fresh clone outside the workspace finds the peers.
        env={**os.environ, "LANGSTAR_BENCH_PEERS": str(peers)},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    results = json.loads((tmp_path / "bench.json").read_text())
    for peer in PEERS:
        for connections in ("2", "16"):
            row = results["wait"][peer][connections]
            assert row["requests"] > 0, (peer, row)
            assert row["errors"] == 0, (peer, row)
            assert row["server_cpu_ms_per_request"] > 0, (peer, row)
        assert results["turns"][peer]["turn_1_p50_ms"] > 0
        # Every turn number is measured as often: each conversation at once, each round.
        assert results["turns"][peer]["samples_per_turn"] == TALKS * TALK_ROUNDS
    for peer in ("langstar", "langgraph dev"):
        stream = results["stream"][peer]
        assert stream["streams_succeeded"] == stream["streams"] == 20, (peer, stream)
        assert stream["first_messages_ms"] > 0
        assert set(results["state"][peer]) == {"2", "6"}
    assert results["ceiling"]["pooled"] > 0
    assert "seed" not in results["stream"]
    # Every target is stated, met or not, and the table says which.
    assert len(results["targets"]["met"]) == 10
    assert out.stdout.count("met: ") == 10
    assert (tmp_path / "wait.png").stat().st_size > 0
    assert results["flame"] == f"wrote {tmp_path / 'flame-wait.svg'}"
    assert (tmp_path / "flame-wait.svg").read_text().lstrip().startswith("<?xml")
