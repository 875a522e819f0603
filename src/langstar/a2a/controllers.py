"""Routes of the A2A endpoint: JSON-RPC at /a2a/{assistant_id}, and the agent cards."""

from __future__ import annotations

from typing import Any

from dishka.integrations.litestar import FromDishka
from litestar import Controller, MediaType, Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Stream

from langstar.a2a.service import A2AService
from langstar.settings import Settings
from langstar.streaming.sse import SSE_HEADERS

AssistantId = FromPath[str]


def endpoint_url(request: Request[Any, Any, Any], settings: Settings, assistant_id: str) -> str:
    """Where clients reach the assistant's endpoint: as this request came, under the prefix."""
    base = str(request.base_url).rstrip("/")
    return f"{base}{settings.http.mount_prefix}/a2a/{assistant_id}"


class A2AController(Controller):
    path = "/a2a/{assistant_id:str}"
    tags = ("A2A",)

    @post(
        "/",
        status_code=200,
        summary="Call the assistant's A2A agent (JSON-RPC 2.0)",
        description="Methods: SendMessage, SendStreamingMessage (SSE), GetTask, CancelTask, "
        "ListTasks, SubscribeToTask, and the 0.3 names message/send, message/stream, "
        "tasks/get, tasks/cancel, tasks/resubscribe. Errors are JSON-RPC errors.",
    )
    async def call(
        self,
        assistant_id: AssistantId,
        request: Request[Any, Any, Any],
        a2a: FromDishka[A2AService],
    ) -> Response[dict[str, Any]] | Stream:
        version = request.headers.get("A2A-Version")
        answer = await a2a.call(assistant_id, await request.body(), version)
        if isinstance(answer, dict):
            return Response(answer, media_type=MediaType.JSON)
        return Stream(answer, media_type="text/event-stream", headers=SSE_HEADERS)

    @get(
        ["/", "/.well-known/agent-card.json", "/.well-known/agent.json"],
        summary="The assistant's A2A agent card, at its endpoint and the well-known paths",
    )
    async def card(
        self,
        assistant_id: AssistantId,
        request: Request[Any, Any, Any],
        a2a: FromDishka[A2AService],
        settings: FromDishka[Settings],
    ) -> dict[str, Any]:
        return await a2a.card(assistant_id, endpoint_url(request, settings, assistant_id))


@get("/.well-known/agent-card.json", tags=["A2A"], summary="An assistant's A2A agent card")
async def agent_card(
    assistant_id: FromQuery[str],
    request: Request[Any, Any, Any],
    a2a: FromDishka[A2AService],
    settings: FromDishka[Settings],
) -> dict[str, Any]:
    return await a2a.card(assistant_id, endpoint_url(request, settings, assistant_id))


a2a_handlers: list[Any] = [A2AController, agent_card]
