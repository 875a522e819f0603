"""Long-term memory over HTTP: the very store graphs reach with `get_store()`."""

from __future__ import annotations

from typing import Any

from langgraph.store.base import BaseStore, Item
from langgraph.store.base import SearchItem as StoreSearchItem

from langstar.access import Authorizer, OpenAccess
from langstar.db.json_encryption import JsonCipher
from langstar.errors import InvalidError, NotSupportedError, check_page
from langstar.store.schemas import (
    Namespaces,
    SearchItem,
    SearchItems,
    StoreDelete,
    StoreItem,
    StoreListNamespaces,
    StorePut,
    StoreSearch,
)


def _namespace(labels: list[str] | tuple[str, ...], *, field: str = "namespace") -> tuple[str, ...]:
    if not labels:
        raise InvalidError(field, "must not be empty")
    for label in labels:
        if not label:
            raise InvalidError(field, "labels must not be empty")
        # Query strings join a namespace with ".", so a dotted label could not be read back.
        if "." in label:
            raise InvalidError(field, f"label {label!r} must not contain '.'")
    return tuple(labels)


def _item(item: Item) -> StoreItem:
    return StoreItem(
        namespace=list(item.namespace),
        key=item.key,
        value=item.value,
        created_at=item.created_at,
        updated_at=item.updated_at,
    )


def _search_item(item: StoreSearchItem) -> SearchItem:
    return SearchItem(
        namespace=list(item.namespace),
        key=item.key,
        value=item.value,
        created_at=item.created_at,
        updated_at=item.updated_at,
        score=item.score,
    )


class StoreService:
    """Items and namespaces; no prefix is added, so the API sees what graphs write.

    A project's store handlers may move each namespace (to one of the caller's own), and
    see the value put; what they return is not used, as on LangGraph's server.
    """

    def __init__(
        self, store: BaseStore, access: Authorizer | None = None, cipher: JsonCipher | None = None
    ) -> None:
        self._cipher = cipher or JsonCipher()  # the project's JSON encryption, if any
        self._store = store
        self._access = access or OpenAccess()

    async def _authorized(self, action: str, value: dict[str, Any]) -> dict[str, Any]:
        await self._access.authorize("store", action, value)
        return value

    async def put(self, body: StorePut) -> None:
        if not body.key:
            raise InvalidError("key", "must not be empty")
        if body.ttl is not None and body.ttl <= 0:
            raise InvalidError("ttl", "must be a positive number of minutes")
        if body.ttl is not None and not self._store.supports_ttl:
            # Only a project's own store (store.path) can lack it; langstar's has it.
            raise NotSupportedError("ttl: the project's store does not support ttl")
        value = await self._authorized(
            "put",
            {"namespace": _namespace(body.namespace), "key": body.key, "value": body.value,
             "index": body.index},
        )  # fmt: skip
        sealed = await self._cipher.seal("store", "value", value["value"])
        await self._store.aput(
            _namespace(value["namespace"]), value["key"], sealed, index=value["index"],
            ttl=body.ttl,
        )  # fmt: skip

    async def get(self, namespace: str, key: str, refresh_ttl: bool | None) -> StoreItem | None:
        labels = tuple(namespace.split(".")) if namespace else ()
        value = await self._authorized("get", {"namespace": _namespace(labels), "key": key})
        item = await self._store.aget(
            _namespace(value["namespace"]), value["key"], refresh_ttl=refresh_ttl
        )
        if item is None:
            return None
        item.value = await self._cipher.open("store", "value", item.value)
        return _item(item)

    async def delete(self, body: StoreDelete) -> None:
        value = await self._authorized(
            "delete", {"namespace": _namespace(body.namespace), "key": body.key}
        )
        await self._store.adelete(_namespace(value["namespace"]), value["key"])

    async def search(self, body: StoreSearch) -> SearchItems:
        check_page(body.limit, body.offset)
        value = await self._authorized(
            "search",
            {"namespace": tuple(body.namespace_prefix or ()), "filter": body.filter,
             "limit": body.limit, "offset": body.offset, "query": body.query},
        )  # fmt: skip
        try:
            items = await self._store.asearch(
                tuple(value["namespace"]),
                query=value["query"],
                filter=value["filter"],
                limit=value["limit"],
                offset=value["offset"],
                refresh_ttl=body.refresh_ttl,
            )
        except ValueError as exc:  # the store's verdict on a filter it cannot apply
            raise InvalidError("filter", str(exc)) from None
        for item in items:
            item.value = await self._cipher.open("store", "value", item.value)
        return SearchItems(items=[_search_item(item) for item in items])

    async def list_namespaces(self, body: StoreListNamespaces) -> Namespaces:
        check_page(body.limit, body.offset)
        if body.max_depth is not None and body.max_depth < 1:
            raise InvalidError("max_depth", "must be at least 1")
        value = await self._authorized(
            "list_namespaces",
            {"namespace": tuple(body.prefix) if body.prefix else None,
             "suffix": tuple(body.suffix) if body.suffix else None,
             "max_depth": body.max_depth, "limit": body.limit, "offset": body.offset},
        )  # fmt: skip
        found = await self._store.alist_namespaces(
            prefix=value["namespace"],
            suffix=value["suffix"],
            max_depth=value["max_depth"],
            limit=value["limit"],
            offset=value["offset"],
        )
        return Namespaces(namespaces=[list(ns) for ns in found])
