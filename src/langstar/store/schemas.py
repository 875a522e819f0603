"""Store request and response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

from langstar.bodies import RequestBody


class StorePut(RequestBody, kw_only=True):
    namespace: list[str]
    key: str
    value: dict[str, Any]
    index: Literal[False] | list[str] | None = None
    ttl: float | None = None


class StoreDelete(RequestBody, kw_only=True):
    namespace: list[str] = msgspec.field(default_factory=list)
    key: str


class StoreSearch(RequestBody, kw_only=True):
    namespace_prefix: list[str] | None = None
    filter: dict[str, Any] | None = None
    limit: int = 10
    offset: int = 0
    query: str | None = None
    refresh_ttl: bool | None = None


class StoreListNamespaces(RequestBody, kw_only=True):
    prefix: list[str] | None = None
    suffix: list[str] | None = None
    max_depth: int | None = None
    limit: int = 100
    offset: int = 0


class StoreItem(msgspec.Struct, kw_only=True):
    namespace: list[str]
    key: str
    value: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class SearchItem(StoreItem, kw_only=True):
    score: float | None = None


class SearchItems(msgspec.Struct, kw_only=True):
    items: list[SearchItem]


class Namespaces(msgspec.Struct, kw_only=True):
    namespaces: list[list[str]]
