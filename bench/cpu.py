"""CPU time and memory of a process tree, read from /proc.

A server may be several processes (langstar with workers: a parent and its children;
`langgraph dev` may start helpers; PostgreSQL: a postmaster and a backend per
connection). Its CPU time is the sum over the tree, each process's own time plus that of
the children it has already waited for (a PostgreSQL backend that ended is counted in
its postmaster's).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def tree(pid: int) -> list[int]:
    """`pid` and every process below it, as they are now."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                todo += [int(child) for child in task.read_text().split()]
            except OSError:  # the thread or the process ended meanwhile
                continue
    return found


def _stat(pid: int) -> list[str]:
    # The command name (field 2) may hold spaces: split after its closing parenthesis.
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system) used so far by `pid`'s tree, reaped children included."""
    total = 0
    for member in tree(pid):
        try:
            fields = _stat(member)
        except OSError:  # ended between the walk and the read
            continue
        # utime, stime, cutime, cstime: fields 14-17 of stat, 12-15 after the name.
        total += sum(int(fields[i]) for i in (11, 12, 13, 14))
    return total / TICK


def rss_mb(pid: int) -> float:
    """Resident memory of one process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def largest(pid: int) -> int:
    """The process of `pid`'s tree with the most resident memory: the one that serves."""
    sizes = {}
    for member in tree(pid):
        try:
            sizes[member] = rss_mb(member)
        except OSError:
            continue
    return max(sizes, key=lambda member: sizes[member], default=pid)


def settle(pids: list[int], quiet_share: float = 0.1, limit_s: float = 5.0) -> None:
    """Wait (up to `limit_s`) until the trees use under `quiet_share` of a core.

    A server may still be finishing the requests of the last measurement when the next
    starts; its CPU time would then be charged to the wrong requests.
    """
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        before = sum(cpu_seconds(pid) for pid in pids)
        time.sleep(0.25)
        if sum(cpu_seconds(pid) for pid in pids) - before < quiet_share * 0.25:
            return
