"""Store routes."""

from __future__ import annotations

from dishka.integrations.litestar import FromDishka
from litestar import Controller, delete, get, post, put
from litestar.params import FromQuery, JSONBody

from langstar.store.schemas import (
    Namespaces,
    SearchItems,
    StoreDelete,
    StoreItem,
    StoreListNamespaces,
    StorePut,
    StoreSearch,
)
from langstar.store.service import StoreService


class StoreController(Controller):
    path = "/store"
    tags = ("Store",)

    @put("/items", status_code=204, summary="Store or replace an item")
    async def put_item(self, data: JSONBody[StorePut], store: FromDishka[StoreService]) -> None:
        await store.put(data)

    @get("/items", summary="Get an item (null when missing)")
    async def get_item(
        self,
        key: FromQuery[str],
        store: FromDishka[StoreService],
        namespace: FromQuery[str] = "",
        refresh_ttl: FromQuery[bool | None] = None,
    ) -> StoreItem | None:
        return await store.get(namespace, key, refresh_ttl)

    @delete("/items", status_code=204, summary="Delete an item")
    async def delete_item(
        self, data: JSONBody[StoreDelete], store: FromDishka[StoreService]
    ) -> None:
        await store.delete(data)

    @post("/items/search", status_code=200, summary="List or search items under a prefix")
    async def search_items(
        self, data: JSONBody[StoreSearch], store: FromDishka[StoreService]
    ) -> SearchItems:
        return await store.search(data)

    @post("/namespaces", status_code=200, summary="List namespaces")
    async def list_namespaces(
        self, data: JSONBody[StoreListNamespaces], store: FromDishka[StoreService]
    ) -> Namespaces:
        return await store.list_namespaces(data)
