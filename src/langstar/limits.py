"""Limits on what one request or one user may ask of the server; each is a setting."""

from __future__ import annotations

import time
import weakref
from collections.abc import AsyncIterator, Callable
from typing import Any

import msgspec

from langstar.errors import InvalidError, TooManyError
from langstar.settings import LimitSettings


def check_metadata(metadata: Any, limits: LimitSettings, field: str = "metadata") -> None:
    if metadata and len(msgspec.json.encode(metadata)) > limits.max_metadata_bytes:
        raise InvalidError(
            field, f"larger than limits.max_metadata_bytes ({limits.max_metadata_bytes})"
        )


def check_input(payload: Any, limits: LimitSettings, field: str = "input") -> None:
    """A run's input: at most `max_input_messages` messages, each `max_message_bytes`."""
    messages = payload.get("messages") if isinstance(payload, dict) else None
    if not isinstance(messages, list):
        return
    if len(messages) > limits.max_input_messages:
        raise InvalidError(
            f"{field}.messages",
            f"{len(messages)} messages, more than "
            f"limits.max_input_messages ({limits.max_input_messages})",
        )
    for index, message in enumerate(messages):
        size = len(msgspec.json.encode(message, enc_hook=str))
        if size > limits.max_message_bytes:
            raise InvalidError(
                f"{field}.messages[{index}]",
                f"{size} bytes, more than limits.max_message_bytes ({limits.max_message_bytes})",
            )


class StreamSlots:
    """Open SSE streams per user in this process, at most `max_streams_per_user` each."""

    def __init__(self, limits: LimitSettings) -> None:
        self._limits = limits
        self._open: dict[str, int] = {}

    def count(self, user_id: str) -> int:
        return self._open.get(user_id, 0)

    def total(self) -> int:
        """Streams open now, of every user."""
        return sum(self._open.values())

    def take(self, user_id: str) -> Callable[[], None]:
        """Hold a slot, or raise 429; returns the release, safe to call more than once."""
        if self.count(user_id) >= self._limits.max_streams_per_user:
            raise TooManyError(
                f"{self._limits.max_streams_per_user} streams already open for this user "
                "(limits.max_streams_per_user); close one or retry later"
            )
        self._open[user_id] = self.count(user_id) + 1
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            left = self._open.get(user_id, 1) - 1
            if left > 0:
                self._open[user_id] = left
            else:
                self._open.pop(user_id, None)

        return release

    def hold(self, user_id: str, body: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """`body` while it holds one of the user's slots, and at most `max_stream_seconds`."""
        return self.bounded(body, self.take(user_id))

    def bounded(
        self, body: AsyncIterator[bytes], release: Callable[[], None]
    ) -> AsyncIterator[bytes]:
        """`body` for at most `max_stream_seconds`, calling `release` when it ends."""
        stream = _bounded(body, self._limits.max_stream_seconds, release)
        # A response that is never iterated never runs its `finally`: release on collection.
        weakref.finalize(stream, release)
        return stream


async def _bounded(
    body: AsyncIterator[bytes], seconds: float, release: Callable[[], None]
) -> AsyncIterator[bytes]:
    deadline = time.monotonic() + seconds
    try:
        async for chunk in body:
            yield chunk
            if time.monotonic() >= deadline:
                return
    finally:
        release()
        closing = getattr(body, "aclose", None)
        if closing is not None:
            await closing()


def body_too_large(limit: int | None) -> str:
    """Why a body was refused with 413: the setting (and its variable) that sets the limit."""
    size = f"{limit} bytes" if limit else "the limit"
    return (
        f"Request body larger than limits.max_body_bytes ({size}); raise it with "
        "LANGSTAR_LIMITS__MAX_BODY_BYTES to accept larger ones"
    )
