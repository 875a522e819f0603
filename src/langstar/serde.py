"""JSON for what graphs hold: LangChain messages, interrupts, dataclasses, exceptions."""

from __future__ import annotations

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
