"""Real HTTP semantics in-process: the app's lifespan plus httpx's ASGI transport.

Litestar's own test client funnels every request through a blocking portal, so
concurrent requests from one test would run one at a time; this one runs them
concurrently on the test's event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from litestar import Litestar


@asynccontextmanager
async def asgi_client(
    app: Litestar, request_timeout: float = 60
) -> AsyncIterator[httpx.AsyncClient]:
    started, stop = asyncio.Event(), asyncio.Event()

    async def hold_lifespan() -> None:
        # One task enters and exits the lifespan: its task group may not cross tasks, and
        # pytest-asyncio sets a fixture up and tears it down in different tasks.
        try:
            async with app.lifespan():
                started.set()
                await stop.wait()
        finally:
            started.set()

    lifespan = asyncio.create_task(hold_lifespan())
    await started.wait()
    if lifespan.done():
        await lifespan  # startup failed: raise its error here
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://langstar.test", timeout=request_timeout
        ) as client:
            yield client
    finally:
        stop.set()
        await lifespan


async def startup_error(app: Litestar) -> BaseException:
    """The error that stops `app` from starting (unwrapped from the lifespan's task group)."""
    try:
        async with asgi_client(app):
            pass
    except BaseException as raised:
        error: BaseException = raised
        while isinstance(error, BaseExceptionGroup):
            error = error.exceptions[0]
        return error
    raise AssertionError("the app started")
