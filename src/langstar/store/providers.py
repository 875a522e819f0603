"""The per-request store service."""

from __future__ import annotations

from dishka import Provider, Scope, provide
from langgraph.store.base import BaseStore

from langstar.access import Authorizer
from langstar.db.json_encryption import JsonCipher
from langstar.identity import Identity
from langstar.store.scoped import store_for
from langstar.store.service import StoreService


class StoreProvider(Provider):
    """The store service, over the caller's own part of the store."""

    scope = Scope.REQUEST

    @provide
    def provide_store_service(
        self, store: BaseStore, identity: Identity, access: Authorizer, cipher: JsonCipher
    ) -> StoreService:
        return StoreService(store_for(store, identity), access, cipher)
