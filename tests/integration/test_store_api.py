"""The store API reads and writes the same store graphs use, with no hidden prefix."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from langgraph.store.base import BaseStore
from litestar import Litestar

from langstar.app import container_of
from tests.support.fakes import RecordingChatModel


async def put(
    client: httpx.AsyncClient, namespace: list[str], key: str, value: Any, **kw: Any
) -> None:
    body = {"namespace": namespace, "key": key, "value": value, **kw}
    response = await client.put("/store/items", json=body)
    assert response.status_code == 204, response.text


async def test_put_get_delete_round_trip(client: httpx.AsyncClient) -> None:
    await put(client, ["docs", "a"], "k1", {"text": "hello"})
    response = await client.get("/store/items", params={"namespace": "docs.a", "key": "k1"})
    assert response.status_code == 200
    item = response.json()
    assert item["namespace"] == ["docs", "a"]
    assert item["value"] == {"text": "hello"}
    assert set(item) == {"namespace", "key", "value", "created_at", "updated_at"}

    deleted = await client.request(
        "DELETE", "/store/items", json={"namespace": ["docs", "a"], "key": "k1"}
    )
    assert deleted.status_code == 204
    missing = await client.get("/store/items", params={"namespace": "docs.a", "key": "k1"})
    assert missing.status_code == 200
    assert missing.json() is None


async def test_search_filters_and_pages(client: httpx.AsyncClient) -> None:
    for i in range(5):
        await put(client, ["search", "p"], f"k{i}", {"n": i, "even": i % 2 == 0})
    found = await client.post(
        "/store/items/search",
        json={"namespace_prefix": ["search"], "filter": {"even": True}, "limit": 10},
    )
    assert sorted(i["key"] for i in found.json()["items"]) == ["k0", "k2", "k4"]
    page = await client.post(
        "/store/items/search", json={"namespace_prefix": ["search", "p"], "limit": 2, "offset": 2}
    )
    assert len(page.json()["items"]) == 2


async def test_list_namespaces_with_prefix_suffix_and_depth(client: httpx.AsyncClient) -> None:
    await put(client, ["ns", "users", "ada", "prefs"], "k", {"x": 1})
    await put(client, ["ns", "users", "bob", "prefs"], "k", {"x": 1})
    await put(client, ["ns", "teams", "blue"], "k", {"x": 1})
    listed = await client.post("/store/namespaces", json={"prefix": ["ns"]})
    assert sorted(map(tuple, listed.json()["namespaces"])) == [
        ("ns", "teams", "blue"),
        ("ns", "users", "ada", "prefs"),
        ("ns", "users", "bob", "prefs"),
    ]
    shallow = await client.post("/store/namespaces", json={"prefix": ["ns"], "max_depth": 2})
    assert sorted(map(tuple, shallow.json()["namespaces"])) == [("ns", "teams"), ("ns", "users")]
    suffixed = await client.post("/store/namespaces", json={"prefix": ["ns"], "suffix": ["prefs"]})
    assert len(suffixed.json()["namespaces"]) == 2


async def test_items_expire_at_the_sweep_after_their_ttl(
    client: httpx.AsyncClient, app: Litestar
) -> None:
    await put(client, ["ttl"], "short", {"x": 1}, ttl=0.01)  # 0.6 s
    await put(client, ["ttl"], "long", {"x": 1}, ttl=60)
    assert (await client.get("/store/items", params={"namespace": "ttl", "key": "short"})).json()
    await asyncio.sleep(1.0)
    store = await container_of(app).get(BaseStore)  # type: ignore[type-abstract]
    assert await store.sweep_ttl() >= 1  # what the background sweeper does every interval
    gone = await client.get("/store/items", params={"namespace": "ttl", "key": "short"})
    assert gone.json() is None
    kept = await client.get("/store/items", params={"namespace": "ttl", "key": "long"})
    assert kept.json()["key"] == "long"


async def test_what_the_agent_remembers_is_what_the_api_reads(
    client: httpx.AsyncClient, chat_model: RecordingChatModel
) -> None:
    body = {
        "assistant_id": "agent",
        "if_not_exists": "create",
        "input": {"messages": [{"role": "user", "content": "I live in Lisbon."}]},
        "config": {"configurable": {"user_id": "store-api-user"}},
    }
    thread = (await client.post("/threads", json={})).json()["thread_id"]
    assert (await client.post(f"/threads/{thread}/runs/wait", json=body)).status_code == 200
    found = await client.post(
        "/store/items/search", json={"namespace_prefix": ["memories", "store-api-user"]}
    )
    assert [i["value"]["text"] for i in found.json()["items"]] == ["I live in Lisbon."]

    # And the other way: an item put through the API reaches the agent's prompt.
    await put(client, ["memories", "store-api-user"], "manual", {"text": "I like tea."})
    await client.post(f"/threads/{thread}/runs/wait", json=body)
    assert "I like tea." in chat_model.prompts[-1][0].text


@pytest.mark.parametrize(
    ("method", "path", "body", "mentions"),
    [
        ("PUT", "/store/items", {"namespace": [], "key": "k", "value": {}}, "namespace"),
        ("PUT", "/store/items", {"namespace": ["a.b"], "key": "k", "value": {}}, "'.'"),
        ("PUT", "/store/items", {"namespace": ["a"], "key": "", "value": {}}, "key"),
        ("PUT", "/store/items", {"namespace": ["a"], "key": "k", "value": [1]}, "value"),
        ("PUT", "/store/items", {"namespace": ["a"], "key": "k", "value": {}, "ttl": -1}, "ttl"),
        ("POST", "/store/items/search", {"limit": 0}, "limit"),
        ("POST", "/store/namespaces", {"max_depth": 0}, "max_depth"),
    ],
)
async def test_bad_store_requests_are_422(
    client: httpx.AsyncClient, method: str, path: str, body: Any, mentions: str
) -> None:
    response = await client.request(method, path, json=body)
    assert response.status_code == 422, response.text
    assert mentions in response.json()["detail"]


async def test_a_filter_with_an_unknown_operator_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/store/items/search", json={"filter": {"field": {"$nope": 1, "x": {}}}}
    )
    assert response.status_code == 422
    assert "filter" in response.json()["detail"]
