"""Routes of the thread-centric streaming protocol that `client.threads.stream()` speaks."""

from __future__ import annotations

from typing import Any

import msgspec
from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, Response, post
from litestar.params import FromPath
from litestar.response import Stream

from langstar.errors import parse_uuid
from langstar.protocol.service import ProtocolService, parse_subscription
from langstar.streaming.sse import SSE_HEADERS


async def _json_body(request: Request[Any, Any, Any]) -> Any:
    try:
        return msgspec.json.decode(await request.body())
    except msgspec.DecodeError:
        return msgspec.UNSET


class ThreadProtocolController(Controller):
    path = "/threads/{thread_id:str}"
    tags = ("Thread Streaming Protocol",)

    @post(
        "/commands",
        status_code=200,
        summary="Send a protocol command (run.start, input.respond)",
        description="Body: `{id, method, params}`. A command that fails answers 200 with an "
        "error envelope `{type: 'error', id, error, message}`; a body that is not a "
        "command answers 400.",
    )
    async def command(
        self,
        thread_id: FromPath[str],
        request: Request[Any, Any, Any],
        protocol: FromDishka[ProtocolService],
    ) -> Response[dict[str, Any]]:
        thread = parse_uuid(thread_id, "thread_id")
        payload = await _json_body(request)
        if payload is msgspec.UNSET:
            return Response({"detail": "Invalid JSON body"}, status_code=400)
        if (
            not isinstance(payload, dict)
            or isinstance(payload.get("id"), bool)
            or not isinstance(payload.get("id"), int)
            or not isinstance(payload.get("method"), str)
        ):
            return Response(
                {
                    "type": "error",
                    "id": payload.get("id") if isinstance(payload, dict) else None,
                    "error": "invalid_argument",
                    "message": "Protocol commands must include an integer id and string method.",
                },
                status_code=400,
            )
        return Response(await protocol.command(thread, payload))

    @post(
        "/stream/events",
        status_code=200,
        summary="Stream the thread's protocol events (SSE)",
        description="Body: `{channels, namespaces?, depth?, since?}`. Replays the thread's "
        "kept events after `since`, then stays open for new ones.",
    )
    async def events(
        self,
        thread_id: FromPath[str],
        request: Request[Any, Any, Any],
        protocol: FromDishka[ProtocolService],
    ) -> Response[dict[str, str]] | Stream:
        thread = parse_uuid(thread_id, "thread_id")
        body = await _json_body(request)
        if body is msgspec.UNSET:
            return Response({"detail": "Invalid JSON body"}, status_code=400)
        events = await protocol.events(thread, parse_subscription(body))
        return Stream(events, media_type="text/event-stream", headers=SSE_HEADERS)
