"""One line per request, and the request id every line written for it carries."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from langstar.headers import HeaderPatterns
from langstar.logs import REQUEST_ID

log = logging.getLogger("langstar.access")
# A client's own request id is kept if it is a plain token; anything else is replaced.
_GIVEN_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Credentials, never logged whatever the patterns say.
NEVER_LOGGED = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"}
)


def _given_id(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The client's own request id, if it sent a plain token (its last one, if several)."""
    given = None
    for name, value in headers:
        if name == b"x-request-id":
            given = value
    if given is None:
        return None
    text = given.decode("latin-1")
    return text if _GIVEN_ID.fullmatch(text) else None


class LoggedHeaders:
    """Which headers an access line shows (`[http] logging_headers_*`), as `HeaderPatterns`
    choose them; credentials never."""

    def __init__(self, include: Sequence[str] = (), exclude: Sequence[str] = ()) -> None:
        self.patterns = HeaderPatterns(include, exclude, never=NEVER_LOGGED)

    def pick(self, headers: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
        """The headers to show, by name (a repeated one by its last value)."""
        if not self.patterns:
            return {}
        return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in headers
                if self.patterns.matches(k.decode("latin-1"))}  # fmt: skip


class AccessLog:
    """Names each request (`x-request-id`, the client's or a new one) and logs its end:
    method, path (never the query string), status, duration and user, and the headers
    `headers` picks (by default none: credentials travel there)."""

    def __init__(self, app: ASGIApp, headers: LoggedHeaders | None = None) -> None:
        self.app = app
        self.headers = headers or LoggedHeaders()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        request_id = _given_id(scope.get("headers", ())) or uuid.uuid4().hex
        token = REQUEST_ID.set(request_id)
        answer: dict[str, Any] = {"status": 500, "headers": []}
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableScopeHeaders.from_message(message)["x-request-id"] = request_id
                answer.update(status=message["status"], headers=message.get("headers", []))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if log.isEnabledFor(logging.INFO):  # off, an access line costs nothing
                self._log(scope, answer, time.perf_counter() - started)
            REQUEST_ID.reset(token)

    def _log(self, scope: Scope, answer: dict[str, Any], seconds: float) -> None:
        user: Any = scope.get("user")
        method, status = str(scope.get("method", "")), int(answer["status"])
        extra: dict[str, Any] = {
            "method": method,
            "path": scope["path"],
            "status": status,
            "duration_ms": round(seconds * 1000, 1),
            "user": getattr(user, "user_id", None),
        }
        shown = ""
        for key, headers in (("req_header", scope.get("headers", [])),
                             ("res_header", answer["headers"])):  # fmt: skip
            if picked := self.headers.pick(headers):
                extra[key] = picked
                shown += f" {key}={picked}"
        log.info(
            "%s %s %d %.1fms%s", method, scope["path"], status, seconds * 1000, shown, extra=extra
        )
