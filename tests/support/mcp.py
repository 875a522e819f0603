"""The official MCP client, over a started app in-process (its httpx2 on an ASGI transport)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
from litestar import Litestar
from mcp import Client, ClientSession
from mcp.client.streamable_http import streamable_http_client

BASE = "http://langstar.test"
# What the official client sends; the raw tests send it too.
ACCEPT = {"accept": "application/json, text/event-stream"}


@asynccontextmanager
async def mcp_transport(
    app: Litestar, path: str = "/mcp", headers: dict[str, str] | None = None
) -> AsyncIterator[Any]:
    """The client transport's streams to the app's `path`; the app must be started."""
    http = httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url=BASE, headers=headers, timeout=60
    )
    async with http, streamable_http_client(BASE + path, http_client=http) as streams:
        yield streams


@asynccontextmanager
async def mcp_session(
    app: Litestar, path: str = "/mcp", headers: dict[str, str] | None = None
) -> AsyncIterator[ClientSession]:
    """A `ClientSession`, initialized (the handshake: `initialize`, then `initialized`)."""
    async with (
        mcp_transport(app, path, headers) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


@asynccontextmanager
async def mcp_client(app: Litestar, path: str = "/mcp") -> AsyncIterator[Client]:
    """The high-level `Client` as it connects by default: it probes for the 2026 protocol."""
    http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=BASE, timeout=60)
    async with http, Client(streamable_http_client(BASE + path, http_client=http)) as client:
        yield client


def rpc(method: str, params: dict[str, Any] | None = None, id: int | None = 1) -> dict[str, Any]:
    """A JSON-RPC message: a request, or a notification when `id` is None."""
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if id is not None:
        message["id"] = id
    if params is not None:
        message["params"] = params
    return message
