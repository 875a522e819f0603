"""Cron routes: `client.crons` of the official SDKs."""

from __future__ import annotations

from typing import Any

from dishka.integrations.litestar import FromDishka
from litestar import Controller, delete, get, patch, post
from litestar.params import FromPath, JSONBody

from langstar.crons.schemas import Cron, CronCount, CronCreate, CronPatch, CronSearch
from langstar.crons.service import CronService
from langstar.errors import parse_uuid


class CronController(Controller):
    path = "/runs/crons"
    tags = ("Crons",)

    @post("/", status_code=200, summary="Create a cron that runs on a new thread each time")
    async def create_cron(self, data: JSONBody[CronCreate], crons: FromDishka[CronService]) -> Cron:
        return await crons.create(None, data)

    @post("/search", status_code=200, summary="Search crons")
    async def search_crons(
        self, data: JSONBody[CronSearch], crons: FromDishka[CronService]
    ) -> list[dict[str, Any]]:
        return await crons.search(data)

    @post("/count", status_code=200, summary="Count crons")
    async def count_crons(self, data: JSONBody[CronCount], crons: FromDishka[CronService]) -> int:
        return await crons.count(data)

    @get("/{cron_id:str}", summary="Get a cron")
    async def get_cron(self, cron_id: FromPath[str], crons: FromDishka[CronService]) -> Cron:
        return await crons.get(parse_uuid(cron_id, "cron_id"))

    @patch("/{cron_id:str}", summary="Change a cron")
    async def patch_cron(
        self, cron_id: FromPath[str], data: JSONBody[CronPatch], crons: FromDishka[CronService]
    ) -> Cron:
        return await crons.update(parse_uuid(cron_id, "cron_id"), data)

    @delete("/{cron_id:str}", status_code=204, summary="Delete a cron")
    async def delete_cron(self, cron_id: FromPath[str], crons: FromDishka[CronService]) -> None:
        await crons.delete(parse_uuid(cron_id, "cron_id"))


class ThreadCronController(Controller):
    path = "/threads/{thread_id:str}/runs/crons"
    tags = ("Crons",)

    @post("/", status_code=200, summary="Create a cron that runs on this thread")
    async def create_thread_cron(
        self, thread_id: FromPath[str], data: JSONBody[CronCreate], crons: FromDishka[CronService]
    ) -> Cron:
        return await crons.create(parse_uuid(thread_id, "thread_id"), data)
