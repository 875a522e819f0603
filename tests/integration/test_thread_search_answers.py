"""Thread search and history as LangGraph's Agent Server answers them: the `values`
filter, the order without `sort_by`, and history without a `limit`."""

from __future__ import annotations

import uuid
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


async def test_a_values_filter_matches_a_list_only_as_a_whole(http: httpx.AsyncClient) -> None:
    tag = uuid.uuid4().hex
    hello = await thread_that_said(http, "hello", "agent", tag=tag)
    await thread_that_said(http, "bye", "agent", tag=tag)
    messages = (await http.get(f"/threads/{hello}/state")).json()["values"]["messages"]

    async def found(values: dict[str, Any]) -> tuple[list[str], int]:
        body = {"metadata": {"tag": tag}, "values": values}
        search = await http.post("/threads/search", json=body)
        count = await http.post("/threads/count", json=body)
        return [t["thread_id"] for t in search.json()], count.json()

    assert await found({"messages": []}) == ([], 0)
    assert await found({"messages": messages[:1]}) == ([], 0)
    assert await found({"messages": messages}) == ([hello], 1)


async def test_search_without_sort_by_lists_the_newest_created_first(
    http: httpx.AsyncClient,
) -> None:
    tag = uuid.uuid4().hex
    older = (await http.post("/threads", json={"metadata": {"tag": tag}})).json()["thread_id"]
    newer = (await http.post("/threads", json={"metadata": {"tag": tag}})).json()["thread_id"]
    # The older thread is now the one updated last.
    await http.post(f"/threads/{older}/runs/wait", json=say("hello"))
    found = await http.post("/threads/search", json={"metadata": {"tag": tag}})
    assert [t["thread_id"] for t in found.json()] == [newer, older]


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
