"""A server span per HTTP request, named by its route, under the caller's `traceparent`."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from opentelemetry import context, propagate, trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import SpanKind, Status, StatusCode

from langstar.tracing.setup import tracer

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class _HeaderGetter(Getter[Scope]):
    def get(self, carrier: Scope, key: str) -> list[str] | None:
        wanted = key.lower().encode()
        found = [v.decode("latin-1") for k, v in carrier.get("headers", []) if k.lower() == wanted]
        return found or None

    def keys(self, carrier: Scope) -> list[str]:
        return [k.decode("latin-1") for k, _ in carrier.get("headers", [])]


HEADERS = _HeaderGetter()
# `{thread_id:uuid}` in a Litestar path template
PARAMETER_TYPE = re.compile(r"\{(\w+):[^}]*\}")


class RequestSpans:
    """ASGI middleware: one SERVER span per HTTP request, named `METHOD route-template`.

    It sits on the routed request (the route's template is known), so a path no route
    answers gets no span.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        route = _template(scope)
        span = tracer().start_span(
            f"{method} {route}",
            context=propagate.extract(scope, getter=HEADERS),
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "http.route": route},
        )
        token = context.attach(trace.set_span_in_context(span))

        async def send_traced(message: Message) -> None:
            if message["type"] == "http.response.start":
                _answered(span, int(message["status"]))
            await send(message)

        try:
            await self.app(scope, receive, send_traced)
        except BaseException as exc:
            # An HTTP error raised by a middleware (a 401) is answered further out.
            status = getattr(exc, "status_code", None)
            if isinstance(status, int) and status < 500:
                _answered(span, status)
            else:
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, str(exc)))
            raise
        finally:
            context.detach(token)
            span.end()


def _answered(span: trace.Span, status: int) -> None:
    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        span.set_status(Status(StatusCode.ERROR))
        span.set_attribute("error.type", str(status))


def _template(scope: Scope) -> str:
    """The route's path template, its parameters' types left out (`{thread_id}`)."""
    return PARAMETER_TYPE.sub(r"{\1}", str(scope.get("path_template") or scope["path"]))
