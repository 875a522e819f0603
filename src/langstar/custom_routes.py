"""A project's own routes (`http.app`: a Starlette or FastAPI app) served beside the API.

As on LangGraph's server, the project's routes answer first, so one may replace `/info`
or an API route, except the meta routes no project may shadow (`/ok`, `/docs`,
`/openapi.json`); the project's lifespan runs with the server's; and its routes are open
unless `enable_custom_route_auth` asks for the API's authentication.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from contextlib import AbstractAsyncContextManager, nullcontext
from pathlib import Path
from typing import Any

from litestar import Litestar
from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException

from langstar.auth.authenticators import Authenticator
from langstar.objects import LoadError, load_object
from langstar.settings import SettingsError
from langstar.system.openapi import PROJECT_OPENAPI

log = logging.getLogger(__name__)

# Plain ASGI: Litestar's own types leave out the lifespan scope.
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

UNSHADOWABLE = ("/ok", "/docs", "/openapi.json", "/swagger")
FULL_MATCH = 2  # Starlette's Match.FULL


class CustomRoutes:
    """Sends a request to the project's app when one of its routes matches, else the API."""

    def __init__(self, api: Litestar, routes: Any, *, authenticate: bool) -> None:
        self.api: Any = api
        self.routes = routes
        self._authenticate = authenticate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            async with self._lifespan():
                await self.api(scope, receive, send)
            return
        if scope["type"] in ("http", "websocket") and self._claims(scope):
            if not self._authenticate or await self._let_in(scope, receive, send):
                await self.routes(scope, receive, send)
            return
        await self.api(scope, receive, send)

    def _lifespan(self) -> AbstractAsyncContextManager[Any]:
        router = getattr(self.routes, "router", None)
        context = getattr(router, "lifespan_context", None)
        return nullcontext() if context is None else context(self.routes)

    def _claims(self, scope: Scope) -> bool:
        path = str(scope.get("path", ""))
        if any(path == p or path.startswith(p + "/") for p in UNSHADOWABLE):
            return False
        for route in getattr(self.routes, "routes", []):
            match, _ = route.matches(scope)
            if getattr(match, "value", match) == FULL_MATCH:
                return True
        return False

    async def _let_in(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """The API's authentication, for a project that asks for it on its own routes."""
        authenticator = await self.api.state.dishka_container.get(Authenticator)
        try:
            connection: ASGIConnection[Any, Any, Any, Any] = ASGIConnection(scope, receive)  # type: ignore[arg-type]
            scope["user"] = await authenticator.authenticate(connection)
        except HTTPException as exc:
            await _refuse(send, exc)
            return False
        return True


async def _refuse(send: Send, exc: HTTPException) -> None:
    body = json.dumps({"detail": exc.detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    headers += [(k.lower().encode(), v.encode()) for k, v in (exc.headers or {}).items()]
    await send({"type": "http.response.start", "status": exc.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def with_custom_routes(api: Litestar, spec: str, *, authenticate: bool) -> ASGIApp:
    """The API with the app `spec` names in front of it."""
    try:
        routes = load_object(spec, Path.cwd())
    except LoadError as exc:
        raise SettingsError("http.app", str(exc)) from None
    if not callable(routes) or not hasattr(routes, "routes"):
        raise SettingsError("http.app", f"{spec} is not a Starlette or FastAPI app")
    api.state[PROJECT_OPENAPI] = project_openapi(routes)
    return CustomRoutes(api, routes, authenticate=authenticate)


def project_openapi(routes: Any) -> dict[str, Any] | None:
    """The OpenAPI document of the project's app, for /openapi.json: a FastAPI app's own,
    or what a Starlette app's docstrings hold (Starlette's `SchemaGenerator`: a route
    without one is left out), as LangGraph's server reads them."""
    try:
        if callable(build := getattr(routes, "openapi", None)):
            return dict(build())
        from starlette.schemas import SchemaGenerator

        return SchemaGenerator({"openapi": "3.1.0", "info": {}}).get_schema(list(routes.routes))
    except Exception as exc:  # a route it cannot describe must not stop the server
        log.warning("http.app: its routes are left out of /openapi.json: %s", exc)
        return None
