"""`/mcp`: the Model Context Protocol over its streamable HTTP transport, stateless.

Each POST carries one JSON-RPC message and, for a request, gets one JSON response; there
is no session (`Mcp-Session-Id`) and no server-initiated stream, so GET and DELETE answer
405. The route sits behind the API's authentication like every other.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import msgspec
from dishka.integrations.litestar import FromDishka
from litestar import Controller, HttpMethod, Request, Response, post, route
from mcp_types import (
    DEFAULT_NEGOTIATED_VERSION,
    INVALID_REQUEST,
    PARSE_ERROR,
    UNSUPPORTED_PROTOCOL_VERSION,
    ErrorData,
    JSONRPCError,
    JSONRPCRequest,
    JSONRPCResponse,
    RequestId,
    UnsupportedProtocolVersionErrorData,
    jsonrpc_message_adapter,
)
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from pydantic import ValidationError

from langstar.mcp.service import McpError, McpService
from langstar.settings import HttpSettings, Settings

PROTOCOL_VERSION_HEADER = "mcp-protocol-version"
JSON = "application/json"


class McpController(Controller):
    path = "/mcp"
    tags = ("MCP",)

    @post(
        "/",
        status_code=200,
        summary="Model Context Protocol: a JSON-RPC message (streamable HTTP)",
        description="Each assistant the caller may use is a tool; `tools/call` runs it "
        "statelessly and answers its final output as JSON text. Methods: `initialize`, "
        "`ping`, `tools/list`, `tools/call`. A notification answers 202; a request, its "
        "JSON-RPC response. Send `Accept: application/json, text/event-stream`.",
    )
    async def message(
        self,
        request: Request[Any, Any, Any],
        mcp: FromDishka[McpService],
        settings: FromDishka[Settings],
    ) -> Response[bytes]:
        refused = _refused(request, settings.http)
        if refused is not None:
            return refused
        try:
            payload = msgspec.json.decode(await request.body())
        except msgspec.DecodeError:
            return _error(None, PARSE_ERROR, "Parse error: the body is not JSON", 400)
        try:
            message = jsonrpc_message_adapter.validate_python(payload, by_name=False)
        except ValidationError:
            return _error(None, INVALID_REQUEST, "Invalid Request: not one JSON-RPC message", 400)
        if not isinstance(message, JSONRPCRequest):
            return Response(b"", status_code=202)  # a notification, or a client's response
        protocol = request.headers.get(PROTOCOL_VERSION_HEADER) or DEFAULT_NEGOTIATED_VERSION
        try:
            result = await mcp.answer(message.method, message.params, protocol)
        except McpError as exc:
            return _error(message.id, exc.code, exc.message, 200, exc.data)
        answer = JSONRPCResponse(jsonrpc="2.0", id=message.id, result=result)
        return Response(answer.model_dump_json(by_alias=True).encode(), media_type=JSON)

    @route(
        "/",
        http_method=[HttpMethod.GET, HttpMethod.DELETE],
        status_code=405,
        include_in_schema=False,
    )
    async def no_session(self) -> Response[bytes]:
        """No stream for the server to send on (GET), no session to end (DELETE)."""
        why = "Method Not Allowed: this server is stateless and sends no stream; POST each message"
        return _error(None, INVALID_REQUEST, why, 405, headers={"Allow": "POST"})


def _refused(request: Request[Any, Any, Any], http: HttpSettings) -> Response[bytes] | None:
    """The answer to a POST the transport refuses before reading it; None if it may go on."""
    origin = request.headers.get("origin")
    if origin and not _origin_allowed(origin, request.headers.get("host", ""), http):
        return _error(None, INVALID_REQUEST, f"Forbidden: origin {origin} is not allowed", 403)
    protocol = request.headers.get(PROTOCOL_VERSION_HEADER)
    if protocol is not None and protocol not in HANDSHAKE_PROTOCOL_VERSIONS:
        supported = UnsupportedProtocolVersionErrorData(
            supported=list(HANDSHAKE_PROTOCOL_VERSIONS), requested=protocol
        )
        return _error(None, UNSUPPORTED_PROTOCOL_VERSION, "Unsupported protocol version", 400,
                      supported.model_dump(mode="json"))  # fmt: skip
    if not _accepts_json(request.headers.get("accept", "")):
        return _error(None, INVALID_REQUEST, "Not Acceptable: the client must accept "
                      "application/json (and text/event-stream)", 406)  # fmt: skip
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != JSON:
        return _error(None, INVALID_REQUEST, "Unsupported Media Type: send application/json", 415)
    return None


def _accepts_json(accept: str) -> bool:
    """Whether the Accept header takes JSON, which every answer here is."""
    types = {part.split(";")[0].strip().lower() for part in accept.split(",")}
    return bool(types & {JSON, "application/*", "*/*"})


def _origin_allowed(origin: str, host: str, http: HttpSettings) -> bool:
    """A page may call /mcp from the origins the CORS policy allows, or from the server's own.

    The transport's guard against DNS rebinding: a page whose origin is not allowed is
    refused even when the browser would send its request.
    """
    if urlsplit(origin).netloc.lower() == host.lower():
        return True
    if not http.cors_enabled:
        return False
    if "*" in http.cors_allow_origins or origin in http.cors_allow_origins:
        return True
    regex = http.cors_allow_origin_regex
    return bool(regex) and re.fullmatch(regex, origin) is not None


def _error(
    request_id: RequestId | None,
    code: int,
    message: str,
    status: int,
    data: Any = None,
    headers: dict[str, str] | None = None,
) -> Response[bytes]:
    given = {"data": data} if data is not None else {}
    error = JSONRPCError(
        jsonrpc="2.0", id=request_id, error=ErrorData(code=code, message=message, **given)
    )
    # Unset fields are left out; the id is set, so it stays, as JSON-RPC wants, even null.
    body = error.model_dump_json(by_alias=True, exclude_unset=True)
    return Response(body.encode(), status_code=status, media_type=JSON, headers=headers)
