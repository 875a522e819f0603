"""Run request bodies: every field the official clients send, each supported or refused."""

from __future__ import annotations

from typing import Any, Literal

from langstar.bodies import RequestBody

StreamMode = Literal[
    "values",
    "updates",
    "messages",
    "messages-tuple",
    "custom",
    "events",
    "debug",
    "tasks",
    "checkpoints",
]


class RunCreate(RequestBody, kw_only=True):
    assistant_id: str
    input: Any = None
    command: dict[str, Any] | None = None
    checkpoint: dict[str, Any] | None = None
    checkpoint_id: str | None = None
    metadata: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    webhook: str | None = None
    interrupt_before: Literal["*"] | list[str] | None = None
    interrupt_after: Literal["*"] | list[str] | None = None
    stream_mode: StreamMode | list[StreamMode] | None = None
    stream_subgraphs: bool = False
    stream_resumable: bool = False
    feedback_keys: list[str] | None = None
    multitask_strategy: Literal["reject", "enqueue", "interrupt", "rollback"] = "enqueue"
    if_not_exists: Literal["create", "reject"] = "reject"
    on_disconnect: Literal["cancel", "continue"] | None = None
    on_completion: Literal["delete", "keep"] | None = None
    after_seconds: float | None = None
    durability: Literal["sync", "async", "exit"] | None = None
    checkpoint_during: bool | None = None
    # The SDK's "fail a resume that answers no waiting interrupt": it takes effect only on
    # a server whose /info reports it. The Agent Server does not know it either; ignored.
    strict_resume: bool | None = None
    # A LangSmith hook; meaningless on a self-hosted server, accepted and ignored.
    langsmith_tracer: dict[str, Any] | None = None


# Fields this server does not act on yet, with the value that means "not used".
UNSUPPORTED: dict[str, Any] = {
    "feedback_keys": None,
}


class RunCancel(RequestBody, kw_only=True):
    thread_id: str | None = None
    run_ids: list[str] | None = None
    status: Literal["pending", "running", "all"] | None = None
