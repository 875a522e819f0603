"""Each authenticated user has their own store, and a graph run for them writes into it."""

from __future__ import annotations

import httpx

from langstar.settings import Settings
from tests.support.apps import Serving
from tests.support.auth import HeaderAuthProvider

CAROL = {"x-user": "carol@example.com"}  # a dot in a user id must not upset namespaces
DAVE = {"x-user": "dave"}


async def put(client: httpx.AsyncClient, who: dict[str, str], namespace: list[str]) -> None:
    body = {"namespace": namespace, "key": "k", "value": {"owner": who["x-user"]}}
    assert (await client.put("/store/items", json=body, headers=who)).status_code == 204


async def test_store_items_and_namespaces_are_per_user(
    settings: Settings, serving: Serving
) -> None:
    async with serving(settings, HeaderAuthProvider()) as client:
        await put(client, CAROL, ["notes", "work"])
        await put(client, DAVE, ["notes", "work"])
        await put(client, DAVE, ["diary"])
        params = {"namespace": "notes.work", "key": "k"}
        carol = await client.get("/store/items", params=params, headers=CAROL)
        assert carol.json()["value"] == {"owner": "carol@example.com"}
        assert carol.json()["namespace"] == ["notes", "work"]
        dave = await client.get("/store/items", params=params, headers=DAVE)
        assert dave.json()["value"] == {"owner": "dave"}
        found = await client.post(
            "/store/items/search", json={"namespace_prefix": []}, headers=CAROL
        )
        assert [(i["namespace"], i["value"]) for i in found.json()["items"]] == [
            (["notes", "work"], {"owner": "carol@example.com"})
        ]
        spaces = await client.post("/store/namespaces", json={}, headers=CAROL)
        assert spaces.json()["namespaces"] == [["notes", "work"]]
        shallow = await client.post("/store/namespaces", json={"max_depth": 1}, headers=DAVE)
        assert sorted(shallow.json()["namespaces"]) == [["diary"], ["notes"]]
        prefixed = await client.post("/store/namespaces", json={"prefix": ["notes"]}, headers=DAVE)
        assert prefixed.json()["namespaces"] == [["notes", "work"]]
        deleted = await client.request(
            "DELETE", "/store/items", json={"namespace": ["diary"], "key": "k"}, headers=CAROL
        )
        assert deleted.status_code == 204
        still = await client.get(
            "/store/items", params={"namespace": "diary", "key": "k"}, headers=DAVE
        )
        assert still.json()["value"] == {"owner": "dave"}


async def test_a_graph_writes_into_its_users_store(settings: Settings, serving: Serving) -> None:
    async with serving(settings, HeaderAuthProvider()) as client:
        thread = (await client.post("/threads", json={}, headers=CAROL)).json()["thread_id"]
        said = {"messages": [{"role": "user", "content": "My name is Carol."}]}
        ran = await client.post(
            f"/threads/{thread}/runs/wait",
            json={"assistant_id": "agent", "input": said},
            headers=CAROL,
        )
        assert ran.status_code == 200, ran.text
        hers = await client.post(
            "/store/items/search", json={"namespace_prefix": ["memories"]}, headers=CAROL
        )
        assert [i["namespace"] for i in hers.json()["items"]] == [
            ["memories", "carol@example%2Ecom"]
        ]
        his = await client.post(
            "/store/items/search", json={"namespace_prefix": ["memories"]}, headers=DAVE
        )
        assert his.json()["items"] == []
