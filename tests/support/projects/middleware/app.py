"""A project's own app with middleware, written as the LangGraph docs and FastAPI's show it:
one adds a header (from what the app's lifespan set) to every response, the other says who
asked when it can know."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.greeting = "Hello from middleware!"
    yield


app = FastAPI(lifespan=lifespan)


class UserSeenMiddleware(BaseHTTPMiddleware):
    """Names the authenticated user: before the request goes on, which it can only know
    when authentication ran first (`"middleware_order": "auth_first"`), and once answered."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        seen = request.user.identity if "user" in request.scope else None
        response = await call_next(request)
        response.headers["X-User-Seen"] = seen or "nobody"
        if "user" in request.scope:
            response.headers["X-User-Answered"] = request.user.identity
        return response


app.add_middleware(UserSeenMiddleware)


@app.middleware("http")
async def add_custom_header(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    response = await call_next(request)
    response.headers["X-Custom-Header"] = request.app.state.greeting
    return response


@app.get("/hello")
async def hello() -> dict[str, Any]:
    return {"hello": "world"}
