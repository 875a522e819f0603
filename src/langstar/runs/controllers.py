"""Run routes: on a thread, and stateless."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import msgspec
from dishka.integrations.litestar import FromDishka
from litestar import Controller, Response, delete, get, post
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody
from litestar.response import Stream

from langstar.assistants.service import AssistantService
from langstar.errors import InvalidError, parse_uuid, selected_fields
from langstar.graphs.registry import RegisteredGraph
from langstar.lifecycle import Run
from langstar.runs.schemas import RunCancel, RunCreate
from langstar.runs.service import RunService, as_created
from langstar.streaming.sse import SSE_HEADERS

# Ids are taken as text and parsed by hand, so a malformed one is a 422 naming the field,
# not the 404 a typed path parameter would answer.
ThreadId = FromPath[str]
RunId = FromPath[str]
CancelAction = Literal["interrupt", "rollback"]


def _sse(body: AsyncIterator[bytes], thread_id: uuid.UUID | None, run: Run) -> Stream:
    base = f"/threads/{thread_id}/runs/{run.run_id}" if thread_id else f"/runs/{run.run_id}"
    headers = {
        **SSE_HEADERS,
        # The SDK reads the run id from Content-Location and reconnects to Location.
        "Content-Location": f"/threads/{run.thread_id}/runs/{run.run_id}",
        "Location": base + "/stream",
    }
    return Stream(body, media_type="text/event-stream", headers=headers)


def _json(body: bytes | AsyncIterator[bytes], run: Run) -> Response[bytes] | Stream:
    location = f"/threads/{run.thread_id}/runs/{run.run_id}"
    headers = {"Content-Location": location, "Location": location + "/join"}
    if isinstance(body, bytes):
        return Response(body, media_type="application/json", headers=headers)
    return Stream(body, media_type="application/json", headers=headers)


def _ids(thread_id: str, run_id: str) -> tuple[uuid.UUID, uuid.UUID]:
    return parse_uuid(thread_id, "thread_id"), parse_uuid(run_id, "run_id")


class ThreadRunController(Controller):
    path = "/threads/{thread_id:str}/runs"
    tags = ("Thread Runs",)

    @post("/", status_code=200, summary="Start a run in the background")
    async def create_run(
        self,
        thread_id: ThreadId,
        data: JSONBody[RunCreate],
        runs: FromDishka[RunService],
        graph: FromDishka[RegisteredGraph],
    ) -> Response[Run]:
        job = await runs.create(parse_uuid(thread_id, "thread_id"), data, graph)
        location = f"/threads/{job.run.thread_id}/runs/{job.run.run_id}"
        return Response(as_created(job.run), headers={"Content-Location": location})

    @post("/wait", status_code=200, summary="Run and wait for the final values")
    async def wait_run(
        self,
        thread_id: ThreadId,
        data: JSONBody[RunCreate],
        runs: FromDishka[RunService],
        graph: FromDishka[RegisteredGraph],
    ) -> Response[bytes] | Stream:
        run, values = await runs.wait(parse_uuid(thread_id, "thread_id"), data, graph)
        return _json(values, run)

    @post("/stream", status_code=200, summary="Run and stream its events (SSE)")
    async def stream_run(
        self,
        thread_id: ThreadId,
        data: JSONBody[RunCreate],
        runs: FromDishka[RunService],
        graph: FromDishka[RegisteredGraph],
    ) -> Stream:
        thread = parse_uuid(thread_id, "thread_id")
        run, body = await runs.stream(thread, data, graph)
        return _sse(body, thread, run)

    @get("/", summary="List a thread's runs")
    async def list_runs(
        self,
        thread_id: ThreadId,
        runs: FromDishka[RunService],
        limit: FromQuery[int] = 10,
        offset: FromQuery[int] = 0,
        status: FromQuery[str | None] = None,
        select: FromQuery[list[str] | None] = None,
    ) -> list[dict[str, Any]]:
        found = await runs.list_runs(
            parse_uuid(thread_id, "thread_id"), limit=limit, offset=offset, status=status
        )
        fields = selected_fields(select, Run.__struct_fields__)
        return [{f: v for f, v in msgspec.to_builtins(run).items() if f in fields} for run in found]

    @get("/{run_id:str}", summary="Get a run")
    async def get_run(
        self, thread_id: ThreadId, run_id: RunId, runs: FromDishka[RunService]
    ) -> Run:
        return await runs.get(*_ids(thread_id, run_id))

    @delete("/{run_id:str}", status_code=204, summary="Delete a finished run")
    async def delete_run(
        self, thread_id: ThreadId, run_id: RunId, runs: FromDishka[RunService]
    ) -> None:
        await runs.delete(*_ids(thread_id, run_id))

    @get("/{run_id:str}/join", summary="Wait for a run and return the thread's final values")
    async def join_run(
        self, thread_id: ThreadId, run_id: RunId, runs: FromDishka[RunService]
    ) -> Response[bytes] | Stream:
        run, values = await runs.join(*_ids(thread_id, run_id))
        return _json(values, run)

    @get("/{run_id:str}/stream", summary="Stream a run's events; Last-Event-ID resumes")
    async def join_stream(
        self,
        thread_id: ThreadId,
        run_id: RunId,
        runs: FromDishka[RunService],
        last_event_id: Annotated[str | None, HeaderParameter(name="Last-Event-ID")] = None,
        cancel_on_disconnect: FromQuery[bool] = False,
        stream_mode: FromQuery[list[str] | None] = None,
    ) -> Stream:
        thread, run = _ids(thread_id, run_id)
        body = await runs.join_stream(
            thread,
            run,
            last_event_id,
            cancel_on_disconnect=cancel_on_disconnect,
            # The SDK sends an empty `stream_mode=` when it means "all of them".
            modes=[mode for mode in stream_mode or [] if mode],
        )
        record = await runs.get(thread, run)
        return _sse(body, thread, record)

    @post("/{run_id:str}/cancel", status_code=202, summary="Cancel a run")
    async def cancel_run(
        self,
        thread_id: ThreadId,
        run_id: RunId,
        runs: FromDishka[RunService],
        wait: FromQuery[bool] = False,
        action: FromQuery[CancelAction] = "interrupt",
    ) -> Response[Any]:
        await runs.cancel(*_ids(thread_id, run_id), wait=wait, action=action)
        # Like the Agent Server: `{}` once the run has ended, else an empty 202.
        return Response({}, status_code=200) if wait else Response(b"", status_code=202)


class StatelessRunController(Controller):
    path = "/runs"
    tags = ("Stateless Runs",)

    @post("/", status_code=200, summary="Start a run on a temporary thread")
    async def create_run(
        self,
        data: JSONBody[RunCreate],
        runs: FromDishka[RunService],
        graph: FromDishka[RegisteredGraph],
    ) -> Run:
        return as_created((await runs.create(None, data, graph)).run)

    @post("/wait", status_code=200, summary="Run on a temporary thread and wait")
    async def wait_run(
        self,
        data: JSONBody[RunCreate],
        runs: FromDishka[RunService],
        graph: FromDishka[RegisteredGraph],
    ) -> Response[bytes] | Stream:
        run, values = await runs.wait(None, data, graph)
        return _json(values, run)

    @post("/stream", status_code=200, summary="Run on a temporary thread and stream (SSE)")
    async def stream_run(
        self,
        data: JSONBody[RunCreate],
        runs: FromDishka[RunService],
        graph: FromDishka[RegisteredGraph],
    ) -> Stream:
        run, body = await runs.stream(None, data, graph)
        return _sse(body, None, run)

    @post("/batch", status_code=200, summary="Start several runs on temporary threads")
    async def create_batch(
        self,
        data: JSONBody[list[RunCreate]],
        runs: FromDishka[RunService],
        assistants: FromDishka[AssistantService],
    ) -> list[Run]:
        if not data:
            raise InvalidError("body", "give at least one run")
        graphs = [await assistants.resolve(item.assistant_id) for item in data]
        return await runs.create_batch(data, graphs)

    @post("/cancel", status_code=204, summary="Cancel runs by id or by status")
    async def cancel_runs(
        self,
        data: JSONBody[RunCancel],
        runs: FromDishka[RunService],
        action: FromQuery[CancelAction] = "interrupt",
    ) -> None:
        await runs.cancel_many(data, action)


class ThreadStreamController(Controller):
    path = "/threads/{thread_id:str}/stream"
    tags = ("Threads",)

    @get("/", summary="Stream the events of every run on a thread (SSE)")
    async def stream_thread(
        self,
        thread_id: ThreadId,
        runs: FromDishka[RunService],
        stream_modes: FromQuery[str] = "run_modes",
        last_event_id: Annotated[str | None, HeaderParameter(name="Last-Event-ID")] = None,
    ) -> Stream:
        if last_event_id:
            raise InvalidError("Last-Event-ID", "a thread stream cannot be resumed")
        modes = [m for m in stream_modes.split(",") if m]
        body = await runs.watch_thread(parse_uuid(thread_id, "thread_id"), modes)
        return Stream(body, media_type="text/event-stream", headers=SSE_HEADERS)
