"""Server-sent events, framed the way the langgraph-sdk client reads them."""

from __future__ import annotations

HEARTBEAT = b": heartbeat\r\n\r\n"
# No proxy may cache an event stream or hold it back to fill a buffer.
SSE_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


def frame(event: str, data: bytes, event_id: int | None = None) -> bytes:
    head = b"" if event_id is None else b"id: %d\r\n" % event_id
    return head + b"event: " + event.encode() + b"\r\ndata: " + data + b"\r\n\r\n"
