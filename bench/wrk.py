"""`wrk` as the throughput load generator: installed when missing, run, its report read.

A load generator written in Python needs more CPU per request than the servers measured
here; on two cores it starves the server it measures. `wrk` (C, an event loop per thread)
needs a fraction of that, and the bench shows how much it used beside each figure.
"""

from __future__ import annotations

import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

TIMEOUT_S = 60  # wrk's own default (2 s) would count a slow answer at 64 connections as lost
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def ensure_wrk() -> str:
    """The path of `wrk`, installing Debian's package first if it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    say("wrk is not installed: apt-get install -y wrk")
    install = ["apt-get", "install", "-y", "-q", "wrk"]
    env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    try:
        done = _quiet(install, env)
        if done.returncode != 0:
            say("the install failed; apt-get update, then again")
            _quiet(["apt-get", "update", "-q"], env)
            done = _quiet(install, env)
    except OSError as exc:  # no apt-get on this system
        raise SystemExit(f"bench: cannot install wrk ({exc}); install it and run again") from exc
    found = shutil.which("wrk")
    if found is None:
        tail = done.stdout.strip().splitlines()[-3:]
        raise SystemExit(
            "bench: wrk is needed for the throughput workload and could not be installed "
            f"with apt-get ({' / '.join(tail)}); install it (e.g. `apt-get install wrk`) "
            "and run again"
        )
    say(f"installed {found}")
    return found


def _quiet(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False
    )


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
