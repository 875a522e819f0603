"""Assistant request and response bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

import msgspec

from langstar.bodies import RequestBody


class AssistantCreate(RequestBody, kw_only=True):
    graph_id: str
    assistant_id: uuid.UUID | None = None
    config: dict[str, Any] = msgspec.field(default_factory=dict)
    context: dict[str, Any] = msgspec.field(default_factory=dict)
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    if_exists: Literal["raise", "do_nothing"] = "raise"
    name: str | None = None
    description: str | None = None


class AssistantPatch(RequestBody, kw_only=True):
    graph_id: str | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    name: str | None = None
    description: str | None = None


class AssistantCount(RequestBody, kw_only=True):
    metadata: dict[str, Any] | None = None
    graph_id: str | None = None
    name: str | None = None


AssistantSortBy = Literal["assistant_id", "created_at", "updated_at", "name", "graph_id"]
ASSISTANT_FIELDS = (
    "assistant_id",
    "graph_id",
    "config",
    "context",
    "created_at",
    "updated_at",
    "metadata",
    "version",
    "name",
    "description",
)


class AssistantSearch(AssistantCount, kw_only=True):
    limit: int = 10
    offset: int = 0
    sort_by: AssistantSortBy = "created_at"
    sort_order: Literal["asc", "desc"] = "desc"
    select: list[str] | None = None


class AssistantVersionsSearch(RequestBody, kw_only=True):
    metadata: dict[str, Any] | None = None
    limit: int = 10
    offset: int = 0


class Assistant(msgspec.Struct, kw_only=True):
    assistant_id: uuid.UUID
    graph_id: str
    config: dict[str, Any]
    context: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    metadata: dict[str, Any]
    version: int
    name: str
    description: str | None


class GraphSchemas(msgspec.Struct, kw_only=True):
    graph_id: str
    input_schema: dict[str, Any] | None
    output_schema: dict[str, Any] | None
    state_schema: dict[str, Any] | None
    config_schema: dict[str, Any] | None
    context_schema: dict[str, Any] | None


class LatestVersion(RequestBody, kw_only=True):
    version: int
