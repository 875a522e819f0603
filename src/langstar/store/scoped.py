"""Each authenticated user's own store: the same namespaces, kept apart in PostgreSQL.

A graph running for a user and the store API called by that user both see the store
through `ScopedStore`, so what the graph writes under `("memories", "ada")` is what the
API lists under `("memories", "ada")`, and another user's `("memories", "ada")` is a
different item. In PostgreSQL the namespace starts with one label naming the owner.
Without authentication everyone is the same user and namespaces are stored as given.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any

from langgraph.store.base import (
    BaseStore,
    GetOp,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
)

from langstar.identity import Identity

OWNER_PREFIX = "user:"


def owner_label(user_id: str) -> str:
    # Namespace labels may not contain "."; user ids (emails) may. base64url has none.
    encoded = base64.urlsafe_b64encode(user_id.encode()).decode().rstrip("=")
    return OWNER_PREFIX + encoded


def store_for(store: BaseStore, identity: Identity) -> BaseStore:
    """The store as `identity` sees it: their own, unless everyone shares it.

    A project's own store handlers decide namespaces themselves, as on LangGraph's server.
    """
    if identity.is_authenticated and not identity.shared:
        return ScopedStore(store, owner_label(identity.user_id))
    return store


class ScopedStore(BaseStore):
    """The store as one owner sees it: their namespaces, under a label that names them."""

    def __init__(self, store: BaseStore, owner: str) -> None:
        self._store = store
        self._owner = owner
        # Semantic search is configured on the store underneath; expose the same.
        self.supports_ttl = store.supports_ttl
        self.ttl_config = store.ttl_config

    def _scope(self, op: Op) -> Op:
        owner = (self._owner,)
        if isinstance(op, GetOp):
            return GetOp(owner + op.namespace, op.key, op.refresh_ttl)
        if isinstance(op, PutOp):
            return PutOp(owner + op.namespace, op.key, op.value, op.index, op.ttl)
        if isinstance(op, SearchOp):
            return SearchOp(
                owner + op.namespace_prefix,
                op.filter,
                op.limit,
                op.offset,
                op.query,
                op.refresh_ttl,
            )
        if isinstance(op, ListNamespacesOp):
            conditions = list(op.match_conditions or ())
            prefixes = [c for c in conditions if c.match_type == "prefix"]
            others = [c for c in conditions if c.match_type != "prefix"]
            scoped = [MatchCondition("prefix", owner + tuple(c.path)) for c in prefixes]
            if not scoped:
                scoped = [MatchCondition("prefix", owner)]
            depth = None if op.max_depth is None else op.max_depth + 1
            return ListNamespacesOp(tuple(scoped + others), depth, op.limit, op.offset)
        raise TypeError(f"unknown store operation {op!r}")

    def _unscope(self, result: Result) -> Result:
        if isinstance(result, SearchItem):
            return SearchItem(
                result.namespace[1:],
                result.key,
                result.value,
                result.created_at,
                result.updated_at,
                result.score,
            )
        if isinstance(result, Item):
            return Item(
                value=result.value,
                key=result.key,
                namespace=result.namespace[1:],
                created_at=result.created_at,
                updated_at=result.updated_at,
            )
        if isinstance(result, list):
            return [self._unscope_one(r) for r in result]
        return result

    def _unscope_one(self, value: Any) -> Any:
        if isinstance(value, tuple):  # a namespace from list_namespaces
            return value[1:]
        return self._unscope(value)

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        results = self._store.batch([self._scope(op) for op in ops])
        return [self._unscope(r) for r in results]

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        results = await self._store.abatch([self._scope(op) for op in ops])
        return [self._unscope(r) for r in results]
