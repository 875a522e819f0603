"""Thread routes."""

from __future__ import annotations

from dishka.integrations.litestar import FromDishka
from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody

from langstar.errors import parse_uuid
from langstar.graphs.registry import RegisteredGraph
from langstar.threads.schemas import Thread, ThreadCreate, ThreadState
from langstar.threads.service import ThreadService


class ThreadController(Controller):
    path = "/threads"
    tags = ("Threads",)

    @post("/", status_code=200, summary="Create a thread")
    async def create_thread(
        self, data: JSONBody[ThreadCreate], threads: FromDishka[ThreadService]
    ) -> Thread:
        return await threads.create(data)

    @get("/{thread_id:str}", summary="Get a thread")
    async def get_thread(
        self, thread_id: FromPath[str], threads: FromDishka[ThreadService]
    ) -> Thread:
        return await threads.get(parse_uuid(thread_id, "thread_id"))

    @get("/{thread_id:str}/state", summary="Get the latest state of a thread")
    async def get_thread_state(
        self,
        thread_id: FromPath[str],
        threads: FromDishka[ThreadService],
        graph: FromDishka[RegisteredGraph],
    ) -> ThreadState:
        return await threads.state(graph.compiled, parse_uuid(thread_id, "thread_id"))
