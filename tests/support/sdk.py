"""The official SDK over an in-process app, and waiting for what a server does in time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from litestar import Litestar

BASE = "http://langstar.test"


def sdk_for(app: Litestar, base: str = BASE, **headers: str) -> LangGraphClient:
    """The SDK's async client, its requests sent to `app` (started by `asgi_client`)."""
    sdk = get_client(url=base, headers=headers or None)
    sdk.http.client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=base, headers=headers
    )
    return sdk


async def eventually(check: Callable[[], Any], seconds: float = 20.0) -> Any:
    """The first truthy answer of `check` (awaited if need be), or its last one after
    `seconds`."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        found = check()
        if asyncio.iscoroutine(found):
            found = await found
        if found or asyncio.get_running_loop().time() > deadline:
            return found
        await asyncio.sleep(0.02)
