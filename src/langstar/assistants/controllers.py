"""Assistant routes."""

from __future__ import annotations

from typing import Any

from dishka.integrations.litestar import FromDishka
from litestar import Controller, delete, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody

from langstar.assistants.schemas import (
    Assistant,
    AssistantCount,
    AssistantCreate,
    AssistantPatch,
    AssistantSearch,
    AssistantVersionsSearch,
    GraphSchemas,
    LatestVersion,
)
from langstar.assistants.service import AssistantService
from langstar.errors import InvalidError, refuse_if_given

AssistantId = FromPath[str]


class AssistantController(Controller):
    path = "/assistants"
    tags = ("Assistants",)

    @post("/", status_code=200, summary="Create an assistant")
    async def create_assistant(
        self, data: JSONBody[AssistantCreate], assistants: FromDishka[AssistantService]
    ) -> Assistant:
        return await assistants.create(data)

    @post("/search", status_code=200, summary="Search assistants")
    async def search_assistants(
        self, data: JSONBody[AssistantSearch], assistants: FromDishka[AssistantService]
    ) -> list[dict[str, Any]]:
        return await assistants.search(data)

    @post("/count", status_code=200, summary="Count assistants")
    async def count_assistants(
        self, data: JSONBody[AssistantCount], assistants: FromDishka[AssistantService]
    ) -> int:
        return await assistants.count(data)

    @get("/{assistant_id:str}", summary="Get an assistant")
    async def get_assistant(
        self, assistant_id: AssistantId, assistants: FromDishka[AssistantService]
    ) -> Assistant:
        return await assistants.get(assistant_id)

    @patch("/{assistant_id:str}", summary="Change an assistant (makes a new version)")
    async def patch_assistant(
        self,
        assistant_id: AssistantId,
        data: JSONBody[AssistantPatch],
        assistants: FromDishka[AssistantService],
    ) -> Assistant:
        return await assistants.patch(assistant_id, data)

    @delete("/{assistant_id:str}", status_code=204, summary="Delete an assistant")
    async def delete_assistant(
        self,
        assistant_id: AssistantId,
        assistants: FromDishka[AssistantService],
        delete_threads: FromQuery[bool] = False,
    ) -> None:
        refuse_if_given("delete_threads", delete_threads)
        await assistants.delete(assistant_id)

    @post("/{assistant_id:str}/versions", status_code=200, summary="List an assistant's versions")
    async def list_versions(
        self,
        assistant_id: AssistantId,
        assistants: FromDishka[AssistantService],
        data: JSONBody[AssistantVersionsSearch | None] = None,
    ) -> list[Assistant]:
        return await assistants.versions(assistant_id, data or AssistantVersionsSearch())

    @post("/{assistant_id:str}/latest", status_code=200, summary="Make a version current")
    async def set_latest_version(
        self,
        assistant_id: AssistantId,
        assistants: FromDishka[AssistantService],
        data: JSONBody[LatestVersion | None] = None,
        version: FromQuery[int | None] = None,
    ) -> Assistant:
        # The reference schema puts `version` in the query; the SDK sends it in the body.
        chosen = version if version is not None else (data.version if data else None)
        if chosen is None:
            raise InvalidError("version", "required, in the query or the body")
        return await assistants.set_latest(assistant_id, chosen)

    @get("/{assistant_id:str}/graph", summary="The assistant's graph, drawable")
    async def get_graph(
        self,
        assistant_id: AssistantId,
        assistants: FromDishka[AssistantService],
        xray: FromQuery[str] = "false",
    ) -> dict[str, Any]:
        depth: bool | int = xray.lower() in ("true", "1") if not xray.isdigit() else int(xray)
        return await assistants.graph(assistant_id, depth)

    @get("/{assistant_id:str}/schemas", summary="The assistant's JSON Schemas")
    async def get_schemas(
        self, assistant_id: AssistantId, assistants: FromDishka[AssistantService]
    ) -> GraphSchemas:
        return await assistants.schemas(assistant_id)

    @get("/{assistant_id:str}/subgraphs", summary="Schemas of the assistant's subgraphs")
    async def get_subgraphs(
        self,
        assistant_id: AssistantId,
        assistants: FromDishka[AssistantService],
        recurse: FromQuery[bool] = False,
    ) -> dict[str, dict[str, Any]]:
        return await assistants.subgraphs(assistant_id, None, recurse)

    @get("/{assistant_id:str}/subgraphs/{namespace:str}", summary="Schemas of one subgraph")
    async def get_subgraph(
        self,
        assistant_id: AssistantId,
        namespace: FromPath[str],
        assistants: FromDishka[AssistantService],
        recurse: FromQuery[bool] = False,
    ) -> dict[str, dict[str, Any]]:
        return await assistants.subgraphs(assistant_id, namespace, recurse)
