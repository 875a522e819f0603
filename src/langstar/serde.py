"""JSON for what graphs hold: LangChain messages, interrupts, dataclasses, exceptions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import msgspec


def encode_default(obj: Any) -> Any:
    """Fallback for objects msgspec cannot encode natively."""
    dump = getattr(obj, "model_dump", None)
    if callable(dump):
        return dump()
    if isinstance(obj, BaseException):
        return encode_error(obj)
    to_json = getattr(obj, "to_json", None)
    if callable(to_json):
        return to_json()
    return repr(obj)


def encode_error(exc: BaseException) -> dict[str, str]:
    """How a failure is reported to clients: its type and its message."""
    return {"error": type(exc).__name__, "message": str(exc)}


_encoder = msgspec.json.Encoder(enc_hook=encode_default)


def dumps(obj: Any) -> bytes:
    return _encoder.encode(obj)


def to_jsonable(obj: Any) -> Any:
    """Plain JSON types, for storing in a JSONB column or comparing in tests."""
    return msgspec.json.decode(_encoder.encode(obj))


def shown_interrupts(interrupts: Iterable[Any]) -> list[Any]:
    """Interrupts as a thread's state and record show them, as on LangGraph's server:
    `{id, value}`, with `response_schema` only when the graph gave one. (A run's own
    output sends LangGraph's `Interrupt` whole, null schema and all, as that server does.)
    Takes `Interrupt`s or their JSON, which threads stored before kept whole."""
    return [_shown(item) for item in to_jsonable(list(interrupts))]


def shown_interrupt_map(interrupts: Mapping[str, Any]) -> dict[str, Any]:
    """A thread's interrupts by task id, each list as `shown_interrupts` gives it."""
    return {task: shown_interrupts(items) for task, items in interrupts.items()}


def _shown(item: Any) -> Any:
    if not isinstance(item, dict):
        return item
    shown = {"id": item.get("id"), "value": item.get("value")}
    if item.get("response_schema") is not None:
        shown["response_schema"] = item["response_schema"]
    return shown
