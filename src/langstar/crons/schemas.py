"""Cron request bodies, and the cron as clients see it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

import msgspec

from langstar.bodies import RequestBody
from langstar.runs.schemas import RunCreate, StreamMode

CronSortBy = Literal[
    "cron_id", "assistant_id", "thread_id", "next_run_date", "end_time", "created_at", "updated_at"
]
Strategy = Literal["reject", "enqueue", "interrupt", "rollback"]


class CronRun(RequestBody, kw_only=True):
    """What each of a cron's runs does, and where: the fields a cron is made or changed by."""

    timezone: str | None = None
    on_run_completed: Literal["delete", "keep"] | None = None
    input: Any = None
    metadata: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    webhook: str | None = None
    interrupt_before: Literal["*"] | list[str] | None = None
    interrupt_after: Literal["*"] | list[str] | None = None
    stream_mode: StreamMode | list[StreamMode] | None = None
    stream_subgraphs: bool | None = None
    stream_resumable: bool | None = None
    durability: Literal["sync", "async", "exit"] | None = None


class CronCreate(CronRun, kw_only=True):
    """`POST /runs/crons` and `POST /threads/{thread_id}/runs/crons`."""

    assistant_id: str
    schedule: str
    end_time: datetime | None = None
    enabled: bool = True
    multitask_strategy: Strategy | None = None
    checkpoint_during: bool | None = None


class CronPatch(CronRun, kw_only=True):
    """`PATCH /runs/crons/{cron_id}`: absent fields stay; `end_time: null` clears it."""

    schedule: str | None = None
    end_time: datetime | msgspec.UnsetType | None = msgspec.UNSET
    enabled: bool | None = None


# What a fire hands to the run it starts (the fields a cron and a run share), as the
# cron's `payload` keeps them.
RUN_FIELDS = tuple(f for f in CronCreate.__struct_fields__ if f in RunCreate.__struct_fields__)
# What a change replaces in the payload; metadata is merged instead.
PATCHED_FIELDS = (
    *(f for f in CronRun.__struct_fields__ if f != "metadata"),
    "schedule",
    "end_time",
)


class CronCount(RequestBody, kw_only=True):
    assistant_id: str | None = None
    thread_id: uuid.UUID | None = None
    metadata: dict[str, Any] | None = None


class CronSearch(CronCount, kw_only=True):
    enabled: bool | None = None
    limit: int = 10
    offset: int = 0
    sort_by: CronSortBy = "created_at"
    sort_order: Literal["asc", "desc"] = "desc"
    select: list[str] | None = None


class Cron(msgspec.Struct, kw_only=True):
    """A cron, as LangGraph's server returns it."""

    cron_id: uuid.UUID
    assistant_id: uuid.UUID
    thread_id: uuid.UUID | None
    user_id: str | None
    schedule: str
    timezone: str
    end_time: datetime | None
    enabled: bool
    next_run_date: datetime
    payload: dict[str, Any]
    metadata: dict[str, Any]
    on_run_completed: str | None
    created_at: datetime
    updated_at: datetime


CRON_FIELDS = tuple(Cron.__struct_fields__)
