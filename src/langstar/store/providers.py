"""The per-request store service."""

from __future__ import annotations

from dishka import Provider, Scope, provide
from langgraph.store.base import BaseStore

from langstar.store.service import StoreService


class StoreProvider(Provider):
    scope = Scope.REQUEST

    @provide
    def provide_store_service(self, store: BaseStore) -> StoreService:
        return StoreService(store)
