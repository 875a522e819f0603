"""Make two servers' answers comparable: generated ids and times blanked, order made stable."""

from __future__ import annotations

import re
from typing import Any

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_ID = re.compile(rf"{_UUID}|lc_run--[\w-]+|run-[\w-]+")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ][\d:.]+(?:Z|[+-]\d{2}:?\d{2})?")
# Keys whose values are generated per server, not chosen by the request.
GENERATED = frozenset(
    {
        "checkpoint_id",
        "parent_checkpoint_id",
        "run_id",
        "thread_id",
        "assistant_id",
        "cron_id",
        "id",
        "created_at",
        "updated_at",
        "task_id",
        "interrupt_id",
        "run_attempt",
    }
)


def blank(value: Any) -> Any:
    """`value` with generated ids and times replaced by placeholders, in keys too (a
    thread's interrupts are keyed by task id)."""
    if isinstance(value, dict):
        keys: dict[str, str] = {}

        def key(k: str) -> str:
            return _ID.sub(lambda m: keys.setdefault(m[0], f"<id {len(keys)}>"), k)

        return {
            key(k): ("<generated>" if k in GENERATED and v is not None else blank(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [blank(v) for v in value]
    if isinstance(value, str):
        return _TIME.sub("<time>", _ID.sub("<id>", value))
    return value
