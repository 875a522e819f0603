"""Runs: background, join, stream modes, interrupts, cancel, multitask, stateless, resume."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import httpx
import msgspec
import psycopg
import pytest
from litestar import Litestar

from langstar.app import container_of
from langstar.streaming.events import EventBus
from tests.support.apps import MakeApp
from tests.support.asgi import asgi_client
from tests.support.graphs import TEST_GRAPHS
from tests.support.sdk import eventually
from tests.support.sse import Event, parse

Client = httpx.AsyncClient


def body(graph: str, text: str | None = "hi", **extra: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"assistant_id": graph, **extra}
    if text is not None:
        payload["input"] = {"messages": [{"role": "user", "content": text}]}
    return payload


GraphsAppWith = Callable[..., AbstractAsyncContextManager[Client]]


@pytest.fixture
def graphs_app_with(settings: Any, make_app: MakeApp) -> GraphsAppWith:
    """`graphs_app_with(**runs)`: a client of the test graphs, served by an app whose `[runs]`
    settings are changed by `runs`."""

    def serve(**runs: Any) -> AbstractAsyncContextManager[Client]:
        changed = msgspec.structs.replace(
            settings, graphs=TEST_GRAPHS, runs=msgspec.structs.replace(settings.runs, **runs)
        )
        return asgi_client(make_app(changed))

    return serve


async def new_thread(client: Client) -> str:
    return str((await client.post("/threads", json={})).json()["thread_id"])


async def stream(
    client: Client, path: str, payload: dict[str, Any]
) -> tuple[httpx.Response, list[Event]]:
    response = await client.post(path, json=payload)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return response, parse(response.text)


async def test_background_run_is_pending_then_joined(graphs_client: Client) -> None:
    thread = await new_thread(graphs_client)
    created = await graphs_client.post(
        f"/threads/{thread}/runs", json=body("slow", context={"delay": 0.3})
    )
    assert created.status_code == 200
    run = created.json()
    assert run["status"] in ("pending", "running")
    assert run["multitask_strategy"] == "enqueue"
    assert created.headers["content-location"] == f"/threads/{thread}/runs/{run['run_id']}"
    assert (await graphs_client.get(f"/threads/{thread}")).json()["status"] == "busy"
    joined = await graphs_client.get(f"/threads/{thread}/runs/{run['run_id']}/join")
    assert joined.json()["messages"][-1]["content"] == "slept 0.3"
    fetched = (await graphs_client.get(f"/threads/{thread}/runs/{run['run_id']}")).json()
    assert fetched["status"] == "success"
    assert set(fetched) >= {
        "run_id", "thread_id", "assistant_id", "metadata", "status", "kwargs",
        "multitask_strategy", "created_at", "updated_at",
    }  # fmt: skip
    listed = (await graphs_client.get(f"/threads/{thread}/runs")).json()
    assert [r["run_id"] for r in listed] == [run["run_id"]]
    assert (await graphs_client.get(f"/threads/{thread}")).json()["status"] == "idle"
    deleted = await graphs_client.delete(f"/threads/{thread}/runs/{run['run_id']}")
    assert deleted.status_code == 204
    assert (await graphs_client.get(f"/threads/{thread}/runs/{run['run_id']}")).status_code == 404


async def test_stream_sends_metadata_first_then_each_mode(graphs_client: Client) -> None:
    thread = await new_thread(graphs_client)
    response, events = await stream(
        graphs_client,
        f"/threads/{thread}/runs/stream",
        body(
            "streamer", "hello world", stream_mode=["values", "updates", "messages-tuple", "custom"]
        ),
    )
    run_id = events[0].data["run_id"]
    assert events[0].event == "metadata"
    assert events[0].data == {"run_id": run_id, "attempt": 1}
    assert response.headers["content-location"] == f"/threads/{thread}/runs/{run_id}"
    assert response.headers["location"] == f"/threads/{thread}/runs/{run_id}/stream"
    names = [e.event for e in events]
    assert {"values", "updates", "messages", "custom"} <= set(names)
    assert names.index("custom") < names.index("updates")
    chunk, metadata = next(e.data for e in events if e.event == "messages")
    assert chunk["type"] == "AIMessageChunk"
    assert metadata["langgraph_node"] == "talk"
    tokens = "".join(e.data[0]["content"] for e in events if e.event == "messages")
    assert tokens.strip() == "echo: hello world"
    assert next(e.data for e in events if e.event == "custom") == {"progress": "thinking"}
    assert events[-1].event == "values"
    assert events[-1].data["messages"][-1]["content"] == "echo: hello world"
    assert all(e.id is None for e in events)  # ids only for resumable streams


async def test_events_mode_streams_callback_events_beside_other_modes(
    graphs_client: Client,
) -> None:
    _, events = await stream(
        graphs_client, "/runs/stream", body("streamer", "ev", stream_mode=["events", "values"])
    )
    kinds = [e.data["event"] for e in events if e.event == "events"]
    assert kinds[0] == "on_chain_start"
    assert "on_chat_model_stream" in kinds
    assert kinds[-1] == "on_chain_end"
    assert events[-1].event in ("values", "events")
    values = [e for e in events if e.event == "values"]
    assert values[-1].data["messages"][-1]["content"] == "echo: ev"


@pytest.mark.parametrize("mode", ["debug", "tasks", "checkpoints", "messages"])
async def test_other_stream_modes(graphs_client: Client, mode: str) -> None:
    _, events = await stream(graphs_client, "/runs/stream", body("streamer", "x", stream_mode=mode))
    names = {e.event for e in events[1:]}
    if mode == "messages":
        assert names == {"messages/metadata", "messages/partial"}  # a streamed message
        partials = [e.data[0]["content"] for e in events if e.event == "messages/partial"]
        assert partials[-1].strip() == "echo: x"
        assert len(partials) > 1  # grows token by token
    else:
        assert names == {mode}


async def test_interrupt_then_resume_with_command(graphs_client: Client) -> None:
    thread = await new_thread(graphs_client)
    waited = await graphs_client.post(f"/threads/{thread}/runs/wait", json=body("hitl"))
    interrupted = waited.json()
    assert interrupted["__interrupt__"][0]["value"] == {"question": "approve?"}
    state = (await graphs_client.get(f"/threads/{thread}/state")).json()
    assert state["next"] == ["ask"]
    assert state["interrupts"][0]["value"] == {"question": "approve?"}
    thread_row = (await graphs_client.get(f"/threads/{thread}")).json()
    assert thread_row["status"] == "interrupted"
    assert next(iter(thread_row["interrupts"].values()))[0]["value"] == {"question": "approve?"}

    _, events = await stream(
        graphs_client,
        f"/threads/{thread}/runs/stream",
        body("hitl", None, command={"resume": "yes"}),
    )
    assert events[-1].data["messages"][-1]["content"] == "approved: yes"
    assert (await graphs_client.get(f"/threads/{thread}")).json()["status"] == "idle"


async def test_interrupt_arrives_as_values_event_when_streaming(graphs_client: Client) -> None:
    thread = await new_thread(graphs_client)
    _, events = await stream(graphs_client, f"/threads/{thread}/runs/stream", body("hitl"))
    assert events[-1].event == "values"
    assert events[-1].data["__interrupt__"][0]["value"] == {"question": "approve?"}


async def test_static_interrupt_before_and_continue(graphs_client: Client) -> None:
    thread = await new_thread(graphs_client)
    await graphs_client.post(
        f"/threads/{thread}/runs/wait", json=body("streamer", "a", interrupt_before=["talk"])
    )
    state = (await graphs_client.get(f"/threads/{thread}/state")).json()
    assert state["next"] == ["talk"]
    assert (await graphs_client.get(f"/threads/{thread}")).json()["status"] == "interrupted"
    resumed = await graphs_client.post(f"/threads/{thread}/runs/wait", json=body("streamer", None))
    assert resumed.json()["messages"][-1]["content"] == "echo: a"


async def test_run_from_an_earlier_checkpoint_forks_the_thread(graphs_client: Client) -> None:
    thread = await new_thread(graphs_client)
    await graphs_client.post(f"/threads/{thread}/runs/wait", json=body("streamer", "first"))
    first = (await graphs_client.get(f"/threads/{thread}/state")).json()
    await graphs_client.post(f"/threads/{thread}/runs/wait", json=body("streamer", "second"))
    forked = await graphs_client.post(
        f"/threads/{thread}/runs/wait",
        json=body("streamer", "instead", checkpoint_id=first["checkpoint"]["checkpoint_id"]),
    )
    contents = [m["content"] for m in forked.json()["messages"]]
    assert contents == ["first", "echo: first", "instead", "echo: instead"]


async def test_failed_run_streams_an_error_event(graphs_client: Client) -> None:
    thread = await new_thread(graphs_client)
    _, events = await stream(graphs_client, f"/threads/{thread}/runs/stream", body("failing"))
    assert events[-1].event == "error"
    assert events[-1].data == {"error": "ValueError", "message": "this graph always fails"}
    runs = (await graphs_client.get(f"/threads/{thread}/runs")).json()
    assert runs[0]["status"] == "error"


async def test_cancel_interrupt_and_rollback(graphs_client: Client) -> None:
    thread = await new_thread(graphs_client)
    kept = await graphs_client.post(
        f"/threads/{thread}/runs/wait", json=body("slow", context={"delay": 0})
    )
    assert kept.status_code == 200
    run = (
        await graphs_client.post(
            f"/threads/{thread}/runs", json=body("slow", context={"delay": 30})
        )
    ).json()
    await asyncio.sleep(0.3)
    cancelled = await graphs_client.post(
        f"/threads/{thread}/runs/{run['run_id']}/cancel", params={"wait": "true"}
    )
    assert cancelled.status_code == 200
    status = (await graphs_client.get(f"/threads/{thread}/runs/{run['run_id']}")).json()["status"]
    assert status == "interrupted"
    again = await graphs_client.post(f"/threads/{thread}/runs/{run['run_id']}/cancel")
    assert again.status_code == 404  # nothing in flight to cancel

    run = (
        await graphs_client.post(
            f"/threads/{thread}/runs", json=body("slow", "rolled back", context={"delay": 30})
        )
    ).json()
    await asyncio.sleep(0.3)
    response = await graphs_client.post(
        f"/threads/{thread}/runs/{run['run_id']}/cancel",
        params={"wait": "true", "action": "rollback"},
    )
    assert response.status_code == 200
    assert (await graphs_client.get(f"/threads/{thread}/runs/{run['run_id']}")).status_code == 404
    state = (await graphs_client.get(f"/threads/{thread}/state")).json()
    assert "rolled back" not in [m["content"] for m in state["values"]["messages"]]
    assert (await graphs_client.get(f"/threads/{thread}")).json()["status"] == "idle"


@pytest.mark.parametrize("action", ["interrupt", "rollback"])
async def test_a_run_cancelled_before_its_task_begins_still_ends_and_answers(
    graphs_app_with: GraphsAppWith, monkeypatch: pytest.MonkeyPatch, action: str
) -> None:
    """A cancel may reach a run whose task has not taken its first step yet (a second
    run on the thread cancels the first as soon as it is created). Such a task never
    runs its coroutine if cancelled outright: its waiter would hang and its row stay in
    flight. Here every run is cancelled the moment it is submitted."""
    from langstar.runs.executor import RunExecutor

    submit = RunExecutor.submit

    def submit_then_cancel(self: RunExecutor, job: Any) -> Any:
        stream = submit(self, job)
        assert self.cancel(job.run.run_id, action)
        return stream

    monkeypatch.setattr(RunExecutor, "submit", submit_then_cancel)
    async with graphs_app_with() as client:
        thread = await new_thread(client)
        async with asyncio.timeout(10):
            waited = await client.post(f"/threads/{thread}/runs/wait", json=body("slow"))
        assert waited.status_code == 200
        runs = (await client.get(f"/threads/{thread}/runs")).json()
        status = (await client.get(f"/threads/{thread}")).json()["status"]
    assert [r["status"] for r in runs] == ([] if action == "rollback" else ["interrupted"])
    assert status == "idle"


async def test_multitask_strategies(graphs_client: Client) -> None:
    thread = await new_thread(graphs_client)
    slow = body("slow", "first", context={"delay": 1.0})
    first = (await graphs_client.post(f"/threads/{thread}/runs", json=slow)).json()
    rejected = await graphs_client.post(
        f"/threads/{thread}/runs", json=body("slow", "x", multitask_strategy="reject")
    )
    assert rejected.status_code == 409
    queued = (
        await graphs_client.post(
            f"/threads/{thread}/runs", json=body("slow", "second", context={"delay": 0})
        )
    ).json()
    await graphs_client.get(f"/threads/{thread}/runs/{queued['run_id']}/join")
    contents = [
        m["content"]
        for m in (await graphs_client.get(f"/threads/{thread}/state")).json()["values"]["messages"]
    ]
    assert contents == ["first", "slept 1.0", "second", "slept 0.0"]  # enqueued, in order

    long = (
        await graphs_client.post(
            f"/threads/{thread}/runs", json=body("slow", "long", context={"delay": 30})
        )
    ).json()
    await asyncio.sleep(0.3)
    interrupting = (
        await graphs_client.post(
            f"/threads/{thread}/runs",
            json=body("slow", "now", context={"delay": 0}, multitask_strategy="interrupt"),
        )
    ).json()
    await graphs_client.get(f"/threads/{thread}/runs/{interrupting['run_id']}/join")
    long_status = (await graphs_client.get(f"/threads/{thread}/runs/{long['run_id']}")).json()
    assert long_status["status"] == "interrupted"

    doomed = (
        await graphs_client.post(
            f"/threads/{thread}/runs", json=body("slow", "doomed", context={"delay": 30})
        )
    ).json()
    await asyncio.sleep(0.3)
    rolling = (
        await graphs_client.post(
            f"/threads/{thread}/runs",
            json=body("slow", "after", context={"delay": 0}, multitask_strategy="rollback"),
        )
    ).json()
    await graphs_client.get(f"/threads/{thread}/runs/{rolling['run_id']}/join")
    assert (
        await graphs_client.get(f"/threads/{thread}/runs/{doomed['run_id']}")
    ).status_code == 404
    final = (await graphs_client.get(f"/threads/{thread}/state")).json()["values"]["messages"]
    assert "doomed" not in [m["content"] for m in final]
    assert final[-1]["content"] == "slept 0.0"
    assert first["run_id"]


async def test_stateless_runs_leave_no_thread_behind(graphs_client: Client) -> None:
    before = (await graphs_client.post("/threads/count", json={})).json()
    waited = await graphs_client.post("/runs/wait", json=body("streamer", "solo"))
    assert waited.json()["messages"][-1]["content"] == "echo: solo"
    _, events = await stream(graphs_client, "/runs/stream", body("streamer", "solo"))
    assert events[0].event == "metadata"
    # The thread goes once the run is done, just after its stream ends.
    count = None
    for _ in range(100):
        count = (await graphs_client.post("/threads/count", json={})).json()
        if count == before:
            break
        await asyncio.sleep(0.05)
    assert count == before
    kept = await graphs_client.post(
        "/runs/wait", json=body("streamer", "kept", on_completion="keep")
    )
    assert kept.status_code == 200
    assert (await graphs_client.post("/threads/count", json={})).json() == before + 1


async def test_resumable_stream_replays_after_last_event_id(graphs_client: Client) -> None:
    thread = await new_thread(graphs_client)
    _, events = await stream(
        graphs_client,
        f"/threads/{thread}/runs/stream",
        body(
            "streamer", "resume me", stream_mode=["messages-tuple", "values"], stream_resumable=True
        ),
    )
    assert all(e.id is not None for e in events)
    run_id = events[0].data["run_id"]
    replay = await graphs_client.get(
        f"/threads/{thread}/runs/{run_id}/stream", headers={"Last-Event-ID": events[2].id or ""}
    )
    replayed = parse(replay.text)
    assert [e.id for e in replayed] == [e.id for e in events[3:]]
    assert [e.data for e in replayed] == [e.data for e in events[3:]]
    # "-1" replays it from its start, as the JS SDK's useStream asks on reconnecting.
    from_start = await graphs_client.get(
        f"/threads/{thread}/runs/{run_id}/stream", headers={"Last-Event-ID": "-1"}
    )
    assert [e.data for e in parse(from_start.text)] == [e.data for e in events]


async def test_only_a_resumable_stream_holds_its_events_and_others_are_joined_live(
    graphs_app: Litestar,
) -> None:
    async with asgi_client(graphs_app) as client:
        bus = await container_of(graphs_app).get(EventBus)
        thread = await new_thread(client)
        modes = ["messages-tuple", "values"]
        path = f"/threads/{thread}/runs/stream"
        _, events = await stream(client, path, body("streamer", "x", stream_mode=modes))
        run_id = events[0].data["run_id"]
        assert len(events) > 3
        held = bus.get(uuid.UUID(run_id))
        assert held is not None
        assert held.closed
        assert held.held == 0  # its one reader took every event

        # Joined after its end, it gives the final values once, like a run held elsewhere.
        joined = parse((await client.get(f"/threads/{thread}/runs/{run_id}/stream")).text)
        assert [e.event for e in joined] == ["values"]
        assert joined[0].data == events[-1].data

        _, kept = await stream(
            client, path, body("streamer", "y", stream_mode=modes, stream_resumable=True)
        )
        held = bus.get(uuid.UUID(kept[0].data["run_id"]))
        assert held is not None
        assert held.held == len(kept)


async def test_a_thread_watch_refused_for_too_many_streams_leaves_no_feed_behind(
    settings: Any, make_app: MakeApp
) -> None:
    # One stream per user, which ends after two seconds.
    limits = msgspec.structs.replace(settings.limits, max_streams_per_user=1, max_stream_seconds=2)
    changed = msgspec.structs.replace(settings, graphs=TEST_GRAPHS, limits=limits)
    app = make_app(changed)
    async with asgi_client(app) as client:
        bus = await container_of(app).get(EventBus)
        thread = await new_thread(client)
        # The in-process transport answers once the stream has ended: read it aside.
        first = asyncio.create_task(client.get(f"/threads/{thread}/stream"))
        for _ in range(100):
            if watchers := bus.watchers(uuid.UUID(thread)):
                break
            await asyncio.sleep(0.01)
        assert len(watchers) == 1
        refused = await client.get(f"/threads/{thread}/stream")
        assert refused.status_code == 429
        assert len(bus.watchers(uuid.UUID(thread))) == 1  # only the open watch's feed
        assert (await first).status_code == 200
        assert not bus.watchers(uuid.UUID(thread))  # the ended watch took its feed away


async def test_join_stream_of_a_running_run_gets_the_rest(graphs_client: Client) -> None:
    thread = await new_thread(graphs_client)
    run = (
        await graphs_client.post(
            f"/threads/{thread}/runs",
            json=body("slow", context={"delay": 0.5}, stream_mode="values"),
        )
    ).json()
    response = await graphs_client.get(f"/threads/{thread}/runs/{run['run_id']}/stream")
    events = parse(response.text)
    assert events[-1].event == "values"
    assert events[-1].data["messages"][-1]["content"] == "slept 0.5"


async def test_bad_run_requests(graphs_client: Client) -> None:
    thread = await new_thread(graphs_client)
    missing = str(uuid.uuid4())
    assert (await graphs_client.get(f"/threads/{thread}/runs/{missing}")).status_code == 404
    assert (await graphs_client.get(f"/threads/{missing}/runs")).status_code == 404
    assert (
        await graphs_client.post(f"/threads/{missing}/runs", json=body("slow"))
    ).status_code == 404
    assert (await graphs_client.post("/runs/cancel", json={})).status_code == 422
    # Nothing matches (the database is shared with other tests, so name the runs).
    nothing = await graphs_client.post(
        "/runs/cancel", json={"thread_id": thread, "run_ids": [missing]}
    )
    assert nothing.status_code == 404
    assert (
        await graphs_client.post(
            f"/threads/{thread}/runs", json=body("slow", on_completion="delete")
        )
    ).status_code == 422


async def test_a_run_left_by_a_dead_server_that_cannot_be_resumed_fails_naming_why(
    graphs_app_with: GraphsAppWith, settings: Any
) -> None:
    async with graphs_app_with(lease_seconds=3.0) as client:
        thread = await new_thread(client)
        first = await client.post(f"/threads/{thread}/runs/wait", json=body("streamer", "a"))
        assert first.status_code == 200
        orphan = uuid.uuid4()
        with psycopg.connect(settings.database.url, autocommit=True) as conn:
            # What a server killed mid-run leaves behind: a running run nobody renews,
            # here on an assistant deleted since, so it cannot be resumed.
            conn.execute(
                "INSERT INTO runs (run_id, thread_id, assistant_id, graph_id, owner, status, "
                "multitask_strategy, worker, lease_expires_at) SELECT %s, thread_id, %s, "
                "'streamer', owner, 'running', 'enqueue', 'gone:1', "
                "now() - interval '1 second' FROM threads WHERE thread_id = %s",
                (orphan, uuid.uuid4(), thread),
            )
            conn.execute("UPDATE threads SET status = 'busy' WHERE thread_id = %s", (thread,))

        async def ended() -> Any:
            found = (await client.get(f"/threads/{thread}/runs/{orphan}")).json()
            return found if found["status"] not in ("pending", "running") else None

        lost = await eventually(ended, seconds=20)
        assert lost["status"] == "error"
        shown = (await client.get(f"/threads/{thread}")).json()
        assert shown["error"]["error"] == "RunNotResumable"
        # Its thread takes new runs again.
        rejecting = body("streamer", "b", multitask_strategy="reject")
        response = await client.post(f"/threads/{thread}/runs/wait", json=rejecting)
        assert response.status_code == 200, response.text
        assert response.json()["messages"][-1]["content"] == "echo: b"
        assert (await client.get(f"/threads/{thread}")).json()["status"] == "idle"


async def test_a_long_run_keeps_its_lease(graphs_app_with: GraphsAppWith) -> None:
    async with graphs_app_with(lease_seconds=3.0) as client:
        thread = await new_thread(client)
        waited = await client.post(
            f"/threads/{thread}/runs/wait", json=body("slow", context={"delay": 5})
        )
        assert waited.json()["messages"][-1]["content"] == "slept 5.0"
        runs_now = (await client.get(f"/threads/{thread}/runs")).json()
        assert runs_now[0]["status"] == "success"


async def test_a_server_never_fails_its_own_live_run_as_lost(
    settings: Any, graphs_app_with: GraphsAppWith
) -> None:
    """A lease can lapse while renewals cannot reach the database; the run is still alive.

    Other servers may then fail it, but the one executing it must not: it would report a
    run it is about to finish as lost. The test lapses the lease by hand, mid-run, and
    renames its holder so that renewals miss it, for three of the reaper's periods.
    """
    async with graphs_app_with(lease_seconds=3.0) as client:
        thread = await new_thread(client)
        started = await client.post(
            f"/threads/{thread}/runs", json=body("slow", context={"delay": 4})
        )
        run_id = started.json()["run_id"]
        with psycopg.connect(settings.database.url, autocommit=True) as conn:
            lapsed = conn.execute(
                "UPDATE runs SET lease_expires_at = now() - interval '1 minute', "
                "worker = 'unreachable' WHERE run_id = %s AND status = 'running'",
                (run_id,),
            )
            assert lapsed.rowcount == 1
        await asyncio.sleep(3.0)
        joined = await client.get(f"/threads/{thread}/runs/{run_id}/join")
        assert joined.json()["messages"][-1]["content"] == "slept 4.0", joined.text
        run = (await client.get(f"/threads/{thread}/runs/{run_id}")).json()
        assert run["status"] == "success"


async def test_stream_subgraphs_names_events_by_namespace(graphs_client: Client) -> None:
    _, flat = await stream(graphs_client, "/runs/stream", body("nested", stream_mode="updates"))
    assert {e.event for e in flat[1:]} == {"updates"}
    _, deep = await stream(
        graphs_client, "/runs/stream", body("nested", stream_mode="updates", stream_subgraphs=True)
    )
    names = [e.event for e in deep[1:]]
    assert any(n.startswith("updates|child:") for n in names)
    assert "updates" in names


async def test_command_update_and_goto(graphs_client: Client) -> None:
    thread = await new_thread(graphs_client)
    await graphs_client.post(f"/threads/{thread}/runs/wait", json=body("branching", "start"))
    command = {
        "update": {"messages": [{"role": "user", "content": "added by command"}]},
        "goto": "second",
    }
    response = await graphs_client.post(
        f"/threads/{thread}/runs/wait", json=body("branching", None, command=command)
    )
    contents = [m["content"] for m in response.json()["messages"]]
    assert contents[-2:] == ["added by command", "other"]


async def test_a_quick_wait_answers_whole_and_a_long_one_sends_newlines_first(
    graphs_app_with: GraphsAppWith,
) -> None:
    import json

    async with graphs_app_with(heartbeat_seconds=0.2) as client:
        thread = await new_thread(client)
        quick = await client.post(f"/threads/{thread}/runs/wait", json=body("streamer", "x"))
        assert quick.status_code == 200
        assert quick.headers["content-length"] == str(len(quick.content))
        assert quick.text.startswith("{")
        run_id = quick.headers["content-location"].rsplit("/", 1)[1]
        assert quick.headers["location"].endswith(f"/runs/{run_id}/join")

        response = await client.post(
            f"/threads/{thread}/runs/wait", json=body("slow", context={"delay": 1})
        )
        run_id = response.headers["content-location"].rsplit("/", 1)[1]
        assert response.headers["location"].endswith(f"/runs/{run_id}/join")
        assert "content-length" not in response.headers
        assert response.text.startswith("\n\n")
        assert json.loads(response.text)["messages"][-1]["content"] == "slept 1.0"
        joined = await client.get(f"/threads/{thread}/runs/{run_id}/join")
        assert joined.json()["messages"][-1]["content"] == "slept 1.0"
        assert joined.headers["content-length"] == str(len(joined.content))  # it is over


async def test_a_wait_cancelled_on_disconnect_streams_after_a_second_to_notice_a_leaver(
    graphs_app_with: GraphsAppWith,
) -> None:
    async with graphs_app_with(heartbeat_seconds=3) as client:
        thread = await new_thread(client)
        path = f"/threads/{thread}/runs/wait"
        slow = body("slow", context={"delay": 1.5})
        held = await client.post(path, json=slow)  # held whole, up to a heartbeat
        assert held.headers["content-length"] == str(len(held.content))
        assert held.json()["messages"][-1]["content"] == "slept 1.5"
        streamed = await client.post(path, json={**slow, "on_disconnect": "cancel"})
        assert "content-length" not in streamed.headers  # streamed: a leaver is noticed
        assert streamed.json()["messages"][-1]["content"] == "slept 1.5"


async def test_a_cancel_sent_to_another_server_process_reaches_the_run(
    graphs_app_with: GraphsAppWith,
) -> None:
    """Two app instances on one database: the run lives in one, the cancel lands on the other."""
    async with graphs_app_with() as first, graphs_app_with() as second:
        thread = await new_thread(first)
        run = (
            await first.post(f"/threads/{thread}/runs", json=body("slow", context={"delay": 30}))
        ).json()
        await asyncio.sleep(0.3)
        response = await second.post(f"/threads/{thread}/runs/{run['run_id']}/cancel")
        assert response.status_code == 202
        status = "running"
        for _ in range(100):
            status = (await second.get(f"/threads/{thread}/runs/{run['run_id']}")).json()["status"]
            if status != "running":
                break
            await asyncio.sleep(0.05)
        assert status == "interrupted"


async def test_run_list_select_and_refused_query_parameters(graphs_client: Client) -> None:
    thread = await new_thread(graphs_client)
    await graphs_client.post(f"/threads/{thread}/runs/wait", json=body("streamer", "x"))
    selected = await graphs_client.get(
        f"/threads/{thread}/runs", params=[("select", "run_id"), ("select", "status")]
    )
    assert [set(r) for r in selected.json()] == [{"run_id", "status"}]
    assert (
        await graphs_client.get(f"/threads/{thread}/runs", params={"select": "secret"})
    ).status_code == 422
    for path, params in (
        (f"/threads/{thread}", {"include": "secrets"}),
        (f"/threads/{thread}/state", {"select": "values"}),
    ):
        refused = await graphs_client.get(path, params=params)
        assert refused.status_code == 422, path
    created = (await graphs_client.post("/assistants", json={"graph_id": "streamer"})).json()
    refused = await graphs_client.delete(
        f"/assistants/{created['assistant_id']}", params={"delete_threads": "true"}
    )
    assert refused.status_code == 422


CONTEXT_PROJECT = Path(__file__).resolve().parents[1] / "support" / "projects" / "context"
TEMPLATE_DEFAULTS = "anthropic/claude-3-5-sonnet-latest | You are a helpful AI assistant. | 10"


@pytest.fixture
async def context_client(settings: Any, make_app: MakeApp) -> AsyncIterator[Client]:
    """A client of a project whose graphs read `runtime.context`, as the react-agent template."""
    project = str(CONTEXT_PROJECT / "langgraph.json")
    async with asgi_client(make_app(msgspec.structs.replace(settings, graphs_from=project))) as c:
        yield c


def last_reply(values: Any) -> str:
    assert "__error__" not in values, values
    return str(values["messages"][-1]["content"])


async def test_a_graph_reading_runtime_context_gets_its_defaults_when_none_is_sent(
    context_client: Client,
) -> None:
    thread = await new_thread(context_client)
    waited = await context_client.post(f"/threads/{thread}/runs/wait", json=body("react"))
    assert last_reply(waited.json()) == TEMPLATE_DEFAULTS
    _, events = await stream(context_client, f"/threads/{thread}/runs/stream", body("react"))
    assert {e.event for e in events} == {"metadata", "values"}
    assert last_reply(events[-1].data) == TEMPLATE_DEFAULTS
    run = (await context_client.post(f"/threads/{thread}/runs", json=body("react"))).json()
    joined = await context_client.get(f"/threads/{thread}/runs/{run['run_id']}/join")
    assert last_reply(joined.json()) == TEMPLATE_DEFAULTS
    stateless = await context_client.post("/runs/wait", json=body("react"))
    assert last_reply(stateless.json()) == TEMPLATE_DEFAULTS


async def test_a_partial_context_keeps_the_defaults_of_the_fields_not_sent(
    context_client: Client,
) -> None:
    partial = body("react", context={"model": "openai/gpt-4.1"})
    waited = await context_client.post("/runs/wait", json=partial)
    assert last_reply(waited.json()) == "openai/gpt-4.1 | You are a helpful AI assistant. | 10"
    _, events = await stream(context_client, "/runs/stream", partial)
    assert last_reply(events[-1].data) == last_reply(waited.json())
    # Keys the context schema does not name are dropped, as LangGraph's server drops them.
    extra = body("react", context={"model": "openai/gpt-4.1", "temperature": 0})
    assert last_reply((await context_client.post("/runs/wait", json=extra)).json()) == (
        last_reply(waited.json())
    )


async def test_configurable_values_feed_the_context_when_no_context_is_sent(
    context_client: Client,
) -> None:
    configured = body("react", config={"configurable": {"max_search_results": 3}})
    waited = await context_client.post("/runs/wait", json=configured)
    assert last_reply(waited.json()) == (
        "anthropic/claude-3-5-sonnet-latest | You are a helpful AI assistant. | 3"
    )
    assistant = await context_client.post(
        "/assistants", json={"graph_id": "react", "context": {"system_prompt": "Be brief."}}
    )
    on_assistant = body(assistant.json()["assistant_id"], context={"model": "openai/gpt-4.1"})
    answered = await context_client.post("/runs/wait", json=on_assistant)
    assert last_reply(answered.json()) == "openai/gpt-4.1 | Be brief. | 10"
    configured_assistant = await context_client.post(
        "/assistants",
        json={"graph_id": "react", "config": {"configurable": {"system_prompt": "Configured."}}},
    )
    plain = body(configured_assistant.json()["assistant_id"])
    answered = await context_client.post("/runs/wait", json=plain)
    assert last_reply(answered.json()) == "anthropic/claude-3-5-sonnet-latest | Configured. | 10"


async def test_a_typed_dict_context_is_a_dict_of_the_keys_it_names(
    context_client: Client,
) -> None:
    sent = body("typed", context={"model": "m", "temperature": 0})
    assert last_reply((await context_client.post("/runs/wait", json=sent)).json()) == (
        '{"model": "m"}'
    )
    configured = body("typed", config={"configurable": {"model": "c"}})
    assert last_reply((await context_client.post("/runs/wait", json=configured)).json()) == (
        '{"model": "c"}'
    )
    # LangGraph itself hands an empty context to a graph without a class schema as None.
    nothing = await context_client.post("/runs/wait", json=body("typed"))
    assert last_reply(nothing.json()) == "null"


async def interrupted_thread(client: Client) -> str:
    thread = await new_thread(client)
    await client.post(f"/threads/{thread}/runs/wait", json=body("hitl", "may I?"))
    assert (await client.get(f"/threads/{thread}")).json()["status"] == "interrupted"
    return thread


async def test_an_interrupt_is_answered_with_the_body_use_stream_sends(
    graphs_client: Client,
) -> None:
    """`useStream().submit({}, {command: {resume}})`, as agent-chat-ui answers an interrupt."""
    thread = await interrupted_thread(graphs_client)
    sent = {"input": {}, "command": {"resume": "yes"}, "stream_mode": ["values", "messages-tuple"],
            "stream_resumable": False, "assistant_id": "hitl",
            "on_disconnect": "cancel"}  # fmt: skip
    _, events = await stream(graphs_client, f"/threads/{thread}/runs/stream", sent)
    assert events[-1].data["messages"][-1]["content"] == "approved: yes"
    assert (await graphs_client.get(f"/threads/{thread}")).json()["status"] == "idle"


async def test_mark_as_resolved_runs_its_goto_and_drops_the_empty_input(
    graphs_client: Client,
) -> None:
    """agent-chat-ui's "Mark as resolved": `submit({}, {command: {goto: "__end__"}})`."""
    thread = await interrupted_thread(graphs_client)
    sent = {"input": {}, "command": {"goto": "__end__"}, "stream_mode": ["values"],
            "assistant_id": "hitl", "on_disconnect": "cancel"}  # fmt: skip
    _, events = await stream(graphs_client, f"/threads/{thread}/runs/stream", sent)
    assert "error" not in [e.event for e in events]
    assert [m["content"] for m in events[-1].data["messages"]] == ["may I?"]


@pytest.mark.parametrize("given", [None, {"messages": [{"role": "user", "content": "dropped"}]}])
async def test_a_command_runs_whatever_input_comes_beside_it_on_every_route(
    graphs_client: Client, given: Any
) -> None:
    command = {"input": given, "command": {"resume": "ok"}, "assistant_id": "hitl"}
    thread = await interrupted_thread(graphs_client)
    waited = await graphs_client.post(f"/threads/{thread}/runs/wait", json=command)
    assert [m["content"] for m in waited.json()["messages"]] == ["may I?", "approved: ok"]

    thread = await interrupted_thread(graphs_client)
    run = await graphs_client.post(f"/threads/{thread}/runs", json=command)
    assert run.status_code == 200, run.text
    joined = await graphs_client.get(f"/threads/{thread}/runs/{run.json()['run_id']}/join")
    assert [m["content"] for m in joined.json()["messages"]] == ["may I?", "approved: ok"]

    jump = {"update": {"messages": [{"role": "user", "content": "by command"}]}, "goto": "second"}
    stateless = {"input": given, "command": jump, "assistant_id": "branching"}
    answered = (await graphs_client.post("/runs/wait", json=stateless)).json()
    _, events = await stream(graphs_client, "/runs/stream", stateless)
    for values in (answered, events[-1].data):
        contents = [m["content"] for m in values["messages"]]
        assert "by command" in contents
        assert "dropped" not in contents


async def test_a_run_is_joined_with_other_stream_modes_than_it_started_with(
    graphs_client: Client,
) -> None:
    """useStream rejoins with `messages-tuple` a run started with `messages`; a mode the run
    did not stream gives nothing, and `metadata` comes only when asked for, as on
    LangGraph's server."""
    thread = await new_thread(graphs_client)
    started = body("streamer", "x", stream_mode=["messages", "values"], stream_resumable=True)
    _, events = await stream(graphs_client, f"/threads/{thread}/runs/stream", started)
    path = f"/threads/{thread}/runs/{events[0].data['run_id']}/stream"
    joined = await graphs_client.get(
        path + "?stream_mode=messages-tuple&stream_mode=values", headers={"Last-Event-ID": "-1"}
    )
    assert joined.status_code == 200, joined.text
    assert [e.data for e in parse(joined.text)] == [e.data for e in events[1:]]
    as_json = await graphs_client.get(
        path, params={"stream_mode": '["values"]'}, headers={"Last-Event-ID": "-1"}
    )
    assert {e.event for e in parse(as_json.text)} == {"values"}
    other = await graphs_client.get(
        path, params={"stream_mode": "updates"}, headers={"Last-Event-ID": "-1"}
    )
    assert other.status_code == 200, other.text
    assert [e.event for e in parse(other.text)] == []
    with_metadata = await graphs_client.get(
        path, params={"stream_mode": ["metadata", "values"]}, headers={"Last-Event-ID": "-1"}
    )
    assert parse(with_metadata.text)[0].event == "metadata"
