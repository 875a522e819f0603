"""The seed pattern: what a careful developer writes first to serve a graph with FastAPI.

The lifespan opens the stock PostgreSQL store and checkpointer once, each with
`from_conn_string()` (one connection apiece, no pool), sets their tables up, and keeps one
compiled graph in `app.state`. `POST /threads/{thread_id}/runs/wait` runs that graph on
the thread and answers with its last two messages. Nothing else: no run records, no
thread status, no queue, no streaming.

    DB_URI=postgresql://... uvicorn --app-dir bench/peers seed_app:app --port 8000
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from bench_graph import builder
from fastapi import FastAPI, Request
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.store.postgres.aio import AsyncPostgresStore


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    url = os.environ["DB_URI"]
    async with (
        AsyncPostgresStore.from_conn_string(url) as store,
        AsyncPostgresSaver.from_conn_string(url) as checkpointer,
    ):
        await store.setup()
        await checkpointer.setup()
        app.state.graph = builder.compile(checkpointer=checkpointer, store=store)
        yield


app = FastAPI(lifespan=lifespan)


@app.post("/threads/{thread_id}/runs/wait")
async def wait(thread_id: str, request: Request) -> dict[str, Any]:
    body = await request.json()
    config = {"configurable": {"thread_id": thread_id}}
    state = await request.app.state.graph.ainvoke(body["input"], config)
    return {"messages": [message.model_dump() for message in state["messages"][-2:]]}
