"""A subgraph's `lifecycle` events on the thread protocol, as LangGraph's server sends them.

A subgraph is `started` on its own namespace (`["child:<task id>"]`) when its first task
starts, and ends (`completed`, `failed`, `interrupted`) when the parent's task for it
returns: after its own last values, before its parent's next ones.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.compare_graphs import SUBGRAPH_GRAPHS
from tests.support.postgres import PostgresForTests
from tests.support.server import ServerProcess
from tests.support.sse import data_lines

GRAPHS = Path(__file__).resolve().parents[1] / "support" / "compare_graphs.py"
CHANNELS = ["lifecycle", "values", "messages", "input"]


@pytest.fixture(scope="module")
def server(
    postgres: PostgresForTests, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    from langstar.db import migrations
    from tests.support.settings import settings_for

    url = postgres.create_database("subgraphs")
    migrations.upgrade(url, settings_for(url))
    env = {"DATABASE_URL": url}
    env |= {f"LANGSTAR_GRAPHS__{name.upper()}": f"{GRAPHS}:{name}" for name in SUBGRAPH_GRAPHS}
    process = ServerProcess(env, tmp_path_factory.mktemp("subgraphs")).start()
    yield process
    process.stop()
    postgres.drop_database(url)


def run_and_read(url: str, graph: str) -> list[tuple[str, list[str], Any]]:
    """Start `graph` over the protocol, let it stop, and read back its events:
    `(method, namespace, data)`, with only the phase of a message event."""
    thread_id = str(uuid.uuid4())
    with httpx.Client(base_url=url, timeout=httpx.Timeout(30, read=1.5)) as client:
        start = {"assistant_id": graph, "input": {"messages": [{"role": "user", "content": "hi"}]}}
        started = client.post(
            f"/threads/{thread_id}/commands",
            json={"id": 1, "method": "run.start", "params": start},
        )
        assert started.status_code == 200, started.text
        for _ in range(200):
            if client.get(f"/threads/{thread_id}").json()["status"] != "busy":
                break
            time.sleep(0.05)
        events = []
        path = f"/threads/{thread_id}/stream/events"
        with (
            contextlib.suppress(httpx.ReadTimeout),
            client.stream("POST", path, json={"channels": CHANNELS}) as response,
        ):
            for event in data_lines(response.iter_lines()):
                params = event["params"]
                data = params["data"]
                if event["method"] == "messages":
                    data = data["event"]
                events.append((event["method"], params["namespace"], data))
    return events


def lifecycle(events: list[tuple[str, list[str], Any]]) -> list[tuple[list[str], Any]]:
    return [(ns, data) for method, ns, data in events if method == "lifecycle"]


def event_of(data: Any) -> Any:
    """A lifecycle event's phase; a message event's is already a string, and left out."""
    return data.get("event") if isinstance(data, dict) and "event" in data else None


def child_of(events: list[tuple[str, list[str], Any]]) -> list[str]:
    [child] = {tuple(ns) for _, ns, _ in events if ns}
    return list(child)


def test_a_subgraph_added_as_a_node_starts_and_completes_on_its_namespace(
    server: ServerProcess,
) -> None:
    events = run_and_read(server.url, "nested")
    child = child_of(events)
    task_id = child[0].removeprefix("child:")
    assert lifecycle(events) == [
        ([], {"event": "running", "graph_name": "nested"}),
        (
            child,
            {
                "event": "started",
                "namespace": child,
                "graph_name": "child",
                "trigger_call_id": task_id,
            },
        ),
        (child, {"event": "completed", "graph_name": "child"}),
        ([], {"event": "completed", "graph_name": "nested"}),
    ]
    order = [(method, bool(ns), event_of(data)) for method, ns, data in events]
    assert order == [
        ("lifecycle", False, "running"),
        ("values", False, None),
        ("values", True, None),
        ("lifecycle", True, "started"),
        ("values", True, None),
        ("lifecycle", True, "completed"),
        ("values", False, None),
        ("lifecycle", False, "completed"),
    ]


def test_a_subgraph_a_node_invokes_starts_before_its_messages_and_completes_after(
    server: ServerProcess,
) -> None:
    events = run_and_read(server.url, "calling")
    child = child_of(events)
    assert child[0].startswith("caller:")
    phases = [(method, bool(ns), event_of(data)) for method, ns, data in events]
    streamed = [("messages", True, None)] * phases.count(("messages", True, None))
    assert streamed
    assert phases == [
        ("lifecycle", False, "running"),
        ("values", False, None),
        ("values", True, None),
        ("lifecycle", True, "started"),
        *streamed,
        ("values", True, None),
        ("lifecycle", True, "completed"),
        ("values", False, None),
        ("lifecycle", False, "completed"),
    ]
    assert lifecycle(events)[2] == (child, {"event": "completed", "graph_name": "caller"})


def test_a_subgraph_that_fails_ends_failed_with_its_error_before_the_root(
    server: ServerProcess,
) -> None:
    events = run_and_read(server.url, "fails_in_child")
    child = child_of(events)
    assert [(ns == child, data["event"]) for ns, data in lifecycle(events)] == [
        (False, "running"),
        (True, "started"),
        (True, "failed"),
        (False, "failed"),
    ]
    assert lifecycle(events)[2][1] == {
        "event": "failed",
        "graph_name": "child",
        "error": "the subgraph fails",
    }


def test_a_subgraph_that_pauses_at_an_interrupt_ends_interrupted(server: ServerProcess) -> None:
    events = run_and_read(server.url, "asks_in_child")
    child = child_of(events)
    assert [(ns == child, data["event"]) for ns, data in lifecycle(events)] == [
        (False, "running"),
        (True, "started"),
        (False, "interrupted"),
        (True, "interrupted"),
    ]
    assert ("input.requested", child) in [(method, ns) for method, ns, _ in events]
