"""The Model Context Protocol's methods over the caller's assistants, each one a tool.

`tools/call` runs a stateless run of the tool's assistant, as `POST /runs/wait` does, and
answers its final output as JSON text. A caller sees, and calls, only the assistants it
may use. The HTTP transport around this is `langstar.mcp.controllers`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

import msgspec
from mcp_types import (
    INVALID_PARAMS,
    METHOD_NOT_FOUND,
    CallToolRequest,
    CallToolResult,
    EmptyResult,
    Implementation,
    InitializeRequest,
    InitializeResult,
    ListToolsRequest,
    ListToolsResult,
    Result,
    ServerCapabilities,
    TextContent,
    Tool,
    ToolAnnotations,
    ToolsCapability,
)
from mcp_types import Request as McpRequest
from mcp_types.methods import parse_client_request, serialize_server_result
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, LATEST_HANDSHAKE_VERSION
from pydantic import ValidationError

from langstar.assistants.introspection import input_schema
from langstar.assistants.schemas import AssistantSearch
from langstar.assistants.service import AssistantService
from langstar.errors import MAX_PAGE, LangstarError, NotFoundError
from langstar.mcp.tools import as_input, tool_name, tool_schema
from langstar.runs.schemas import RunCreate
from langstar.runs.service import RunService

log = logging.getLogger(__name__)

# The methods served; any other is "method not found".
METHODS = frozenset({"initialize", "ping", "tools/list", "tools/call"})
PAGE_SIZE = 100
_DIGITS = re.compile(r"[0-9]{1,12}")
# Running an agent changes things (its memory, say) and reaches beyond the server.
ANNOTATIONS = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True
)


class McpError(Exception):
    """A JSON-RPC error answering one request: its code, message and optional data."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


@dataclass(frozen=True, slots=True)
class _Entry:
    """A visible assistant under its tool name."""

    name: str
    assistant_id: str
    graph_id: str
    title: str
    description: str | None


class McpService:
    """The MCP methods one caller may use: their assistants as tools, and running them."""

    def __init__(self, assistants: AssistantService, runs: RunService) -> None:
        self._assistants = assistants
        self._runs = runs

    async def answer(
        self, method: str, params: dict[str, Any] | None, protocol: str
    ) -> dict[str, Any]:
        """The result of one request, as JSON for `protocol`; `McpError` if there is none.

        `protocol` is the version the client said it speaks (its `MCP-Protocol-Version`);
        `initialize` negotiates its own.
        """
        if method not in METHODS:
            raise McpError(METHOD_NOT_FOUND, f"Method not found: {method}")
        if method == "initialize":
            # The client's version if it is one of ours, else our latest; the client decides.
            requested = (params or {}).get("protocolVersion")
            known = isinstance(requested, str) and requested in HANDSHAKE_PROTOCOL_VERSIONS
            protocol = str(requested) if known else LATEST_HANDSHAKE_VERSION
        request = _parse(method, protocol, params)
        result: Result
        if isinstance(request, InitializeRequest):
            result = _initialize(protocol)
        elif isinstance(request, ListToolsRequest):
            result = await self.list_tools(request.params.cursor if request.params else None)
        elif isinstance(request, CallToolRequest):
            result = await self.call_tool(request.params.name, request.params.arguments or {})
        else:
            result = EmptyResult()  # ping
        dumped = result.model_dump(by_alias=True, mode="json", exclude_none=True)
        return serialize_server_result(method, protocol, dumped)

    async def list_tools(self, cursor: str | None) -> ListToolsResult:
        """A page of tools; `cursor` is where the previous page left off."""
        start = _offset(cursor)
        entries = await self._entries()
        page = entries[start : start + PAGE_SIZE]
        schemas: dict[str, dict[str, Any] | None] = {}
        tools = [tool for entry in page if (tool := await self._tool(entry, schemas))]
        following = start + PAGE_SIZE
        return ListToolsResult(
            tools=tools, next_cursor=str(following) if following < len(entries) else None
        )

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> CallToolResult:
        """Run the tool's assistant on `arguments` and answer its final output."""
        entry = next((e for e in await self._entries() if e.name == name), None)
        if entry is None:
            raise McpError(INVALID_PARAMS, f"Unknown tool: {name}")
        try:
            graph = await self._assistants.resolve(entry.assistant_id)
            schema = input_schema(graph.compiled)
            as_text = tool_schema(schema)[1] if schema is not None else frozenset()
            body = RunCreate(assistant_id=entry.assistant_id, input=as_input(arguments, as_text))
            _, outcome = await self._runs.wait(None, body, graph)
            text = (await _whole(outcome)).decode().strip()
        except NotFoundError:
            raise McpError(INVALID_PARAMS, f"Unknown tool: {name}") from None
        except LangstarError as exc:  # refused before it ran: too large, too many runs...
            return _failed(exc.detail)
        value = msgspec.json.decode(text)
        if isinstance(value, dict) and "__error__" in value:
            return _failed(_error_text(value["__error__"]))
        return CallToolResult(content=[TextContent(text=text)])

    async def _entries(self) -> list[_Entry]:
        """Every assistant the caller may use, newest first, each under its tool name.

        Of assistants whose names make the same tool name, the first keeps it.
        """
        found: dict[str, _Entry] = {}
        select = ["assistant_id", "graph_id", "name", "description"]
        offset = 0
        while True:
            rows = await self._assistants.search(
                AssistantSearch(limit=MAX_PAGE, offset=offset, select=select)
            )
            for row in rows:
                name = tool_name(row["name"])
                if name and name not in found:
                    found[name] = _Entry(name, str(row["assistant_id"]), row["graph_id"],
                                         row["name"], row["description"])  # fmt: skip
            if len(rows) < MAX_PAGE:
                return list(found.values())
            offset += MAX_PAGE

    async def _tool(self, entry: _Entry, schemas: dict[str, dict[str, Any] | None]) -> Tool | None:
        """The assistant as a tool; None (and it is left out) if its input has no schema."""
        if entry.graph_id not in schemas:
            # The schema is the graph's: one look per graph, as GET /assistants/{id}/schemas.
            try:
                found = await self._assistants.schemas(entry.assistant_id)
                schemas[entry.graph_id] = found.input_schema
            except LangstarError as exc:
                log.warning("MCP: assistant %s left out: %s", entry.assistant_id, exc)
                schemas[entry.graph_id] = None
        schema = schemas[entry.graph_id]
        if schema is None:
            log.warning("MCP: assistant %s left out: no input schema", entry.assistant_id)
            return None
        return Tool(
            name=entry.name,
            title=entry.title,
            description=entry.description or f"Tool based on the {entry.title} assistant",
            input_schema=tool_schema(schema)[0],
            annotations=ANNOTATIONS,
        )


def _parse(method: str, protocol: str, params: dict[str, Any] | None) -> McpRequest[Any, Any]:
    try:
        return parse_client_request(method, protocol, params)
    except KeyError:  # not a method of this protocol version
        raise McpError(METHOD_NOT_FOUND, f"Method not found: {method}") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise McpError(INVALID_PARAMS, f"Invalid params: {problems}") from None


def _initialize(protocol: str) -> InitializeResult:
    return InitializeResult(
        protocol_version=protocol,
        capabilities=ServerCapabilities(tools=ToolsCapability(list_changed=False)),
        server_info=Implementation(name="langstar", version=version("langstar")),
    )


def _offset(cursor: str | None) -> int:
    if cursor is None:
        return 0
    if not _DIGITS.fullmatch(cursor):
        raise McpError(INVALID_PARAMS, f"Invalid cursor: {cursor!r}")
    return int(cursor)


def _failed(text: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(text=text)], is_error=True)


def _error_text(error: Any) -> str:
    if isinstance(error, dict) and error.get("message"):
        return f"{error.get('error', 'Error')}: {error['message']}"
    if isinstance(error, dict) and error.get("error"):
        return str(error["error"])
    return msgspec.json.encode(error).decode()


async def _whole(body: bytes | AsyncIterator[bytes]) -> bytes:
    """A run's answer whole, though it came as a stream (heartbeat newlines, then JSON)."""
    if isinstance(body, bytes):
        return body
    return b"".join([chunk async for chunk in body])
