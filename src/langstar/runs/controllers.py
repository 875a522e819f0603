"""Run routes."""

from __future__ import annotations

from typing import Any

from dishka.integrations.litestar import FromDishka
from litestar import Controller, post
from litestar.params import FromPath, JSONBody

from langstar.errors import parse_uuid
from langstar.graphs.registry import RegisteredGraph
from langstar.runs.schemas import RunCreate
from langstar.runs.service import RunService


class ThreadRunController(Controller):
    path = "/threads/{thread_id:str}/runs"
    tags = ("Thread Runs",)

    @post("/wait", status_code=200, summary="Run on a thread and wait for its final values")
    async def wait_run(
        self,
        thread_id: FromPath[str],
        data: JSONBody[RunCreate],
        runs: FromDishka[RunService],
        graph: FromDishka[RegisteredGraph],
    ) -> dict[str, Any]:
        return await runs.wait(parse_uuid(thread_id, "thread_id"), data, graph)
