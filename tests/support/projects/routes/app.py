"""A project's own routes: a FastAPI app with a lifespan, served beside the API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.greeting = "hello from the lifespan"
    yield


app = FastAPI(lifespan=lifespan)


@app.get("/hello")
async def hello(request: Request) -> dict[str, Any]:
    return {"greeting": request.app.state.greeting}


@app.get("/info")
async def info() -> dict[str, Any]:
    return {"served_by": "the project"}


@app.get("/ok")
async def not_ok() -> dict[str, Any]:
    return {"ok": False}
