"""Thread history as LangGraph's Agent Server answers it: without a `limit`, the latest
state alone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from litestar import Litestar

from tests.support.asgi import asgi_client


def say(text: str, graph: str = "agent") -> dict[str, Any]:
    return {"assistant_id": graph, "input": {"messages": [{"role": "user", "content": text}]}}


@pytest.fixture
async def http(graphs_app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(graphs_app) as client:
        yield client


async def thread_that_said(http: httpx.AsyncClient, text: str, graph: str, **metadata: Any) -> str:
    thread = (await http.post("/threads", json={"metadata": metadata})).json()["thread_id"]
    ran = await http.post(f"/threads/{thread}/runs/wait", json=say(text, graph))
    assert ran.status_code == 200, ran.text
    return str(thread)


async def test_history_without_a_limit_is_the_latest_state_alone(
    http: httpx.AsyncClient,
) -> None:
    thread = await thread_that_said(http, "hello", "agent")
    latest = (await http.get(f"/threads/{thread}/state")).json()
    for history in (
        await http.post(f"/threads/{thread}/history", json={}),
        await http.post(f"/threads/{thread}/history", json={"limit": None}),
        await http.get(f"/threads/{thread}/history"),
    ):
        assert history.status_code == 200, history.text
        assert [s["checkpoint"] for s in history.json()] == [latest["checkpoint"]]
    assert len((await http.post(f"/threads/{thread}/history", json={"limit": 10})).json()) > 1
