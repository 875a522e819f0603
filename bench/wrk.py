"""`wrk` as the throughput load generator: found, run, its report read.

A load generator written in Python needs more CPU per request than the servers measured
here; on two cores it starves the server it measures. `wrk` (C, an event loop per thread)
needs a fraction of that, and the bench shows how much it used beside each figure.
"""

from __future__ import annotations

import re
import resource
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

TIMEOUT_S = 60  # wrk's own default (2 s) would count a slow answer at 64 connections as lost
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}
INSTALL = "apt-get install -y wrk"


def ensure_wrk() -> str:
    """The path of `wrk`; the bench stops with the command that installs it when it is missing.

    It is Debian's package: installing it needs root, which the bench does not take on
    its own.
    """
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit(f"bench: wrk is not installed; install it (as root): {INSTALL}")
    return found


def children_cpu_seconds() -> float:
    """CPU time of this process's finished children, those it has waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(wrk: str, script: Path, url: str, connections: int, seconds: int) -> dict[str, Any]:
    """One `wrk` run of `script` against `url`, with wrk's own CPU time.

    One wrk thread: it keeps thousands of requests a second going, and a second thread
    would only take CPU from the server on a small machine.
    """
    args = [wrk, "-t", "1", "-c", str(connections), "-d", f"{seconds}s",
            "--timeout", f"{TIMEOUT_S}s", "--latency", "-s", str(script), url]  # fmt: skip
    cpu_before = children_cpu_seconds()
    started = time.perf_counter()
    out = subprocess.run(args, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if out.returncode != 0:
        raise SystemExit(f"bench: wrk failed ({out.returncode}): {out.stderr.strip()}")
    row = parse(out.stdout)
    row["generator_cpu_s"] = children_cpu_seconds() - cpu_before
    row["generator_cpu_share"] = row["generator_cpu_s"] / elapsed  # of one core
    return row


def parse(report: str) -> dict[str, Any]:
    """Requests, their rate, failures and latency percentiles from wrk's `--latency` report.

    wrk counts every answer as a request, whatever its status: the answered ones (2xx) are
    the requests minus the non-2xx ones.
    """
    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", report)
    if total is None:
        raise SystemExit(f"bench: cannot read wrk's report:\n{report}")
    seconds = float(total[2]) * UNITS[total[3]] / 1000
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", report)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", report
    )
    latency = {
        int(m[1]): float(m[2]) * UNITS[m[3]]
        for m in re.finditer(r"^\s+(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m)\s*$", report, re.M)
    }
    requests = int(total[1])
    failed = int(non_2xx[1]) if non_2xx else 0
    return {
        "requests": requests - failed,
        "non_2xx": failed,
        "socket_errors": sum(int(n) for n in sockets.groups()) if sockets else 0,
        "seconds": seconds,
        "rps": (requests - failed) / seconds if seconds else 0.0,
        "p50_ms": latency.get(50, 0.0),
        "p99_ms": latency.get(99, 0.0),
    }
