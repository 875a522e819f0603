"""A project's own app (`http.app`: a Starlette or FastAPI app) served with the API.

As on LangGraph's server, the project's routes answer first, so one may replace `/info`
or an API route, except the meta routes no project may shadow (`/ok`, `/docs`,
`/openapi.json`); the project's lifespan runs with the server's; its routes are open
unless `enable_custom_route_auth` asks for the API's authentication; and the middleware
it adds wraps every route, the API's too: before authentication, or after it with
`middleware_order = "auth_first"`, where it reads the caller from `request.user`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litestar import Litestar
from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException

from langstar.auth.authenticators import Authenticator
from langstar.auth.project import ProjectUser
from langstar.identity import Identity
from langstar.objects import LoadError, load_object
from langstar.settings import HttpSettings, SettingsError
from langstar.system.openapi import PROJECT_OPENAPI

log = logging.getLogger(__name__)

# Plain ASGI: Litestar's own types leave out the lifespan scope.
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

UNSHADOWABLE = ("/ok", "/docs", "/openapi.json", "/swagger")
FULL_MATCH = 2  # Starlette's Match.FULL
# Where `create_app` keeps the project's app, loaded once, for `with_custom_routes`.
PROJECT_APP = "langstar.project_app"
# In the scope the project's middleware sees: what comes next, and the scope it was called with.
_NEXT = "langstar.after_project_middleware"
# What the project's middleware sees as on LangGraph's server, not as langstar has it.
_ITS_OWN = ("app", "user", "auth")


class ProjectMiddleware:
    """The middleware a project's app adds (`add_middleware`, `@app.middleware("http")`),
    built once and run around whatever a request reaches next, as LangGraph's server runs
    it around every route; taken out of the app, so its own routes are not wrapped twice.

    It sees a scope of its own, in which `request.app` is the project's app and the caller,
    once authenticated, is `request.user` as LangGraph's server gives it (`identity`,
    `display_name`, `is_authenticated`, and the fields the project's Auth returned), with
    their permissions in `request.auth.scopes`. What it changes in that scope (a header,
    the path, its state) reaches what comes next.
    """

    def __init__(self, app: Any) -> None:
        middleware = list(getattr(app, "user_middleware", None) or [])
        if middleware:
            app.user_middleware, app.middleware_stack = [], None
        stack: ASGIApp = _after_project_middleware
        for cls, args, kwargs in reversed(middleware):
            stack = cls(stack, *args, **kwargs)
        self._app = app
        self._stack = stack
        self.empty = not middleware

    def around(self, app: ASGIApp) -> ASGIApp:
        """`app` behind the project's middleware (Litestar calls this for each route)."""
        if self.empty:
            return app

        async def behind_project_middleware(scope: Scope, receive: Receive, send: Send) -> None:
            seen = {**scope, "app": self._app, _NEXT: (app, scope)}
            _show_caller(seen, scope.get("user"))
            await self._stack(seen, receive, send)

        return behind_project_middleware


async def _after_project_middleware(seen: Scope, receive: Receive, send: Send) -> None:
    app, scope = seen[_NEXT]
    scope.update({k: v for k, v in seen.items() if k != _NEXT and k not in _ITS_OWN})

    async def send_showing_caller(message: MutableMapping[str, Any]) -> None:
        # Authenticated after the middleware ran: it reads the caller once answered, as
        # on LangGraph's server.
        if message["type"] == "http.response.start" and "user" not in seen:
            _show_caller(seen, scope.get("user"))
        await send(message)

    await app(scope, receive, send_showing_caller)


def _show_caller(seen: Scope, caller: object) -> None:
    if isinstance(caller, Identity):
        seen["user"], seen["auth"] = request_user(caller)


def request_user(caller: Identity) -> tuple[ProjectUser, Any]:
    """The caller as Starlette middleware reads it on LangGraph's server: `request.user`
    (with `identity` empty when not authenticated) and `request.auth`."""
    from starlette.authentication import AuthCredentials  # a project's app brings Starlette

    if not caller.is_authenticated:
        user = ProjectUser({"identity": "", "is_authenticated": False, "display_name": ""})
    elif isinstance(caller.user, ProjectUser):
        user = caller.user
    else:
        fields = {"identity": caller.user_id, "is_authenticated": True}
        user = ProjectUser({**fields, "display_name": caller.user_id, **caller.user})
    return user, AuthCredentials(list(caller.permissions))


@dataclass(frozen=True, slots=True)
class ProjectApp:
    """A project's app (`http.app`), loaded once, and the middleware taken out of it."""

    routes: Any
    middleware: ProjectMiddleware
    auth_first: bool

    @classmethod
    def load(cls, spec: str, *, auth_first: bool = False) -> ProjectApp:
        try:
            routes = load_object(spec, Path.cwd())
        except LoadError as exc:
            raise SettingsError("http.app", str(exc)) from None
        if not callable(routes) or not hasattr(routes, "routes"):
            raise SettingsError("http.app", f"{spec} is not a Starlette or FastAPI app")
        return cls(routes, ProjectMiddleware(routes), auth_first)


def project_app(http: HttpSettings) -> ProjectApp | None:
    """The project's app, if `http.app` names one."""
    if not http.app:
        return None
    return ProjectApp.load(http.app, auth_first=http.middleware_order == "auth_first")


def after_authentication(project: ProjectApp | None) -> list[Any]:
    """The API's middleware that runs the project's after authentication, if it asks to."""
    return [project.middleware.around] if project and project.auth_first else []


class CustomRoutes:
    """Sends a request to the project's app when one of its routes matches, else the API."""

    def __init__(self, api: Litestar, project: ProjectApp, *, authenticate: bool) -> None:
        self.api: Any = api
        self.routes = project.routes
        # After authentication, as on the API's routes, when the project asks for that.
        self._served = project.middleware.around(self.routes) if project.auth_first else self.routes
        self._authenticate = authenticate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            async with self._lifespan():
                await self.api(scope, receive, send)
            return
        if scope["type"] in ("http", "websocket") and self._claims(scope):
            if not self._authenticate or await self._let_in(scope, receive, send):
                await self._served(scope, receive, send)
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
    """The API with the app `spec` names in front of it (the one `create_app` loaded, if it
    did), and, unless they run after authentication, its middleware around both."""
    project: ProjectApp = api.state.get(PROJECT_APP) or ProjectApp.load(spec)
    api.state[PROJECT_OPENAPI] = project_openapi(project.routes)
    served = CustomRoutes(api, project, authenticate=authenticate)
    return served if project.auth_first else project.middleware.around(served)


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
