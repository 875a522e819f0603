"""Thread request and response bodies, in the LangGraph Agent Server's shapes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

import msgspec

ThreadStatus = Literal["idle", "busy", "interrupted", "error"]


class ThreadCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    thread_id: uuid.UUID | None = None
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    if_exists: Literal["raise", "do_nothing"] = "raise"
    ttl: dict[str, Any] | None = None
    supersteps: list[dict[str, Any]] | None = None


class Thread(msgspec.Struct, kw_only=True):
    thread_id: uuid.UUID
    created_at: datetime
    updated_at: datetime
    metadata: dict[str, Any]
    status: ThreadStatus
    config: dict[str, Any]
    values: dict[str, Any] | None
    interrupts: dict[str, Any]
    error: Any = None


class CheckpointRef(msgspec.Struct, kw_only=True):
    thread_id: str
    checkpoint_ns: str
    checkpoint_id: str | None
    checkpoint_map: dict[str, Any] | None = None


class ThreadTask(msgspec.Struct, kw_only=True):
    id: str
    name: str
    path: list[Any] = msgspec.field(default_factory=list)
    error: str | None = None
    interrupts: list[Any] = msgspec.field(default_factory=list)
    checkpoint: CheckpointRef | None = None
    state: Any = None
    result: Any = None


class ThreadState(msgspec.Struct, kw_only=True):
    values: Any
    next: list[str]
    tasks: list[ThreadTask]
    checkpoint: CheckpointRef
    metadata: dict[str, Any] | None
    created_at: str | None
    parent_checkpoint: CheckpointRef | None
    interrupts: list[Any]
