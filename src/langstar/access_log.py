"""One line per request, and the request id every line written for it carries."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from langstar.logs import REQUEST_ID

log = logging.getLogger("langstar.access")
# A client's own request id is kept if it is a plain token; anything else is replaced.
_GIVEN_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class AccessLog:
    """Names each request (`x-request-id`, the client's or a new one) and logs its end:
    method, path (never the query string or headers, where credentials travel),
    status, duration and user."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers", [])).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _GIVEN_ID.fullmatch(given) else uuid.uuid4().hex
        token = REQUEST_ID.set(request_id)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableScopeHeaders.from_message(message)["x-request-id"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _log_request(scope, status, time.perf_counter() - started)
            REQUEST_ID.reset(token)


def _log_request(scope: Scope, status: int, seconds: float) -> None:
    user: Any = scope.get("user")
    method = str(scope.get("method", ""))
    log.info(
        "%s %s %d %.1fms",
        method,
        scope["path"],
        status,
        seconds * 1000,
        extra={
            "method": method,
            "path": scope["path"],
            "status": status,
            "duration_ms": round(seconds * 1000, 1),
            "user": getattr(user, "user_id", None),
        },
    )
