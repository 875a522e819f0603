"""LangGraph's JS SDK, and its React `useStream` hook, get the same answers from langstar
as from `langgraph dev`.

Hypothesis writes programs of SDK calls (threads, runs in every stream mode, background
runs joined in other modes, interrupts resumed the way agent-chat-ui resumes them, dropped
connections and page reloads); `js/driver.mjs` runs each program with the official SDK
against both servers, and every observation must match once ids and times are blanked,
except those that `DIFFERENCES` names.

The test installs the driver's npm packages into `js/` when they are missing or stale.
It runs a few fixed programs by default; to run more, set
`DIFFERENTIAL_EXAMPLES=50` (and `DIFFERENTIAL_SEED` to draw other ones;
`DIFFERENTIAL_SURVEY=1` to list every difference instead of stopping at the first).
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from tests.differential.differences import is_deliberate, reconcile
from tests.differential.normalise import blank

JS = Path(__file__).resolve().parent / "js"
EXAMPLES = int(os.environ.get("DIFFERENTIAL_EXAMPLES", "5"))
SEED = int(os.environ.get("DIFFERENTIAL_SEED", "20261207"))
# List every difference instead of stopping at the first.
SURVEY = bool(os.environ.get("DIFFERENTIAL_SURVEY"))
PROGRAM_TIMEOUT = 180

Op = dict[str, Any]
Draw = Callable[..., Any]


# --- the driver ------------------------------------------------------------------------


def _installed() -> bool:
    stamp = JS / "node_modules" / ".langstar-installed.json"
    return stamp.exists() and stamp.read_text() == (JS / "package.json").read_text()


@pytest.fixture(scope="session")
def js_driver() -> Path:
    """`js/driver.mjs`, its packages installed as `package.json` pins them."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail(
            "node and npm must be on PATH: the JS SDK's differential test runs under Node 20+"
        )
    if not _installed():
        done = subprocess.run(
            [npm, "install", "--no-package-lock", "--no-audit", "--no-fund"],
            cwd=JS, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        if done.returncode != 0:
            pytest.fail(f"npm install failed in {JS}:\n{done.stdout}\n{done.stderr}")
        (JS / "node_modules" / ".langstar-installed.json").write_text(
            (JS / "package.json").read_text()
        )
    return JS / "driver.mjs"


def run_program(driver: Path, url: str, ops: list[Op]) -> list[dict[str, Any]]:
    done = subprocess.run(
        ["node", str(driver), "--url", url],
        input=json.dumps({"ops": ops}), capture_output=True, text=True, timeout=PROGRAM_TIMEOUT,
    )  # fmt: skip
    assert done.returncode == 0, f"the driver failed against {url}:\n{done.stderr}"
    return [json.loads(line) for line in done.stdout.splitlines()]


# --- programs --------------------------------------------------------------------------

MODES = ("values", "updates", "messages-tuple", "custom", "events", "debug")
ANSWERS = ("yes", {"approved": True}, ["a", 1])


def say(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


def op(kind: str, *case: Any, **fields: Any) -> Op:
    """An operation for the driver, named by its kind and what makes it that case."""
    name = " ".join([kind, *(str(c) for c in case if c not in (None, "", ()))])
    return {"op": kind, "name": name, **fields}


def modes(draw: Draw, among: tuple[str, ...] = MODES) -> list[str]:
    chosen: list[str] = draw(st.lists(st.sampled_from(among), min_size=1, max_size=3, unique=True))
    return chosen


def joined(mode: list[str]) -> str:
    return ",".join(sorted(mode))


def state_checks(t: str) -> list[Op]:
    return [op("threads.getState", thread=t), op("threads.get", thread=t)]


@st.composite
def wait_scenario(draw: Draw, t: str, r: str) -> list[Op]:
    """A run waited for, on a thread (then copied, a POST with no body) or on none."""
    graph = draw(st.sampled_from(["echo", "chatty", "nested", "contextual"]))
    payload: dict[str, Any] = {"input": say(draw(st.sampled_from(["hi", "ciao"])))}
    if graph == "contextual":
        context = draw(st.sampled_from([None, {}, {"greeting": "hey"}, {"model": "m/x"}]))
        if context is not None:
            payload["context"] = context
    case = (graph, "context" if "context" in payload else "")
    if draw(st.booleans()):
        return [op("runs.wait", "stateless", *case, thread=None, graph=graph, payload=payload)]
    create = {"metadata": draw(st.sampled_from([{}, {"owner": "ann"}]))}
    if draw(st.booleans()):
        create["graphId"] = graph
    return [
        op("threads.create", thread=t, payload=create),
        op("runs.wait", *case, thread=t, graph=graph, payload=payload),
        *state_checks(t),
        op("threads.copy", thread=t, **{"as": f"{t}.copy"}),
        op("threads.getState", "of the copy", thread=f"{t}.copy"),
    ]


@st.composite
def stream_scenario(draw: Draw, t: str, r: str) -> list[Op]:
    graph = draw(st.sampled_from(["echo", "chatty", "nested", "hitl"]))
    mode = modes(draw)
    payload: dict[str, Any] = {"input": say("stream me"), "streamMode": mode}
    if graph == "nested" and draw(st.booleans()):
        payload["streamSubgraphs"] = True
    subgraphs = "subgraphs" if payload.get("streamSubgraphs") else ""
    return [
        op("threads.create", thread=t),
        op("runs.stream", graph, joined(mode), subgraphs,
           thread=t, graph=graph, run=r, payload=payload),
        op("runs.get", thread=t, run=r),
        *state_checks(t),
    ]  # fmt: skip


@st.composite
def background_scenario(draw: Draw, t: str, r: str) -> list[Op]:
    """A background run, rejoined from its first event in modes it may not have started with.

    It queues behind a slow run, so the join comes while it is still to run on both servers
    (the reference forgets a run's events once it has ended)."""
    graph = draw(st.sampled_from(["slow", "chatty", "echo"]))
    # Not `events`: a join in that mode is a listed difference (the reference sends none).
    started, wanted = modes(draw), modes(draw, tuple(m for m in MODES if m != "events"))
    payload = {"input": say("later"), "streamMode": started, "streamResumable": True,
               "multitaskStrategy": "enqueue"}  # fmt: skip
    options = {"streamMode": wanted, "lastEventId": "-1"}
    return [
        op("threads.create", thread=t),
        op("runs.create", "ahead", thread=t, graph="slow", run=f"{r}.0",
           payload={"input": say("ahead")}),
        op("runs.awaitStatus", thread=t, run=f"{r}.0", status="running"),
        op("runs.create", thread=t, graph=graph, run=r, payload=payload),
        op("runs.joinStream", graph, "started", joined(started), "joined", joined(wanted),
           thread=t, run=r, options=options),
        op("runs.join", thread=t, run=r),
        op("runs.get", thread=t, run=r),
        *state_checks(t),
    ]  # fmt: skip


@st.composite
def interrupt_scenario(draw: Draw, t: str, r: str) -> list[Op]:
    """An interrupt, answered as agent-chat-ui answers it, or with the plain client."""
    how = draw(st.sampled_from(["useStream resume", "useStream mark as resolved",
                                "runs.wait resume", "runs.stream resume"]))  # fmt: skip
    answer = draw(st.sampled_from(ANSWERS))
    command = {"goto": "__end__"} if how.endswith("resolved") else {"resume": answer}
    if how.startswith("useStream"):
        hook = {"fetchStateHistory": draw(st.booleans())}
        history = "with history" if hook["fetchStateHistory"] else ""
        resume = op("useStream.submit", how, history, thread=t, graph="hitl", values={},
                    submit={"command": command}, hook=hook)  # fmt: skip
    elif how == "runs.wait resume":
        resume = op("runs.wait", "resume", thread=t, graph="hitl", payload={"command": command})
    else:
        mode = modes(draw)
        resume = op("runs.stream", "resume", joined(mode), thread=t, graph="hitl",
                    payload={"command": command, "streamMode": mode})  # fmt: skip
    return [
        op("threads.create", thread=t),
        op("runs.wait", "until interrupted", thread=t, graph="hitl",
           payload={"input": say("may I?")}),
        op("threads.get", "interrupted", thread=t),
        resume,
        *state_checks(t),
    ]  # fmt: skip


SEARCH_OPTIONS: tuple[tuple[str, list[Any]], ...] = (
    ("status", ["idle", "busy", "interrupted"]),
    ("sortBy", ["created_at", "updated_at"]),  # not thread_id: ids are generated
    ("sortOrder", ["asc", "desc"]),
    ("limit", [1, 2, 10]),
    ("offset", [0, 1]),
    ("select", [["thread_id", "status"], ["thread_id", "metadata", "values"]]),
    ("values", [{"messages": []}]),
    ("extract", [{"last": "values.messages[-1].content"}]),
)


@st.composite
def search_scenario(draw: Draw, t: str, r: str) -> list[Op]:
    """Threads found by metadata, with every optional field the SDK can send."""
    suite = "<suite>"  # the driver makes it a new uuid each time it runs the program
    n = draw(st.integers(min_value=1, max_value=3))
    if_exists = draw(st.sampled_from([None, "raise", "do_nothing"]))
    extra = {"ifExists": if_exists} if if_exists else {}
    ops = [
        op(
            "threads.create",
            thread=f"{t}.{i}",
            payload={"metadata": {"suite": suite, "n": i}, **extra},
        )
        for i in range(n)
    ]
    query: dict[str, Any] = {"metadata": {"suite": suite}}
    for key, values in SEARCH_OPTIONS:
        if draw(st.booleans()):
            query[key] = draw(st.sampled_from(values))
    # `langgraph dev` answers a `values` filter with 500 when a thread it matches has no
    # values yet (langgraph_runtime_inmem: TypeError on None), so then every thread runs.
    ran = n if "values" in query else draw(st.integers(min_value=0, max_value=n))
    for i in range(ran):
        ops.append(
            op(
                "runs.wait",
                "echo",
                thread=f"{t}.{i}",
                graph="echo",
                payload={"input": say(f"x{i}")},
            )
        )
    options = joined([k for k in query if k != "metadata"])
    return [
        *ops,
        op("threads.search", options, query=query),
        op("threads.search", "ids", ids=[f"{t}.{i}" for i in range(n)],
           query={"sortBy": "created_at", "sortOrder": "asc"}),
    ]  # fmt: skip


@st.composite
def delete_scenario(draw: Draw, t: str, r: str) -> list[Op]:
    busy = draw(st.booleans())
    ops = [op("threads.create", thread=t)]
    if busy:
        ops.append(op("runs.create", thread=t, graph="slow", run=r, payload={"input": say("nap")}))
    ops.append(op("threads.delete", "with a run in flight" if busy else "", thread=t))
    if busy:
        ops.append(op("runs.join", "after delete", thread=t, run=r))
    return [
        *ops,
        op("threads.get", "after delete", thread=t),
        op("threads.delete", "again", thread=t),
    ]


@st.composite
def cancel_scenario(draw: Draw, t: str, r: str) -> list[Op]:
    """A run cancelled while it waits behind another (`multitask_strategy: enqueue`)."""
    action = draw(st.sampled_from(["interrupt", "rollback"]))
    wait = draw(st.booleans())
    second = {"input": say("second"), "multitaskStrategy": "enqueue"}
    return [
        op("threads.create", thread=t),
        op("runs.create", thread=t, graph="slow", run=f"{r}.0", payload={"input": say("first")}),
        op("runs.create", "enqueued", thread=t, graph="echo", run=f"{r}.1", payload=second),
        op("runs.cancel", "pending", action, "wait" if wait else "",
           thread=t, run=f"{r}.1", action=action, wait=wait),
        op("runs.join", thread=t, run=f"{r}.0"),
        op("runs.get", "cancelled", action, "wait" if wait else "", thread=t, run=f"{r}.1"),
        *state_checks(t),
    ]  # fmt: skip


@st.composite
def reconnect_scenario(draw: Draw, t: str, r: str) -> list[Op]:
    """A resumable stream whose connection drops: the SDK reconnects with Last-Event-ID.

    The `slow` graph sleeps a second after its first events, so the connection drops while
    the run is still going, and the SDK reconnects whatever the machine's speed.
    """
    mode = modes(draw)
    early = 2 if {"values", "events", "debug"} & set(mode) else 1  # events sent before the nap
    cut = draw(st.integers(min_value=1, max_value=early))
    payload = {"input": say("drop me"), "streamMode": mode, "streamResumable": True}
    return [
        op("threads.create", thread=t),
        op("runs.streamReconnect", "dropped after", cut, joined(mode),
           thread=t, graph="slow", run=r, cutAfter=cut, payload=payload),
        op("runs.join", thread=t, run=r),
        *state_checks(t),
    ]  # fmt: skip


@st.composite
def use_stream_scenario(draw: Draw, t: str, r: str) -> list[Op]:
    """A first message from a React app: the hook creates the thread and streams the run."""
    graph = draw(st.sampled_from(["chatty", "echo", "nested", "contextual"]))
    hook = {
        "fetchStateHistory": draw(st.booleans()),
        "onCustomEvent": draw(st.booleans()),
        "reconnectOnMount": draw(st.booleans()),
    }
    submit: dict[str, Any] = {}
    if graph == "contextual" and draw(st.booleans()):
        submit["context"] = {"greeting": "hello"}
    flags = joined([k for k, v in hook.items() if v])
    return [
        op("useStream.submit", graph, flags, thread=t, graph=graph, values=say("from react"),
           hook=hook, submit=submit),
        *state_checks(t),
    ]  # fmt: skip


@st.composite
def reload_scenario(draw: Draw, t: str, r: str) -> list[Op]:
    """A page reloaded mid-run: useStream finds the run in sessionStorage and rejoins it."""
    cut = draw(st.integers(min_value=1, max_value=2))
    history = draw(st.booleans())
    return [
        op("threads.create", thread=t),
        op("useStream.reload", "after", cut, "with history" if history else "",
           thread=t, graph="slow", values=say("reload"), cutAfter=cut,
           hook={"fetchStateHistory": history}),
        op("runs.list", thread=t),
        *state_checks(t),
    ]  # fmt: skip


SCENARIOS = (wait_scenario, stream_scenario, background_scenario, interrupt_scenario,
             search_scenario, delete_scenario, cancel_scenario, reconnect_scenario,
             use_stream_scenario, reload_scenario)  # fmt: skip


@st.composite
def programs(draw: Draw) -> list[Op]:
    kinds = draw(st.lists(st.sampled_from(SCENARIOS), min_size=1, max_size=3))
    ops: list[Op] = []
    for i, kind in enumerate(kinds):
        ops += draw(kind(f"t{i}", f"r{i}"))
    return ops


# --- comparing -------------------------------------------------------------------------


_GENERATED_KEY = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def blank_keys(value: Any) -> Any:
    """`value` with generated ids as dict keys (a thread's `interrupts`) numbered instead."""
    if isinstance(value, dict):
        seen: dict[str, str] = {}

        def key(k: str) -> str:
            return _GENERATED_KEY.sub(lambda m: seen.setdefault(m[0], f"<key {len(seen)}>"), k)

        return {key(k): blank_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [blank_keys(v) for v in value]
    return value


def comparable(result: Any) -> Any:
    return blank(blank_keys(without_hook_tokens(result)))


def without_hook_tokens(result: Any) -> Any:
    """A `useStream` observation less the events its requests received.

    The hook's requests (paths, queries, bodies, statuses) and the messages, values,
    interrupt and error it ends with are compared; the events it read are not, one by
    one: in 30- and 40-program runs the recording of either server's stream now and
    then lacked its last events (token chunks or the final values), while the hook
    ended with the same messages, and 200 streams of the same body read directly from
    langstar all held every event. `runs.stream` compares streams event by event. Nor
    does it count the hook's reads of the thread's state: how many it makes depends on
    whether the run ended before a reloaded page rejoined it."""
    if not isinstance(result, dict) or not isinstance(result.get("requests"), list):
        return result
    requests = [
        {k: v for k, v in r.items() if k != "events"} if isinstance(r, dict) else r
        for r in result["requests"]
        if not _is_state_read(r)
    ]
    return {**result, "requests": requests}


def _is_state_read(request: Any) -> bool:
    name = request.get("request", "") if isinstance(request, dict) else ""
    return bool(re.fullmatch(r"GET /threads/[^/]+/state", name))


def short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 400 else text[:400] + "…"


def paths(ref: Any, ours: Any, at: str = "") -> list[str]:
    """Where two blanked answers differ, one line per place, both values shown."""
    if isinstance(ref, dict) and isinstance(ours, dict):
        found = []
        for key in [*ref, *(k for k in ours if k not in ref)]:
            if key not in ours:
                found.append(f"{at}.{key}: only langgraph dev has it = {short(ref[key])}")
            elif key not in ref:
                found.append(f"{at}.{key}: only langstar has it = {short(ours[key])}")
            else:
                found += paths(ref[key], ours[key], f"{at}.{key}")
        return found
    if isinstance(ref, list) and isinstance(ours, list):
        return list_paths(ref, ours, at)
    if ref == ours:
        return []
    return [f"{at or '.'}: langgraph dev {short(ref)} | langstar {short(ours)}"]


def list_paths(ref: list[Any], ours: list[Any], at: str) -> list[str]:
    """Items only one server sent (an event stream's extra event), then items that differ."""
    found = []
    a, b = [alignment(x) for x in ref], [alignment(x) for x in ours]
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal" or (tag == "replace" and i2 - i1 == j2 - j1):
            for i, j in zip(range(i1, i2), range(j1, j2), strict=True):
                found += paths(ref[i], ours[j], f"{at}[{i}]")
            continue
        found += [f"{at}[{i}]: only langgraph dev sent {short(ref[i])}" for i in range(i1, i2)]
        found += [f"{at}[{j}]: only langstar sent {short(ours[j])}" for j in range(j1, j2)]
    return found


_ALIGN_BY = ("request", "event", "name", "type", "content")


def alignment(item: Any) -> str:
    """What lines up two servers' list items: an event's name, a message's type and text."""
    if isinstance(item, list) and item and isinstance(item[0], str):  # [event, data, has id]
        data = item[1] if len(item) > 1 else None
        return item[0] + (f":{data.get('event')}" if isinstance(data, dict) else "")
    if isinstance(item, dict) and any(k in item for k in _ALIGN_BY):
        return json.dumps([item.get(k) for k in _ALIGN_BY])
    return json.dumps(item, sort_keys=True)


def mismatches(reference: list[dict[str, Any]], langstar: list[dict[str, Any]]) -> list[str]:
    """Each observation on which the two servers disagree, shown with both answers."""
    found = []
    for ref, ours in zip(reference, langstar, strict=True):
        a, b = comparable(ref["result"]), comparable(ours["result"])
        if any(is_deliberate(n, a, b) for n in (ref["name"], ref["name"].split(" ")[0])):
            continue
        a, b = reconcile(a, b)
        if a != b:
            answers = (("langgraph dev", ref), ("langstar", ours))
            details = "".join(f"\n  ({who}: {o['detail']})" for who, o in answers if o["detail"])
            # An event or request only one server sent says more than a key: those first.
            found_paths = sorted(paths(a, b), key=lambda line: " sent " not in line)
            where = "\n  ".join(found_paths[:15])
            found.append(f"{ref['name']}:\n  {where}{details}")
    return found


# Both servers' start, npm's install, then up to half a minute a program on a busy machine.
@pytest.mark.timeout(120 + 30 * EXAMPLES)
def test_js_sdk_gets_the_same_answers_from_langstar_as_from_langgraph_dev(
    js_driver: Path, reference_url: str, langstar_url: str
) -> None:
    @seed(SEED)
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(programs())
    def same_answers(ops: list[Op]) -> None:
        with ThreadPoolExecutor(2) as pool:
            ours = pool.submit(run_program, js_driver, langstar_url, ops)
            reference = run_program(js_driver, reference_url, ops)
            found = mismatches(reference, ours.result())
        program = ", ".join(op["name"] for op in ops)
        tally["programs"] += 1
        tally["operations"] += len(ops)
        if SURVEY:
            surveyed.extend(found)
            return
        assert not found, f"program: {program}\n\n" + "\n\n".join(found)

    surveyed: list[str] = []
    tally = {"programs": 0, "operations": 0}
    try:
        same_answers()
    finally:
        print(f"differential (JS SDK): {tally['programs']} programs, {tally['operations']} "
              f"operations compared, {len(surveyed)} differences")  # fmt: skip
    for found in dict.fromkeys(surveyed):
        print(found, end="\n\n")
