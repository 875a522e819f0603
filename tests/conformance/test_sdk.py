"""Every langgraph-sdk client method, and RemoteGraph, against a real `langstar serve`."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.pregel.remote import RemoteGraph
from langgraph.types import Command
from langgraph_sdk import get_client, get_sync_client

from tests.support.postgres import PostgresForTests
from tests.support.server import ServerProcess
from tests.support.sse import data_lines

GRAPHS = Path(__file__).resolve().parents[1] / "support" / "graphs.py"


@pytest.fixture(scope="module")
def server(
    postgres: PostgresForTests, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    from langstar.db import migrations
    from tests.support.settings import settings_for

    url = postgres.create_database("sdk")
    migrations.upgrade(url, settings_for(url))
    env = {
        "DATABASE_URL": url,
        "LANGSTAR_GRAPHS__HITL": f"{GRAPHS}:hitl",
        "LANGSTAR_GRAPHS__SLOW": f"{GRAPHS}:slow",
        "LANGSTAR_GRAPHS__STREAMER": f"{GRAPHS}:streamer",
        "LANGSTAR_GRAPHS__FAILING": f"{GRAPHS}:failing",
        "LANGSTAR_GRAPHS__NESTED": f"{GRAPHS}:nested",
    }
    process = ServerProcess(env, tmp_path_factory.mktemp("sdk-server")).start()
    yield process
    process.stop()
    postgres.drop_database(url)


def say(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


async def test_assistants_methods(server: ServerProcess) -> None:
    client = get_client(url=server.url)
    found = await client.assistants.search(graph_id="hitl")
    default = found[0]
    assert (await client.assistants.get(default["assistant_id"]))["graph_id"] == "hitl"
    graph = await client.assistants.get_graph(default["assistant_id"], xray=True)
    assert {"ask"} <= {n["id"] for n in graph["nodes"]}
    schemas = await client.assistants.get_schemas(default["assistant_id"])
    assert "messages" in schemas["state_schema"]["properties"]
    assert await client.assistants.get_subgraphs(default["assistant_id"]) == {}
    created = await client.assistants.create(
        graph_id="streamer", name="mine", metadata={"suite": "sdk"}
    )
    updated = await client.assistants.update(created["assistant_id"], name="mine v2")
    assert updated["version"] == 2
    versions = await client.assistants.get_versions(created["assistant_id"])
    assert [v["version"] for v in versions] == [2, 1]
    latest = await client.assistants.set_latest(created["assistant_id"], 1)
    assert latest["name"] == "mine"
    assert await client.assistants.count(metadata={"suite": "sdk"}) == 1
    await client.assistants.delete(created["assistant_id"])
    assert await client.assistants.count(metadata={"suite": "sdk"}) == 0


async def test_threads_methods(server: ServerProcess) -> None:
    client = get_client(url=server.url)
    tag = uuid.uuid4().hex
    thread = await client.threads.create(metadata={"tag": tag})
    thread_id = thread["thread_id"]
    await client.runs.wait(thread_id, "streamer", input=say("one"))
    assert (await client.threads.get(thread_id))["status"] == "idle"
    assert (await client.threads.update(thread_id, metadata={"x": 1}))["metadata"]["x"] == 1
    assert [t["thread_id"] for t in await client.threads.search(metadata={"tag": tag})] == [
        thread_id
    ]
    assert await client.threads.count(metadata={"tag": tag}) == 1
    state = await client.threads.get_state(thread_id)
    assert state["values"]["messages"][-1]["content"] == "Noted. You said: one"
    at = await client.threads.get_state(thread_id, checkpoint=state["checkpoint"])
    assert at["values"] == state["values"]
    history = await client.threads.get_history(thread_id, limit=10)
    assert len(history) >= 3
    updated = await client.threads.update_state(
        thread_id, {"messages": [{"role": "ai", "content": "patched", "id": "p1"}]}, as_node="talk"
    )
    assert updated["checkpoint"]["thread_id"] == thread_id
    copied = await client.threads.copy(thread_id)
    copy_state = await client.threads.get_state(copied["thread_id"])
    assert copy_state["values"]["messages"][-1]["content"] == "patched"
    assert (await client.threads.prune([copied["thread_id"]]))["pruned_count"] == 1
    await client.threads.delete(thread_id)
    with pytest.raises(httpx.HTTPStatusError) as missing:
        await client.threads.get(thread_id)
    assert missing.value.response.status_code == 404


async def test_thread_stream_sees_runs_as_they_happen(server: ServerProcess) -> None:
    client = get_client(url=server.url)
    thread_id = (await client.threads.create())["thread_id"]
    seen: list[str] = []

    async def watch() -> None:
        async for part in await client.threads.join_stream(thread_id):
            seen.append(part.event)
            if part.event == "metadata" and part.data.get("status") == "run_done":
                return

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.5)
    await client.runs.wait(thread_id, "streamer", input=say("watched"))
    await asyncio.wait_for(watcher, timeout=20)
    assert "values" in seen
    assert seen[-1] == "metadata"


async def test_threads_stream_messages_values_and_output(server: ServerProcess) -> None:
    """`client.threads.stream()`: the thread-centric protocol, from run.start to output."""
    client = get_client(url=server.url)
    async with client.threads.stream(assistant_id="streamer") as thread:
        await thread.run.start(input=say("stream me"))
        streams = [m async for m in thread.messages]
        texts = [await m.text for m in streams]
        output = await thread.output.with_timeout(20)
    assert len(streams) == 1
    reply = output["messages"][-1]
    assert texts == [_text_of(reply["content"])]
    assert texts[0]  # the offline model answered something
    state = await client.threads.get_state(thread.thread_id)
    assert state["values"] == output
    # A second run on the same thread session: its values stream starts from the REST state.
    async with client.threads.stream(thread.thread_id, assistant_id="streamer") as again:
        await again.run.start(input=say("and again"))
        snapshots = [v async for v in again.values]
    assert len(snapshots[-1]["messages"]) == 4


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(block.get("text", "") for block in content if isinstance(block, dict))


async def test_threads_stream_interrupt_and_respond(server: ServerProcess) -> None:
    client = get_client(url=server.url)
    async with client.threads.stream(assistant_id="hitl") as thread:
        await thread.run.start(input=say("may I?"))
        _ = [v async for v in thread.values]  # ends when the run pauses at its interrupt
        assert thread.interrupted
        [pending] = thread.interrupts
        await thread.run.respond("yes")
        output = await thread.output.with_timeout(20)
    assert output["messages"][-1]["content"] == "approved: yes"
    assert pending["namespace"] == []
    assert (await client.threads.get(thread.thread_id))["status"] == "idle"


async def test_threads_stream_reports_a_failed_run(server: ServerProcess) -> None:
    client = get_client(url=server.url)
    async with client.threads.stream(assistant_id="failing") as thread:
        await thread.run.start(input=say("boom"))
        with pytest.raises(RuntimeError, match="this graph always fails"):
            await thread.output.with_timeout(20)
    assert (await client.threads.get(thread.thread_id))["status"] == "error"


async def test_threads_stream_subgraph_events_carry_their_namespace(
    server: ServerProcess,
) -> None:
    client = get_client(url=server.url)
    async with client.threads.stream(assistant_id="nested") as thread:
        await thread.run.start(input=say("deep"))
        await thread.output.with_timeout(20)
        thread_id = thread.thread_id
    events = _protocol_events(server.url, thread_id, {"channels": ["updates"]})
    namespaces = {tuple(e["params"]["namespace"]) for e in events}
    assert () in namespaces
    assert any(ns and ns[0].startswith("child:") for ns in namespaces)
    # `depth: 0` under the root prefix keeps only the root's own events.
    root_only = _protocol_events(
        server.url, thread_id, {"channels": ["updates"], "namespaces": [[]], "depth": 0}
    )
    assert root_only
    assert {tuple(e["params"]["namespace"]) for e in root_only} == {()}
    # A prefix without a task id matches the subgraph's namespace whatever its task.
    child = _protocol_events(
        server.url, thread_id, {"channels": ["updates"], "namespaces": [["child"]]}
    )
    assert child
    assert all(e["params"]["namespace"][0].startswith("child:") for e in child)


def _protocol_events(
    url: str, thread_id: str, body: dict[str, Any], *, until: int | None = None
) -> list[dict[str, Any]]:
    """Events of a thread's stream that are already stored: read until a quiet second."""
    events: list[dict[str, Any]] = []
    client = httpx.Client(base_url=url, timeout=httpx.Timeout(30, read=1.5))
    path = f"/threads/{thread_id}/stream/events"
    with (
        client,
        contextlib.suppress(httpx.ReadTimeout),
        client.stream("POST", path, json=body) as response,
    ):
        assert response.status_code == 200, response.read()
        for event in data_lines(response.iter_lines()):
            events.append(event)
            if until is not None and len(events) >= until:
                break
    return events


async def test_thread_protocol_replays_after_since(server: ServerProcess) -> None:
    client = get_client(url=server.url)
    async with client.threads.stream(assistant_id="streamer") as thread:
        await thread.run.start(input=say("replay me"))
        await thread.output.with_timeout(20)
        thread_id = thread.thread_id
    everything = _protocol_events(
        server.url, thread_id, {"channels": ["values", "messages", "lifecycle"]}
    )
    seqs = [e["seq"] for e in everything]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == len(seqs)
    assert next(e["method"] for e in everything) == "lifecycle"
    assert everything[-1]["params"]["data"]["event"] == "completed"
    # As if the connection dropped after the fourth event: resume with `since`.
    cut = everything[3]["seq"]
    resumed = _protocol_events(
        server.url, thread_id, {"channels": ["values", "messages", "lifecycle"], "since": cut}
    )
    assert [e["event_id"] for e in resumed] == [e["event_id"] for e in everything[4:]]
    # A new run continues the thread's sequence, and run.start says where it starts.
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as c:
        started = (
            await c.post(
                f"/threads/{thread_id}/commands",
                json={"id": 1, "method": "run.start",
                      "params": {"assistant_id": "streamer", "input": say("more")}},
            )
        ).json()  # fmt: skip
    assert started["type"] == "success"
    assert started["meta"]["applied_through_seq"] == everything[-1]["seq"]
    later = _protocol_events(
        server.url, thread_id, {"channels": ["lifecycle"], "since": everything[-1]["seq"]}, until=2
    )
    assert [e["params"]["data"]["event"] for e in later] == ["running", "completed"]


async def test_runs_methods(server: ServerProcess) -> None:
    client = get_client(url=server.url)
    thread_id = (await client.threads.create())["thread_id"]
    parts = [
        part
        async for part in client.runs.stream(
            thread_id, "streamer", input=say("streamed"), stream_mode=["values", "messages-tuple"]
        )
    ]
    assert parts[0].event == "metadata"
    assert parts[-1].event == "values"
    assert parts[-1].data["messages"][-1]["content"] == "Noted. You said: streamed"

    run = await client.runs.create(thread_id, "slow", input=say("bg"), context={"delay": 0.2})
    joined = await client.runs.join(thread_id, run["run_id"])
    assert joined["messages"][-1]["content"] == "slept 0.2"
    assert (await client.runs.get(thread_id, run["run_id"]))["status"] == "success"
    assert len(await client.runs.list(thread_id)) == 2

    long = await client.runs.create(thread_id, "slow", input=say("long"), context={"delay": 30})
    await asyncio.sleep(0.3)
    await client.runs.cancel(thread_id, long["run_id"], wait=True)
    assert (await client.runs.get(thread_id, long["run_id"]))["status"] == "interrupted"

    again = await client.runs.create(thread_id, "slow", input=say("x"), context={"delay": 30})
    await asyncio.sleep(0.3)
    await client.runs.cancel_many(thread_id=thread_id, run_ids=[again["run_id"]])
    joined_parts = [p async for p in client.runs.join_stream(thread_id, again["run_id"])]
    # Live from the join on: nothing more if the cancel is still landing, else its final values.
    assert [part.event for part in joined_parts] in ([], ["values"])

    await client.runs.delete(thread_id, run["run_id"])
    batch = await client.runs.create_batch(
        [
            {"assistant_id": "streamer", "input": say("b1")},
            {"assistant_id": "streamer", "input": say("b2")},
        ]
    )
    assert len(batch) == 2

    waited = await client.runs.wait(None, "streamer", input=say("stateless"))
    assert isinstance(waited, dict)
    assert waited["messages"][-1]["content"] == "Noted. You said: stateless"


async def test_interrupt_resume_and_double_texting(server: ServerProcess) -> None:
    client = get_client(url=server.url)
    thread_id = (await client.threads.create())["thread_id"]
    interrupted = await client.runs.wait(thread_id, "hitl", input=say("please"))
    assert isinstance(interrupted, dict)
    assert interrupted["__interrupt__"][0]["value"] == {"question": "approve?"}
    resumed = await client.runs.wait(thread_id, "hitl", command={"resume": "yes"})
    assert isinstance(resumed, dict)
    assert resumed["messages"][-1]["content"] == "approved: yes"

    for strategy in ("reject", "enqueue", "interrupt", "rollback"):
        first = await client.runs.create(thread_id, "slow", input=say("a"), context={"delay": 1})
        if strategy == "reject":
            with pytest.raises(httpx.HTTPStatusError) as conflict:
                await client.runs.create(
                    thread_id, "slow", input=say("b"), multitask_strategy="reject"
                )
            assert conflict.value.response.status_code == 409
            await client.runs.join(thread_id, first["run_id"])
            continue
        second = await client.runs.create(
            thread_id, "slow", input=say(strategy), context={"delay": 0},
            multitask_strategy=strategy,
        )  # fmt: skip
        await client.runs.join(thread_id, second["run_id"])
        contents = [
            m["content"] for m in (await client.threads.get_state(thread_id))["values"]["messages"]
        ]
        assert contents[-2:] == [strategy, "slept 0.0"]


async def test_an_interrupt_is_answered_as_use_stream_and_the_python_sdk_send_it(
    server: ServerProcess,
) -> None:
    """agent-chat-ui resumes with `useStream().submit({}, {command: {resume}})`, and marks an
    interrupt resolved with `{command: {goto: "__end__"}}`: both beside an empty input."""
    client = get_client(url=server.url)

    async def interrupted() -> str:
        thread_id: str = (await client.threads.create())["thread_id"]
        await client.runs.wait(thread_id, "hitl", input=say("may I?"))
        return thread_id

    thread_id = await interrupted()
    # The JSON the JS SDK posts: undefined fields left out, `input: {}` kept.
    sent = {"input": {}, "command": {"resume": "yes"}, "stream_mode": ["values", "messages-tuple"],
            "stream_resumable": False, "assistant_id": "hitl",
            "on_disconnect": "cancel"}  # fmt: skip
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        answered = await http.post(f"/threads/{thread_id}/runs/stream", json=sent)
        assert answered.status_code == 200, answered.text
        resolved = await http.post(
            f"/threads/{await interrupted()}/runs/stream",
            json={**sent, "command": {"goto": "__end__"}},
        )
        assert resolved.status_code == 200, resolved.text
    assert (await client.threads.get(thread_id))["status"] == "idle"

    thread_id = await interrupted()
    parts = [
        part
        async for part in client.runs.stream(
            thread_id, "hitl", input={}, command={"resume": "sdk"}, stream_mode="values"
        )
    ]
    assert parts[-1].data["messages"][-1]["content"] == "approved: sdk"


async def test_sdk_joins_a_run_with_other_stream_modes_than_it_started_with(
    server: ServerProcess,
) -> None:
    client = get_client(url=server.url)
    thread_id = (await client.threads.create())["thread_id"]
    started = [
        part
        async for part in client.runs.stream(
            thread_id,
            "streamer",
            input=say("rejoin"),
            stream_mode=["messages", "values"],
            stream_resumable=True,
        )
    ]
    joined = [
        part
        async for part in client.runs.join_stream(
            thread_id,
            started[0].data["run_id"],
            stream_mode=["messages-tuple", "values"],
            last_event_id="-1",
        )
    ]
    # `metadata` only when asked for, as on LangGraph's server.
    assert [(p.event, p.data) for p in joined] == [(p.event, p.data) for p in started[1:]]


async def test_store_methods(server: ServerProcess) -> None:
    client = get_client(url=server.url)
    namespace = ["sdk", uuid.uuid4().hex]
    await client.store.put_item(namespace, "k", {"v": 1})
    item = await client.store.get_item(namespace, "k")
    assert item is not None
    assert item["value"] == {"v": 1}
    found = await client.store.search_items(namespace, filter={"v": 1})
    assert [i["key"] for i in found["items"]] == ["k"]
    listed = await client.store.list_namespaces(prefix=["sdk"])
    assert namespace in listed["namespaces"]
    await client.store.delete_item(namespace, "k")
    assert await client.store.get_item(namespace, "k") is None


def test_sync_client(server: ServerProcess) -> None:
    client = get_sync_client(url=server.url)
    thread = client.threads.create()
    result = client.runs.wait(thread["thread_id"], "streamer", input=say("sync"))
    assert isinstance(result, dict)
    assert result["messages"][-1]["content"] == "Noted. You said: sync"
    parts = list(client.runs.stream(thread["thread_id"], "streamer", input=say("again")))
    assert parts[-1].data["messages"][-1]["content"] == "Noted. You said: again"


async def test_remote_graph(server: ServerProcess) -> None:
    remote = RemoteGraph("hitl", url=server.url)
    thread_id = (await get_client(url=server.url).threads.create())["thread_id"]
    config = {"configurable": {"thread_id": thread_id}}
    chunks = [c async for c in remote.astream(say("remote"), config, stream_mode="values")]
    assert chunks
    state = await remote.aget_state(config)
    assert state.next == ("ask",)
    final = await remote.ainvoke(Command(resume="ok"), config)
    assert final["messages"][-1]["content"] == "approved: ok"
    history = [s async for s in remote.aget_state_history(config, limit=3)]
    assert history


async def test_a_remote_graph_runs_as_a_node_and_its_config_metadata_tags_the_run(
    server: ServerProcess,
) -> None:
    """Inside a graph, a node's config carries LangGraph's metadata, and RemoteGraph sends it
    as `config.metadata`, which LangGraph's server merges into the run's metadata."""
    builder = StateGraph(MessagesState)
    builder.add_node("remote", RemoteGraph("streamer", url=server.url))
    builder.add_edge(START, "remote")
    builder.add_edge("remote", END)
    answer = await builder.compile().ainvoke(say("from a parent"))
    assert answer["messages"][-1].content == "Noted. You said: from a parent"

    client = get_client(url=server.url)
    thread_id = (await client.threads.create(metadata={"from": "thread"}))["thread_id"]
    config = {"configurable": {"thread_id": thread_id}, "metadata": {"team": "support"}}
    await RemoteGraph("streamer", url=server.url).ainvoke(say("tagged"), config)
    [run] = await client.runs.list(thread_id)
    assert run["metadata"]["team"] == "support"
    assert run["metadata"]["from"] == "thread"


def test_a_stream_client_leaving_cancels_its_run_when_asked(server: ServerProcess) -> None:
    client = get_sync_client(url=server.url)
    for on_disconnect, expected in (("cancel", "interrupted"), ("continue", "success")):
        thread_id = client.threads.create()["thread_id"]
        parts = client.runs.stream(
            thread_id,
            "slow",
            input=say("leaving"),
            context={"delay": 1.5},
            stream_mode="values",
            on_disconnect=on_disconnect,
        )
        first = next(iter(parts))
        assert first.event == "metadata"
        run_id = first.data["run_id"]
        parts.close()  # the client goes away mid-run
        deadline = time.monotonic() + 20
        status = "running"
        while time.monotonic() < deadline:
            status = client.runs.get(thread_id, run_id)["status"]
            if status not in ("pending", "running"):
                break
            time.sleep(0.2)
        assert status == expected, on_disconnect


async def test_sdk_resumes_a_resumable_stream_after_a_dropped_connection(
    server: ServerProcess,
) -> None:
    client = get_client(url=server.url)
    thread_id = (await client.threads.create())["thread_id"]
    parts = [
        part
        async for part in client.runs.stream(
            thread_id,
            "streamer",
            input=say("resume"),
            stream_mode=["messages-tuple", "values"],
            stream_resumable=True,
        )
    ]
    assert all(part.id for part in parts)
    run_id = parts[0].data["run_id"]
    # As if the connection dropped after the third event: replay from there.
    replayed = [
        part async for part in client.runs.join_stream(thread_id, run_id, last_event_id=parts[2].id)
    ]
    assert [p.id for p in replayed] == [p.id for p in parts[3:]]
    only_values = [
        part
        async for part in client.runs.join_stream(
            thread_id, run_id, stream_mode="values", last_event_id="0"
        )
    ]
    assert {p.event for p in only_values} == {"values"}
