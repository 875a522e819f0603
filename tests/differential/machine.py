"""A stateful property test: one random sequence of SDK calls, sent to both servers.

`Differential` drives the official Python SDK against `langgraph dev` and langstar with
the same operations (threads, runs in every stream mode and multitask strategy, joins
with other modes, interrupts and commands, state updates, forks, history, searches with
fields a server may not know, deletes with runs in flight, the store, crons and the
thread protocol's channels with subgraphs). After each operation it compares what the
two answered, with generated ids and times blanked. Observations named in
`differences.DELIBERATE` are not compared.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, rule
from langgraph_sdk.client import SyncLangGraphClient

from tests.differential.differences import (
    EXTRA_KEYS,
    MISSING_KEYS,
    is_deliberate,
    is_open,
    reconcile,
)
from tests.differential.graphs import GRAPHS
from tests.differential.normalise import blank

STREAM_MODES = (
    "values",
    "updates",
    "messages-tuple",
    "custom",
    "events",
    "debug",
    "tasks",
    "checkpoints",
    "messages",
)
STRATEGIES = ("reject", "enqueue", "interrupt", "rollback")
WORDS = st.sampled_from(["hi", "hello there", "plan a trip", "", "ünïcode ✓"])
LISTED_KEYS = EXTRA_KEYS | MISSING_KEYS
PROTOCOL_CHANNELS = ["lifecycle", "values", "messages", "input"]


@dataclass
class Tally:
    """What a session of the harness compared, for its closing line."""

    operations: int = 0
    observations: int = 0
    deliberate: int = 0
    open: int = 0  # differences listed as open in differences.OPEN
    mismatches: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"differential: {self.operations} operations, {self.observations} "
            f"observations compared, {self.deliberate} skipped as deliberate, {self.open} open, "
            f"{len(self.mismatches)} differences"
        )


@dataclass(frozen=True)
class Thread:
    """A thread made on both servers under one id, and the graph it was made for."""

    thread_id: str
    graph: str


@dataclass(frozen=True)
class Run:
    """A run started on both servers: each server gave it its own id."""

    thread: Thread
    ids: tuple[str, str]


def outcome(call: Callable[[], Any]) -> Any:
    """What a call answered: its value, or the HTTP status it failed with."""
    try:
        return ("ok", call())
    except httpx.HTTPStatusError as error:
        return ("http", error.response.status_code)
    except Exception as error:
        return ("raised", type(error).__name__, blank(str(error)))


def shape(value: Any) -> Any:
    """An object's sorted keys, or a list's length and its first item's keys."""
    if isinstance(value, dict):
        return sorted(value)
    if isinstance(value, list):
        return [len(value), shape(value[0]) if value else None]
    return type(value).__name__


def listed(item: dict[str, Any]) -> str:
    """A sort key for a listing's items on what both servers give, so the two listings
    come in the same order."""
    return json.dumps({k: v for k, v in item.items() if k not in LISTED_KEYS}, sort_keys=True)


def summary(run: dict[str, Any]) -> dict[str, Any]:
    """A run object less its `kwargs`, which each server fills in its own way, but the
    request's own fields."""
    kept = {k: run["kwargs"].get(k) for k in ("input", "command", "stream_mode")}
    return blank({**{k: v for k, v in run.items() if k != "kwargs"}, "kwargs": kept})


def events(parts: Iterator[Any]) -> list[tuple[str, Any]]:
    """A stream's events in order, each with its data blanked; `events` mode by name only."""
    seen = []
    for part in parts:
        data = part.data
        if part.event == "events" and isinstance(data, dict):
            data = (data.get("event"), data.get("name"))
        seen.append((blank(part.event), blank(data)))
    return seen


class Differential(RuleBasedStateMachine):
    """Each rule runs one operation on both servers and compares the answers."""

    clients: ClassVar[tuple[SyncLangGraphClient, SyncLangGraphClient]]
    tally: ClassVar[Tally]
    # Record every difference and go on, instead of stopping at the first.
    survey: ClassVar[bool] = False

    threads = Bundle("threads")
    runs = Bundle("runs")

    def __init__(self) -> None:
        super().__init__()
        self.example = uuid.uuid4().hex[:12]
        self.steps: list[str] = []
        self.deleted = False  # an item was deleted from the store

    # -- comparing ------------------------------------------------------------------

    def both(self, step: str, call: Callable[[SyncLangGraphClient, int], Any]) -> list[Any]:
        """Run `call` on the reference (side 0) then langstar (side 1); compare the answers."""
        self.steps.append(step)
        self.tally.operations += 1
        answers = [outcome(lambda side=side: call(self.clients[side], side)) for side in (0, 1)]
        self.compare(step, answers[0], answers[1])
        return answers

    def compare(self, name: str, theirs: Any, ours: Any) -> None:
        theirs, ours = (
            json.loads(json.dumps(theirs, default=str)),
            json.loads(json.dumps(ours, default=str)),
        )
        if any(is_deliberate(n, theirs, ours) for n in (name, name.split("(")[0].strip())):
            self.tally.deliberate += 1
            return
        self.tally.observations += 1
        theirs, ours = reconcile(theirs, ours)
        if theirs != ours and is_open(name.split("(")[0].strip(), theirs, ours):
            self.tally.open += 1
            return
        if theirs != ours:
            history = "\n".join(f"  {i}. {s}" for i, s in enumerate(self.steps, 1))
            message = (
                f"{name}:\n  langgraph dev: {theirs}\n  langstar:      {ours}\n"
                f"after these steps:\n{history}"
            )
            self.tally.mismatches.append(message)
            if not self.survey:
                raise AssertionError(message)

    # -- threads --------------------------------------------------------------------

    @initialize(target=threads, graph=st.sampled_from(GRAPHS))
    def first_thread(self, graph: str) -> Thread:
        return self.create_thread(graph)

    @rule(target=threads, graph=st.sampled_from(GRAPHS))
    def create_thread(self, graph: str) -> Thread:
        thread = Thread(str(uuid.uuid4()), graph)
        metadata = {"example": self.example, "graph": graph}
        self.both(
            "create thread",
            lambda c, _: blank(c.threads.create(thread_id=thread.thread_id, metadata=metadata)),
        )
        return thread

    @rule(thread=threads)
    def get_thread(self, thread: Thread) -> None:
        self.both("get thread", lambda c, _: blank(c.threads.get(thread.thread_id)))

    @rule(
        extra=st.sampled_from([{}, {"order_by": "created_at DESC"}, {"select_fields": 1}]),
        status=st.sampled_from([None, "idle", "busy", "interrupted"]),
    )
    def search_threads(self, extra: dict[str, Any], status: str | None) -> None:
        body: dict[str, Any] = {"metadata": {"example": self.example}, **extra}
        if status:
            body["status"] = status

        def search(c: SyncLangGraphClient, _: int) -> Any:
            found = c.http.post("/threads/search", json=body)
            return sorted((blank(t) for t in found), key=listed)

        self.both(f"search threads({sorted(extra)})", search)

    @rule(thread=threads)
    def delete_thread(self, thread: Thread) -> None:
        self.both("delete thread", lambda c, _: c.threads.delete(thread.thread_id))
        self.both("get deleted thread", lambda c, _: blank(c.threads.get(thread.thread_id)))

    @rule(thread=threads)
    def delete_thread_with_a_run_in_flight(self, thread: Thread) -> None:
        self.both(
            "start a slow run",
            lambda c, _: summary(c.runs.create(thread.thread_id, "slow", input=say("z"))),
        )
        self.both("delete thread busy with a run", lambda c, _: c.threads.delete(thread.thread_id))
        self.both("get thread deleted while busy", lambda c, _: c.threads.get(thread.thread_id))

    # -- runs -----------------------------------------------------------------------

    @rule(thread=threads, text=WORDS)
    def wait(self, thread: Thread, text: str) -> None:
        self.both(
            f"wait({thread.graph})",
            lambda c, _: blank(c.runs.wait(thread.thread_id, thread.graph, input=say(text))),
        )
        self.state(thread)

    @rule(graph=st.sampled_from(GRAPHS), text=WORDS)
    def stateless_wait(self, graph: str, text: str) -> None:
        self.both(
            f"stateless wait({graph})",
            lambda c, _: blank(c.runs.wait(None, graph, input=say(text))),
        )

    @rule(
        thread=threads,
        modes=st.lists(st.sampled_from(STREAM_MODES), min_size=1, max_size=3, unique=True),
        subgraphs=st.booleans(),
    )
    def stream(self, thread: Thread, modes: list[str], subgraphs: bool) -> None:
        self.both(
            f"stream({thread.graph}, {modes}, subgraphs={subgraphs})",
            lambda c, _: events(
                c.runs.stream(
                    thread.thread_id,
                    thread.graph,
                    input=say("go"),
                    stream_mode=modes,
                    stream_subgraphs=subgraphs,
                )
            ),
        )
        self.state(thread)

    @rule(target=runs, thread=threads)
    def background(self, thread: Thread) -> Run:
        """A run in the background; its answer compared by keys, then waited for on both."""
        made: list[str] = []

        def create(c: SyncLangGraphClient, _: int) -> Any:
            run = c.runs.create(
                thread.thread_id,
                thread.graph,
                input=say("bg"),
                stream_resumable=True,
                stream_mode=["values", "messages"],
            )
            made.append(run["run_id"])
            return summary(run)

        self.both(f"background run({thread.graph})", create)
        if len(made) != 2:
            return Run(thread, ("missing", "missing"))
        run = Run(thread, (made[0], made[1]))
        self.both("join", lambda c, side: blank(c.runs.join(thread.thread_id, run.ids[side])))
        return run

    @rule(run=runs)
    def join_again(self, run: Run) -> None:
        # The reference answers a join of an interrupted run that has ended with the
        # interrupts alone (a listed difference).
        interrupted = " (interrupted)" if run.thread.graph == "hitl" else ""
        self.both(
            f"join again{interrupted}",
            lambda c, side: blank(c.runs.join(run.thread.thread_id, run.ids[side])),
        )
        self.both(
            "run after join",
            lambda c, side: summary(c.runs.get(run.thread.thread_id, run.ids[side])),
        )

    @rule(
        run=runs,
        modes=st.lists(
            st.sampled_from(("values", "messages-tuple", "updates", "messages")),
            min_size=1,
            max_size=2,
            unique=True,
        ),
    )
    def join_stream_of_an_ended_run(self, run: Run, modes: list[str]) -> None:
        self.both(
            f"join stream of an ended run({modes})",
            lambda c, side: events(
                c.runs.join_stream(
                    run.thread.thread_id, run.ids[side], stream_mode=modes, last_event_id="-1"
                )
            ),
        )

    @rule(
        thread=threads,
        started=st.sampled_from((["values", "messages"], ["updates"], ["messages-tuple"])),
        joined=st.sampled_from((["messages-tuple", "values"], ["values"], ["updates", "custom"])),
    )
    def join_a_running_stream_with_other_modes(
        self, thread: Thread, started: list[str], joined: list[str]
    ) -> None:
        """A slow run joined while it runs, from its first event, in other modes."""

        def join(c: SyncLangGraphClient, _: int) -> Any:
            run = c.runs.create(thread.thread_id, "slow", input=say("join me"),
                                stream_mode=started, stream_resumable=True)  # fmt: skip
            parts = c.runs.join_stream(
                thread.thread_id, run["run_id"], stream_mode=joined, last_event_id="-1"
            )
            return events(parts)

        # The reference applies only the last of several modes (a listed difference).
        several = "several modes" if len(joined) > 1 else "other modes"
        self.both(f"join a running stream with {several}({started}, {joined})", join)
        self.state(thread)

    @rule(thread=threads, strategy=st.sampled_from(STRATEGIES))
    def two_runs_at_once(self, thread: Thread, strategy: str) -> None:
        def race(c: SyncLangGraphClient, _: int) -> Any:
            first = c.runs.create(thread.thread_id, "slow", input=say("first"))
            # The second comes once the first runs on both servers (the reference starts
            # queued runs once a second), so the strategy meets the same situation.
            running(c, thread.thread_id, first["run_id"])
            second = outcome(
                lambda: c.runs.create(
                    thread.thread_id, "echo", input=say("second"), multitask_strategy=strategy
                )
            )
            if second[0] == "ok":
                outcome(lambda: c.runs.join(thread.thread_id, second[1]["run_id"]))
            outcome(lambda: c.runs.join(thread.thread_id, first["run_id"]))
            got = outcome(lambda: c.runs.get(thread.thread_id, first["run_id"])["status"])
            return {
                "second": blank(second[0] if second[0] == "http" else second[1]["status"]),
                "first after": got,
            }

        self.both(f"two runs at once({strategy})", race)
        self.state(thread)

    @rule(thread=threads)
    def cancel_a_pending_run(self, thread: Thread) -> None:
        def cancel(c: SyncLangGraphClient, _: int) -> Any:
            run = c.runs.create(thread.thread_id, "echo", input=say("later"), after_seconds=5)
            c.runs.cancel(thread.thread_id, run["run_id"])
            return c.runs.get(thread.thread_id, run["run_id"])["status"]

        self.both("cancel a pending run", cancel)

    # -- interrupts and commands ----------------------------------------------------

    @rule(thread=threads, answer=st.sampled_from(["yes", "no", {"edited": True}]))
    def resume_as_use_stream_does(self, thread: Thread, answer: Any) -> None:
        """What `useStream().submit({}, {command: {resume}})` sends."""
        body = {
            "assistant_id": thread.graph,
            "input": {},
            "command": {"resume": answer},
            "stream_mode": ["values"],
            "stream_resumable": True,
            "on_disconnect": "continue",
        }
        self.both(
            "resume with an empty input",
            lambda c, _: events(
                c.http.stream(f"/threads/{thread.thread_id}/runs/stream", "POST", json=body)
            ),
        )
        self.state(thread)

    @rule(thread=threads)
    def mark_as_resolved(self, thread: Thread) -> None:
        body = {"assistant_id": thread.graph, "input": {}, "command": {"goto": "__end__"}}
        self.both(
            "goto end with an empty input",
            lambda c, _: blank(c.http.post(f"/threads/{thread.thread_id}/runs/wait", json=body)),
        )
        self.state(thread)

    # -- state ----------------------------------------------------------------------

    def state(self, thread: Thread) -> None:
        self.both("state", lambda c, _: blank(c.threads.get_state(thread.thread_id)))
        self.both("thread status", lambda c, _: c.threads.get(thread.thread_id)["status"])

    @rule(thread=threads, limit=st.integers(1, 4))
    def history(self, thread: Thread, limit: int) -> None:
        self.both(
            "history",
            lambda c, _: blank(c.threads.get_history(thread.thread_id, limit=limit)),
        )

    @rule(thread=threads, text=WORDS, as_node=st.sampled_from([None, "reply", "__copy__"]))
    def update_state(self, thread: Thread, text: str, as_node: str | None) -> None:
        values = (
            None
            if as_node == "__copy__"
            else {"messages": [{"role": "ai", "content": text, "id": f"edit-{text}"}]}
        )
        self.both(
            f"update state(as_node={as_node})",
            lambda c, _: blank(c.threads.update_state(thread.thread_id, values, as_node=as_node)),
        )
        self.state(thread)

    @rule(thread=threads, back=st.integers(0, 3))
    def fork(self, thread: Thread, back: int) -> None:
        def fork(c: SyncLangGraphClient, _: int) -> Any:
            history = c.threads.get_history(thread.thread_id, limit=back + 1)
            if len(history) <= back:
                return "too short"
            checkpoint = history[back]["checkpoint"]
            return blank(
                c.runs.wait(
                    thread.thread_id,
                    thread.graph,
                    input=say("fork"),
                    checkpoint_id=checkpoint["checkpoint_id"],
                )
            )

        self.both(f"fork({back} back)", fork)
        self.state(thread)

    @rule(thread=threads)
    def copy(self, thread: Thread) -> None:
        statuses: list[Any] = []

        def copy(c: SyncLangGraphClient, _: int) -> Any:
            made = dict(c.threads.copy(thread.thread_id))
            statuses.append(made.pop("status"))
            return {"thread": blank(made), "state": blank(c.threads.get_state(made["thread_id"]))}

        self.both("copy thread", copy)
        # The reference's copy is always `idle` (a listed difference).
        if len(statuses) == 2:
            self.compare("copy's status", statuses[0], statuses[1])

    @rule(
        graph=st.sampled_from(("contextual",)),
        context=st.sampled_from([None, {}, {"model": "fake/other"}, {"greeting": "hey"}]),
    )
    def context(self, graph: str, context: dict[str, str] | None) -> None:
        self.both(
            f"run with context({context})",
            lambda c, _: blank(c.runs.wait(None, graph, input=say("ctx"), context=context)),
        )

    # -- the store and crons --------------------------------------------------------

    @rule(
        ns=st.sampled_from(["a", "b"]),
        key=st.sampled_from(["k1", "k2"]),
        value=st.sampled_from([{"v": 1}, {"v": [1, 2]}, {"text": "x"}]),
    )
    def store_put(self, ns: str, key: str, value: dict[str, Any]) -> None:
        namespace = [self.example, ns]
        self.both("store put", lambda c, _: c.store.put_item(namespace, key, value))
        self.both("store get", lambda c, _: blank(c.store.get_item(namespace, key)))

    @rule(ns=st.sampled_from(["a", "b"]), key=st.sampled_from(["k1", "k2"]))
    def store_delete(self, ns: str, key: str) -> None:
        self.deleted = True
        namespace = [self.example, ns]
        self.both("store delete", lambda c, _: c.store.delete_item(namespace, key))

    @rule()
    def store_search(self) -> None:
        def search(c: SyncLangGraphClient, _: int) -> Any:
            found = c.store.search_items([self.example])["items"]
            return sorted((blank(i) for i in found), key=listed)

        self.both("store search", search)
        after = " after a delete" if self.deleted else ""
        self.both(
            f"store namespaces{after}",
            lambda c, _: sorted(c.store.list_namespaces(prefix=[self.example])["namespaces"]),
        )

    @rule(thread=threads)
    def cron(self, thread: Thread) -> None:
        def cron(c: SyncLangGraphClient, _: int) -> Any:
            made = c.crons.create_for_thread(
                thread.thread_id, thread.graph, schedule="0 9 * * *", input=say("daily")
            )
            found = c.crons.search(thread_id=thread.thread_id)
            c.crons.delete(made["cron_id"])
            return {"made": shape(made), "found": len(found) >= 1}

        self.both("cron on a thread", cron)

    # -- the thread protocol ----------------------------------------------------------

    @rule(target=threads, graph=st.sampled_from(GRAPHS))
    def protocol_run(self, graph: str) -> Thread:
        """A run started over the thread protocol, on a new thread.

        A new thread: after a run that streamed without `values`, the reference sends no
        `values` on the protocol (a listed difference); and a subscription without `since`
        on a thread with history replays what came before on both servers."""
        thread = Thread(str(uuid.uuid4()), graph)

        def run(c: SyncLangGraphClient, _: int) -> Any:
            http = c.http.client
            body = {"id": 1, "method": "run.start",
                    "params": {"assistant_id": graph, "input": say("proto")}}  # fmt: skip
            started = http.post(f"/threads/{thread.thread_id}/commands", json=body)
            if started.status_code != 200:
                return started.status_code
            shape = protocol_shape(http, thread.thread_id)
            # langstar says `interrupted` as the run stops, a moment before its end is
            # recorded (a listed difference): read the thread once it is recorded.
            deadline = time.monotonic() + 10
            while c.threads.get(thread.thread_id)["status"] == "busy":
                if time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            return shape

        self.both(f"thread protocol run({graph})", run)
        self.state(thread)
        return thread


def protocol_shape(http: httpx.Client, thread_id: str) -> list[Any]:
    """The protocol events up to the root's end: method, phase and namespace depth."""
    seen: list[Any] = []
    deadline = time.monotonic() + 30
    with http.stream(
        "POST", f"/threads/{thread_id}/stream/events", json={"channels": PROTOCOL_CHANNELS}
    ) as response:
        for line in response.iter_lines():
            if not line.startswith("data: "):
                continue
            event = json.loads(line[6:])
            data, namespace = event["params"]["data"], event["params"]["namespace"]
            phase = data.get("event") if event["method"] in ("lifecycle", "messages") else None
            failure = blank(data.get("error")) if phase == "failed" else None
            seen.append((event["method"], phase, blank(namespace), failure))
            root_end = (
                event["method"] == "lifecycle"
                and not namespace
                and phase in ("completed", "failed", "interrupted")
            )
            if root_end or time.monotonic() > deadline:
                break
    return seen


def running(c: SyncLangGraphClient, thread_id: str, run_id: str) -> None:
    """Wait (10 s at most) until the run has started, or ended."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if c.runs.get(thread_id, run_id)["status"] != "pending":
            return
        time.sleep(0.05)


def say(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}
