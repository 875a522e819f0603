"""Thread routes."""

from __future__ import annotations

from typing import Any

from dishka.integrations.litestar import FromDishka
from litestar import Controller, delete, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody

from langstar.errors import parse_uuid, refuse_if_given
from langstar.graphs.registry import RegisteredGraph, ThreadGraph
from langstar.threads.schemas import (
    CheckpointConfig,
    Thread,
    ThreadCount,
    ThreadCreate,
    ThreadHistory,
    ThreadPatch,
    ThreadPrune,
    ThreadPruned,
    ThreadSearch,
    ThreadState,
    ThreadStateAtCheckpoint,
    ThreadStateUpdate,
    ThreadStateUpdated,
)
from langstar.threads.service import ThreadService

# Parsed by hand, so a malformed id is a 422 naming the field, not a route that 404s.
ThreadId = FromPath[str]


class ThreadController(Controller):
    path = "/threads"
    tags = ("Threads",)

    @post("/", status_code=200, summary="Create a thread")
    async def create_thread(
        self, data: JSONBody[ThreadCreate], threads: FromDishka[ThreadService]
    ) -> Thread:
        return await threads.create(data)

    @post("/search", status_code=200, summary="Search threads")
    async def search_threads(
        self, data: JSONBody[ThreadSearch], threads: FromDishka[ThreadService]
    ) -> list[dict[str, Any]]:
        return await threads.search(data)

    @post("/count", status_code=200, summary="Count threads")
    async def count_threads(
        self, data: JSONBody[ThreadCount], threads: FromDishka[ThreadService]
    ) -> int:
        return await threads.count(data)

    @post("/prune", status_code=200, summary="Delete threads or trim them to their latest state")
    async def prune_threads(
        self, data: JSONBody[ThreadPrune], threads: FromDishka[ThreadService]
    ) -> ThreadPruned:
        return ThreadPruned(pruned_count=await threads.prune(data))

    @get("/{thread_id:str}", summary="Get a thread")
    async def get_thread(
        self,
        thread_id: ThreadId,
        threads: FromDishka[ThreadService],
        include: FromQuery[str | None] = None,
    ) -> Thread:
        fields = [name for name in (include or "").split(",") if name]
        return await threads.get(parse_uuid(thread_id, "thread_id"), include=fields)

    @patch("/{thread_id:str}", summary="Merge metadata into a thread")
    async def patch_thread(
        self, thread_id: ThreadId, data: JSONBody[ThreadPatch], threads: FromDishka[ThreadService]
    ) -> Thread:
        return await threads.patch(parse_uuid(thread_id, "thread_id"), data)

    @delete("/{thread_id:str}", status_code=204, summary="Delete a thread and its checkpoints")
    async def delete_thread(self, thread_id: ThreadId, threads: FromDishka[ThreadService]) -> None:
        await threads.delete(parse_uuid(thread_id, "thread_id"))

    @post("/{thread_id:str}/copy", status_code=200, summary="Copy a thread with its history")
    async def copy_thread(self, thread_id: ThreadId, threads: FromDishka[ThreadService]) -> Thread:
        return await threads.copy(parse_uuid(thread_id, "thread_id"))

    @get("/{thread_id:str}/state", summary="Get the latest state of a thread")
    async def get_thread_state(
        self,
        thread_id: ThreadId,
        threads: FromDishka[ThreadService],
        graph: FromDishka[ThreadGraph],
        subgraphs: FromQuery[bool] = False,
        select: FromQuery[str | None] = None,
    ) -> ThreadState:
        refuse_if_given("select", select)
        thread = parse_uuid(thread_id, "thread_id")
        return await threads.state(graph, thread, subgraphs=subgraphs)

    @get(
        "/{thread_id:str}/state/{checkpoint_id:str}", summary="Get a thread's state at a checkpoint"
    )
    async def get_thread_state_at(
        self,
        thread_id: ThreadId,
        checkpoint_id: FromPath[str],
        threads: FromDishka[ThreadService],
        graph: FromDishka[ThreadGraph],
        subgraphs: FromQuery[bool] = False,
    ) -> ThreadState:
        checkpoint = CheckpointConfig(checkpoint_id=checkpoint_id)
        thread = parse_uuid(thread_id, "thread_id")
        return await threads.state(graph, thread, checkpoint, subgraphs=subgraphs)

    @post("/{thread_id:str}/state/checkpoint", status_code=200, summary="State at a checkpoint")
    async def post_thread_state_at(
        self,
        thread_id: ThreadId,
        data: JSONBody[ThreadStateAtCheckpoint],
        threads: FromDishka[ThreadService],
        graph: FromDishka[ThreadGraph],
    ) -> ThreadState:
        thread = parse_uuid(thread_id, "thread_id")
        return await threads.state(graph, thread, data.checkpoint, subgraphs=data.subgraphs)

    @post("/{thread_id:str}/state", status_code=200, summary="Update a thread's state")
    async def update_thread_state(
        self,
        thread_id: ThreadId,
        data: JSONBody[ThreadStateUpdate],
        threads: FromDishka[ThreadService],
        graph: FromDishka[RegisteredGraph],
    ) -> ThreadStateUpdated:
        thread = parse_uuid(thread_id, "thread_id")
        checkpoint = await threads.update_state(graph, thread, data)
        return ThreadStateUpdated(
            checkpoint=checkpoint,
            configurable=checkpoint,
            checkpoint_id=checkpoint.get("checkpoint_id"),
        )

    @post("/{thread_id:str}/history", status_code=200, summary="A thread's past states")
    async def post_thread_history(
        self,
        thread_id: ThreadId,
        data: JSONBody[ThreadHistory],
        threads: FromDishka[ThreadService],
        graph: FromDishka[ThreadGraph],
    ) -> list[ThreadState]:
        return await threads.history(graph, parse_uuid(thread_id, "thread_id"), data)

    @get("/{thread_id:str}/history", summary="A thread's past states")
    async def get_thread_history(
        self,
        thread_id: ThreadId,
        threads: FromDishka[ThreadService],
        graph: FromDishka[ThreadGraph],
        limit: FromQuery[int] = 1,
        before: FromQuery[str | None] = None,
    ) -> list[ThreadState]:
        body = ThreadHistory(limit=limit, before=before)
        return await threads.history(graph, parse_uuid(thread_id, "thread_id"), body)
