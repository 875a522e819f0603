"""Thread request and response bodies, in the LangGraph Agent Server's shapes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

import msgspec

from langstar.bodies import RequestBody
from langstar.serde import shown_interrupt_map

ThreadStatus = Literal["idle", "busy", "interrupted", "error"]


class ThreadCreate(RequestBody, kw_only=True):
    thread_id: uuid.UUID | None = None
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    if_exists: Literal["raise", "do_nothing"] = "raise"
    # Minutes, or {"ttl": minutes, "strategy": "delete" | "keep_latest"}.
    ttl: float | dict[str, Any] | None = None
    supersteps: list[dict[str, Any]] | None = None


class Thread(msgspec.Struct, kw_only=True, omit_defaults=False):
    thread_id: uuid.UUID
    created_at: datetime
    updated_at: datetime
    state_updated_at: datetime
    metadata: dict[str, Any]
    status: ThreadStatus
    config: dict[str, Any]
    values: dict[str, Any] | None
    interrupts: dict[str, Any]
    error: Any = None
    # With `?include=ttl`, when the thread has one: {strategy, ttl_minutes, expires_at}.
    ttl: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET

    def __post_init__(self) -> None:
        # Threads stored by an earlier langstar kept LangGraph's null `response_schema`.
        if self.interrupts:
            self.interrupts = shown_interrupt_map(self.interrupts)


class CheckpointRef(msgspec.Struct, kw_only=True):
    thread_id: str
    checkpoint_ns: str
    checkpoint_id: str | None
    # Present only where LangGraph's config has one (a subgraph's), as on the Agent Server.
    checkpoint_map: dict[str, Any] | msgspec.UnsetType | None = msgspec.UNSET


class ThreadTask(msgspec.Struct, kw_only=True):
    id: str
    name: str
    path: list[Any] = msgspec.field(default_factory=list)
    error: str | None = None
    interrupts: list[Any] = msgspec.field(default_factory=list)
    # LangGraph's own config for the task's subgraph: its thread and namespace.
    checkpoint: dict[str, Any] | None = None
    state: Any = None
    result: Any = None


class ThreadState(msgspec.Struct, kw_only=True):
    values: Any
    next: list[str]
    tasks: list[ThreadTask]
    checkpoint: CheckpointRef | None
    metadata: dict[str, Any] | None
    created_at: str | None
    parent_checkpoint: CheckpointRef | None
    interrupts: list[Any]
    checkpoint_id: str | None = None
    parent_checkpoint_id: str | None = None


class ThreadPatch(RequestBody, kw_only=True):
    metadata: dict[str, Any] | None = None
    ttl: float | dict[str, Any] | None = None


ThreadSortBy = Literal["thread_id", "status", "created_at", "updated_at", "state_updated_at"]
THREAD_FIELDS = (
    "thread_id",
    "created_at",
    "updated_at",
    "state_updated_at",
    "metadata",
    "config",
    "status",
    "values",
    "interrupts",
    "error",
)


class ThreadCount(RequestBody, kw_only=True):
    metadata: dict[str, Any] | None = None
    values: dict[str, Any] | None = None
    status: ThreadStatus | None = None


class ThreadSearch(ThreadCount, kw_only=True):
    ids: list[uuid.UUID] | None = None
    limit: int = 10
    offset: int = 0
    sort_by: ThreadSortBy = "created_at"
    sort_order: Literal["asc", "desc"] = "desc"
    select: list[str] | None = None
    extract: dict[str, str] | None = None


class CheckpointConfig(msgspec.Struct, kw_only=True):
    thread_id: str | None = None
    checkpoint_ns: str = ""
    checkpoint_id: str | None = None
    checkpoint_map: dict[str, Any] | None = None


class ThreadStateAtCheckpoint(RequestBody, kw_only=True):
    checkpoint: CheckpointConfig
    subgraphs: bool = False


class ThreadStateUpdate(RequestBody, kw_only=True):
    values: dict[str, Any] | list[Any] | None = None
    checkpoint: CheckpointConfig | None = None
    checkpoint_id: str | None = None
    as_node: str | None = None


class ThreadStateUpdated(msgspec.Struct, kw_only=True):
    checkpoint: dict[str, Any]
    configurable: dict[str, Any]
    checkpoint_id: str | None


class ThreadHistory(RequestBody, kw_only=True):
    # As on LangGraph's server: without a limit (or with null), the latest state alone.
    limit: int | None = 1
    before: str | CheckpointConfig | None = None
    metadata: dict[str, Any] | None = None
    checkpoint: CheckpointConfig | None = None


class ThreadPrune(RequestBody, kw_only=True):
    thread_ids: list[uuid.UUID]
    strategy: Literal["delete", "keep_latest"] = "delete"


class ThreadPruned(msgspec.Struct, kw_only=True):
    pruned_count: int
