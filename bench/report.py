"""The bench's report: its tables, its targets, the chart, and its block in the docs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
TURNS = 20  # the multi-turn workload's turns per conversation, unless --turns says


def label(results: dict[str, Any], server: str) -> str:
    found: str = results["servers"][server]["label"]
    return found


def table(results: dict[str, Any]) -> str:
    lines: list[str] = [
        f"Run of {results['date']}: {results['machine']}, {results['postgres']}; "
        f"`{results['command']}` took {results['duration_s'] / 60:.1f} minutes."
    ]
    for section, render in (
        ("wait", _wait_table),
        ("turns", _turns_table),
        ("stream", _stream_table),
        ("state", _state_table),
        ("replicas", _replicas_table),
        ("targets", _targets_table),
    ):
        if section in results:
            lines += render(results)
    return "\n".join(lines)


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def _wait_table(results: dict[str, Any]) -> list[str]:
    lines = [
        "",
        f"`runs/wait` on fresh threads, `wrk` with the peers' `wait.lua`, {results['rounds']} "
        f"round(s) of {results['seconds']} s per server and connection count, servers taking "
        "turns; req/s is the median round (the rounds' range beside it), latency the median "
        "round's; CPU is per answered request, over every round: the server's process tree, "
        "PostgreSQL's, and `wrk`'s own.",
        "",
        "| connections | server | req/s | rounds | p50 ms | p99 ms | failed "
        "| server CPU ms/req | PostgreSQL CPU ms/req | wrk CPU ms/req | req/s / seed's |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in results["connections"]:
        seed = results["wait"].get("seed", {}).get(str(c), {}).get("rps")
        for server, rows in results["wait"].items():
            row = rows[str(c)]
            ratio = f"{row['rps'] / seed:.2f}x" if seed and server != "seed" else ""
            spread = "-".join(f"{r:.0f}" for r in (min(row["rounds_rps"]), max(row["rounds_rps"])))
            failed = row["non_2xx"] + row["socket_errors"]
            lines.append(
                f"| {c} | {label(results, server)} | {row['rps']:.0f} | {spread} "
                f"| {row['p50_ms']:.0f} | {row['p99_ms']:.0f} | {failed} "
                f"| {_ms(row['server_cpu_ms_per_request'])} "
                f"| {_ms(row['postgres_cpu_ms_per_request'])} "
                f"| {_ms(row['generator_cpu_ms_per_request'])} | {ratio} |"
            )
    if "langgraph-dev" in results["wait"] and 1 in results["connections"]:
        lines.append(
            "\nAt 1 connection `langgraph dev` answers about once a second: its run queue "
            "wakes once a second, so a lone client waits for the next wake-up. Its figure "
            "there measures that interval, not its speed."
        )
    note = results.get("workers_note")
    if note:
        lines.append(f"\n{note}")
    if "ceiling" in results:
        ceil = results["ceiling"]
        lines.append(
            f"\nIn-process ceiling (`inprocess_limit.py`, `graph.ainvoke` at 16 tasks, no HTTP), "
            f"median of {len(ceil['rounds_pooled'])} round(s): stock saver {ceil['stock']:.0f} "
            f"runs/s, pooled lock-free saver {ceil['pooled']:.0f} runs/s (rounds: "
            + ", ".join(f"{r:.0f}" for r in ceil["rounds_pooled"])
            + ")."
        )
    return lines


def _generator(row: dict[str, Any]) -> str:
    return f"{row['generator_cpu_s']:.1f} s"


def _turns_table(results: dict[str, Any]) -> list[str]:
    turns = results.get("turns_per_conversation", TURNS)
    lines = [f"\nMulti-turn (8 conversations of {turns} turns, httpx), p50 latency:"]
    for server, talk in results["turns"].items():
        lines.append(
            f"- {label(results, server)}: turn 1 {talk['turn_1_p50_ms']:.0f} ms, turn {turns} "
            f"{talk[f'turn_{turns}_p50_ms']:.0f} ms ({talk['last_over_first']:.2f}x); "
            f"generator CPU {_generator(talk)}"
        )
    return lines


def _stream_table(results: dict[str, Any]) -> list[str]:
    servers = list(results["stream"])
    lines = [
        "\n| streaming (`stream_probe.py`) | "
        + " | ".join(label(results, s) for s in servers)
        + " | langstar / dev |",
        "|---|" + "---|" * (len(servers) + 1),
    ]
    rows = [
        ("first `messages` event, ms", "first_messages_ms", "{:.0f}"),
        ("`fast` events per second", "fast_events_per_s", "{:.0f}"),
        (f"slow streams succeeded (of {results['streams']})", "streams_succeeded", "{:.0f}"),
        ("slow streams: total time, s", "total_s", "{:.1f}"),
        ("server RSS growth, MB", "rss_growth_mb", "{:.0f}"),
        ("gap between events p50, ms", "gap_p50_ms", "{:.0f}"),
        ("gap between events p99, ms", "gap_p99_ms", "{:.0f}"),
        ("probe's own CPU (httpx), s", "generator_cpu_s", "{:.1f}"),
    ]
    for text, key, shape in rows:
        values = [results["stream"][server][key] for server in servers]
        dev = results["stream"].get("langgraph-dev", {}).get(key)
        ours = results["stream"].get("langstar", {}).get(key)
        ratio = f"{ours / dev:.2f}x" if dev and ours is not None else ""
        lines.append(f"| {text} | " + " | ".join(shape.format(v) for v in values) + f" | {ratio} |")
    return lines


def _state_table(results: dict[str, Any]) -> list[str]:
    lines = [
        "\n| checkpoints | server | latest state p50 ms | history (10) p50 ms |",
        "|---|---|---|---|",
    ]
    for length in results["lengths"]:
        for server, reads in results["state"].items():
            row = reads[str(length)]
            lines.append(
                f"| {length} | {label(results, server)} | {row['state_p50_ms']:.1f} | "
                f"{row['history_p50_ms']:.1f} |"
            )
    lines.append(
        "\nGenerator CPU (httpx) for the state reads, threads built included: "
        + ", ".join(
            f"{label(results, s)} {_generator(reads)}" for s, reads in results["state"].items()
        )
    )
    return lines


def _replicas_table(results: dict[str, Any]) -> list[str]:
    found = results["replicas"]
    local, remote = found["local"], found["remote"]
    seen = ", ".join(f"{name} x{count}" for name, count in sorted(remote["events"].items()))
    return [
        f"\nA live stream followed from another process: {found['runs']} `slow` runs at once, "
        "each streamed on replica A (the run's process) and joined on replica B (another "
        "`langstar serve` on the same database): "
        f"A saw {local['messages_events']} `messages` events, gap p50 "
        f"{local['gap_p50_ms']:.0f} ms, p99 {local['gap_p99_ms']:.0f} ms; "
        f"B saw {remote['messages_events']}, gap p50 {remote['gap_p50_ms']:.0f} ms, p99 "
        f"{remote['gap_p99_ms']:.0f} ms (B's events: {seen or 'none'}); "
        f"probe's own CPU {_generator(found)}.",
    ]


def _targets_table(results: dict[str, Any]) -> list[str]:
    lines = ["\nTargets (ratios of this run):"]
    for name, met in results["targets"]["met"].items():
        lines.append(f"- {'met' if met else 'NOT met'}: {name}")
    return lines


def targets(results: dict[str, Any]) -> dict[str, Any]:
    """Each target, as a ratio of this run, with whether it holds."""
    found: dict[str, Any] = {"met": {}}
    if "wait" in results:
        _wait_targets(results, found)
    _other_targets(results, found)
    return found


def _rps(results: dict[str, Any], server: str, connections: int) -> float | None:
    row = results["wait"].get(server, {}).get(str(connections))
    return None if row is None else float(row["rps"])


def _wait_targets(results: dict[str, Any], found: dict[str, Any]) -> None:
    met = found["met"]
    wait = results["wait"]
    ours, seed = wait.get("langstar", {}).get("16"), wait.get("seed", {}).get("16")
    if ours and seed:
        ratio = found["vs_seed_16"] = ours["rps"] / seed["rps"]
        met[f"wrk, 16 connections: langstar (1 worker) {ratio:.3f}x the seed's req/s >= 1.25"] = (
            ratio >= 1.25
        )
        cpu = found["cpu_vs_seed_16"] = (
            ours["server_cpu_ms_per_request"] / seed["server_cpu_ms_per_request"]
        )
        met[f"wrk, 16 connections: langstar (1 worker) {cpu:.3f}x the seed's server CPU "
            "per request <= 1.0"] = cpu <= 1.0  # fmt: skip
    one, seed_one = _rps(results, "langstar", 1), _rps(results, "seed", 1)
    if one is not None and seed_one:
        ratio = found["vs_seed_1"] = one / seed_one
        met[f"wrk, 1 connection: langstar (1 worker) {ratio:.3f}x the seed's req/s >= 1.0"] = (
            ratio >= 1.0
        )
    if "ceiling" in results:
        many = _rps(results, "langstar-workers", 16)
        text = "wrk, 16 connections: langstar (default workers) vs the pooled in-process ceiling"
        if many is None:
            met[f"{text} >= 1.0: not measured"] = False
        else:
            ratio = found["workers_vs_ceiling"] = many / results["ceiling"]["pooled"]
            met[f"{text}: {ratio:.3f}x >= 1.0"] = ratio >= 1.0
    at64 = wait.get("langstar", {}).get("64")
    if at64 and ours:
        failed = at64["non_2xx"] + at64["socket_errors"]
        met[f"wrk, 64 connections: langstar (1 worker) answered {at64['non_2xx']} non-2xx, "
            f"{at64['socket_errors']} socket errors == 0"] = failed == 0  # fmt: skip
        ratio = found["64_vs_16"] = at64["rps"] / ours["rps"]
        met[f"wrk, 64 connections: langstar (1 worker) {ratio:.3f}x its req/s at 16 >= 1.0"] = (
            ratio >= 1.0
        )


def _other_targets(results: dict[str, Any], found: dict[str, Any]) -> None:
    met = found["met"]
    if "replicas" in results:
        local, remote = results["replicas"]["local"], results["replicas"]["remote"]
        if remote["messages_events"] < 2 or local["messages_events"] < 2:
            met[f"stream joined on another process: B saw {remote['messages_events']} "
                f"`messages` events of A's {local['messages_events']}, no gap to compare "
                "(p99 gap <= 1.5x the run's own process)"] = False  # fmt: skip
        else:
            ratio = found["remote_gap_p99_ratio"] = remote["gap_p99_ms"] / local["gap_p99_ms"]
            met[f"stream joined on another process: p99 gap between `messages` events "
                f"{ratio:.3f}x the run's own process <= 1.5 (B saw "
                f"{remote['messages_events']} events, A {local['messages_events']})"] = (
                ratio <= 1.5
            )  # fmt: skip
    if "langstar" in results.get("turns", {}):
        ratio = found["turn_20_over_turn_1"] = results["turns"]["langstar"]["last_over_first"]
        turns = results.get("turns_per_conversation", TURNS)
        met[f"turn {turns} / turn 1 p50 latency: {ratio:.3f}x <= 1.2"] = ratio <= 1.2
    stream = results.get("stream", {})
    if "langstar" in stream and "langgraph-dev" in stream:
        ours, dev = stream["langstar"], stream["langgraph-dev"]
        every = ours["streams_succeeded"] == ours["streams"]
        met[f"slow streams: {ours['streams_succeeded']}/{ours['streams']} succeeded"] = every
        for key, limit, text in (
            ("first_messages_ms", 0.1, "first `messages` event"),
            ("total_s", 0.5, "slow streams' total time"),
            ("rss_growth_mb", 0.5, "RSS growth"),
            ("gap_p99_ms", 0.33, "p99 gap between events"),
        ):
            ratio = found[f"{key}_vs_dev"] = ours[key] / max(dev[key], 1e-9)
            met[f"{text}: {ratio:.3f}x langgraph dev's <= {limit}"] = ratio <= limit
    if "langstar" in results.get("state", {}):
        reads = results["state"]["langstar"]
        short, long = results["lengths"][0], results["lengths"][-1]
        ratio = reads[str(long)]["state_p50_ms"] / reads[str(short)]["state_p50_ms"]
        found["state_read_growth"] = ratio
        met[f"latest state, {long} vs {short} checkpoints: {ratio:.3f}x <= 1.25"] = ratio <= 1.25


def chart(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    connections = results["connections"]
    servers = list(results["wait"])
    fig, ax = plt.subplots(figsize=(8, 4.5))
    width = 0.8 / len(servers)
    for i, server in enumerate(servers):
        rows = [results["wait"][server][str(c)] for c in connections]
        spread = [
            [r["rps"] - min(r["rounds_rps"]) for r in rows],
            [max(r["rounds_rps"]) - r["rps"] for r in rows],
        ]
        ax.bar([x + i * width for x in range(len(connections))], [r["rps"] for r in rows],
               width, yerr=spread, capsize=3, label=label(results, server))  # fmt: skip
    if "ceiling" in results:
        ax.axhline(results["ceiling"]["pooled"], color="grey", linestyle="--",
                   label="in-process ceiling (pooled saver)")  # fmt: skip
    tallest = max(max(r) for rows in results["wait"].values() for r in
                  (row["rounds_rps"] for row in rows.values()))  # fmt: skip
    ax.set_ylim(0, 1.4 * max(tallest, results.get("ceiling", {}).get("pooled", 0)))
    middle = width * (len(servers) - 1) / 2
    ax.set_xticks([x + middle for x in range(len(connections))], [str(c) for c in connections])
    ax.set_xlabel("connections (wrk)")
    ax.set_ylabel("runs/wait per second (median round; bars: rounds' range)")
    ax.set_title(f"runs/wait on fresh threads, {results['machine']}")
    ax.legend(fontsize="small", loc="upper center", ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def write_readme(readme: Path, block: str) -> None:
    """Replace what stands between the bench's markers in `readme` with `block`."""
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"bench: {readme} has no {BEGIN} ... {END} markers to write between")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{BEGIN}\n{block.strip()}\n{END}{tail}")
