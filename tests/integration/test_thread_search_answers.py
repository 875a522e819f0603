"""Thread search and history as LangGraph's Agent Server answers them: `extract`, the
`values` filter, the order without `sort_by`, and history without a `limit`."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from langgraph_sdk.client import LangGraphClient
from litestar import Litestar

from tests.support.asgi import asgi_client


def say(text: str, graph: str = "agent") -> dict[str, Any]:
    return {"assistant_id": graph, "input": {"messages": [{"role": "user", "content": text}]}}


@pytest.fixture
async def http(graphs_app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(graphs_app) as client:
        yield client


@pytest.fixture
def sdk(http: httpx.AsyncClient) -> LangGraphClient:
    return LangGraphClient(http)


async def search(sdk: LangGraphClient, **query: Any) -> list[dict[str, Any]]:
    """`client.threads.search`, its threads as plain dicts (they carry `extracted`)."""
    return [dict(thread) for thread in await sdk.threads.search(**query)]


async def thread_that_said(http: httpx.AsyncClient, text: str, graph: str, **metadata: Any) -> str:
    thread = (await http.post("/threads", json={"metadata": metadata})).json()["thread_id"]
    ran = await http.post(f"/threads/{thread}/runs/wait", json=say(text, graph))
    assert ran.status_code == 200, ran.text
    return str(thread)


async def test_extract_adds_each_alias_with_its_value_or_null(
    http: httpx.AsyncClient, sdk: LangGraphClient
) -> None:
    tag = uuid.uuid4().hex
    thread = await thread_that_said(http, "hello", "agent", tag=tag, deep={"tags": ["x", "y"]})
    found = await search(
        sdk,
        metadata={"tag": tag},
        extract={
            "last": "values.messages[-1].content",
            "first_type": "values.messages[-2].type",
            "out_of_range": "values.messages[-9]",
            "missing": "values.nope.deeper",
            "key_of_a_list": "metadata.deep.tags.0",
            "tag": "metadata.deep.tags[1]",
            "cfg": "config",
            "private": "values.messages[0]._type",
        },
    )
    assert len(found) == 1
    assert found[0]["thread_id"] == thread
    assert found[0]["values"]["messages"][-1]["content"] == "echo: hello"
    assert found[0]["extracted"] == {
        "last": "echo: hello",
        "first_type": "human",
        "out_of_range": None,
        "missing": None,
        "key_of_a_list": None,
        "tag": "y",
        "cfg": found[0]["config"],
        "private": None,
    }


async def test_extract_with_select_answers_only_the_selected_fields_and_extracted(
    http: httpx.AsyncClient, sdk: LangGraphClient
) -> None:
    tag = uuid.uuid4().hex
    thread = await thread_that_said(http, "hello", "agent", tag=tag)
    never_ran = (await http.post("/threads", json={"metadata": {"tag": tag}})).json()["thread_id"]
    found = await search(
        sdk,
        metadata={"tag": tag},
        select=["thread_id"],
        sort_by="created_at",
        sort_order="asc",
        extract={"last": "values.messages[-1].content", "whole": "values"},
    )
    whole = found[0]["extracted"]["whole"]
    assert found == [
        {"thread_id": thread, "extracted": {"last": "echo: hello", "whole": whole}},
        {"thread_id": never_ran, "extracted": {"last": None, "whole": None}},
    ]
    assert [m["content"] for m in whole["messages"]] == ["hello", "echo: hello"]


async def test_extract_reads_interrupts_as_the_thread_shows_them(
    http: httpx.AsyncClient, sdk: LangGraphClient
) -> None:
    tag = uuid.uuid4().hex
    thread = await thread_that_said(http, "may I?", "hitl", tag=tag)
    shown = (await sdk.threads.get(thread))["interrupts"]
    [(task, [interrupt])] = shown.items()
    found = await search(
        sdk,
        metadata={"tag": tag},
        select=["status"],
        extract={"all": "interrupts", "question": f"interrupts.{task}[0].value.question"},
    )
    assert found == [{"status": "interrupted", "extracted": {"all": shown, "question": "approve?"}}]
    assert interrupt["value"] == {"question": "approve?"}


@pytest.mark.parametrize(
    ("extract", "detail"),
    [
        (
            {f"a{i}": "values" for i in range(11)},
            "Maximum of 10 extract paths allowed, got 11",
        ),
        (
            {"ok": "values", "thread_id": "values", "status": "values"},
            "Extract keys cannot use reserved field names: ['status', 'thread_id']",
        ),
        (
            {"1st": "values"},
            "Extract key '1st' must be a valid identifier (letters, digits, underscores)",
        ),
        (
            {"last-message": "values"},
            "Extract key 'last-message' must be a valid identifier (letters, digits, underscores)",
        ),
        ({"empty": ""}, "Extract path for 'empty' must be a non-empty string"),
        (
            {"bad": "status.x"},
            "Extract path 'status.x' must start with one of: config, interrupts, metadata, values",
        ),
    ],
)
async def test_a_bad_extract_is_422_in_the_agent_servers_words(
    http: httpx.AsyncClient, extract: dict[str, str], detail: str
) -> None:
    refused = await http.post("/threads/search", json={"extract": extract})
    assert refused.status_code == 422
    assert refused.json()["detail"] == detail


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
