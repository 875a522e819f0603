"""A LangGraph project's own `langgraph_sdk.Auth`, run as LangGraph's server runs it.

`@auth.authenticate` turns a request into the caller; it may take any of `request`,
`headers`, `authorization`, `path`, `method`, `path_params` and `query_params`, and
return a user id, a dict with `identity`, or an object with one. The `@auth.on`
handlers decide each action on threads, runs (through their thread), assistants and the
store: the most specific handler registered runs, `False` refuses (403), a returned dict
filters by metadata, and a store handler may move the namespace. With such a project,
access is the handlers' to decide, as on LangGraph's server, not langstar's per-user
ownership.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from langgraph_sdk import Auth
from langgraph_sdk.auth.exceptions import HTTPException as ProjectHTTPException
from langgraph_sdk.auth.types import AuthContext
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException, NotAuthorizedException

from langstar.access import Filter, Resource
from langstar.auth.authenticators import AuthConfigError
from langstar.errors import ForbiddenError, RefusedError
from langstar.identity import Identity
from langstar.objects import LoadError, load_object


class ProjectUser(dict[str, Any]):
    """The caller as handlers and graphs read it: by key or by attribute."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def load_auth(spec: str, base: Path) -> Auth:
    """The `Auth` object a project's `auth.path` names."""
    try:
        found = load_object(spec, base)
    except LoadError as exc:
        raise AuthConfigError(f"auth.path: {exc}") from None
    if not isinstance(found, Auth):
        raise AuthConfigError(f"auth.path: {spec} is a {type(found).__name__}, not an Auth")
    return found


class ProjectAuthenticator:
    """Runs the project's `@auth.authenticate` handler (everyone in, without one)."""

    def __init__(self, auth: Auth) -> None:
        self.auth = auth

    async def authenticate(self, connection: ASGIConnection[Any, Any, Any, Any]) -> Identity:
        handler = self.auth._authenticate_handler
        if handler is None:
            return Identity(is_authenticated=False, shared=True)
        try:
            found: Any = handler(**_arguments(handler, connection))
            if inspect.isawaitable(found):
                found = await found
        except ProjectHTTPException as exc:
            headers = dict(exc.headers or {})
            raise HTTPException(
                status_code=exc.status_code, detail=exc.detail, headers=headers
            ) from None
        return _identity(found)


def _arguments(
    handler: Callable[..., Any], connection: ASGIConnection[Any, Any, Any, Any]
) -> dict[str, Any]:
    offered: dict[str, Callable[[], Any]] = {
        "request": lambda: Request(connection.scope, connection.receive),
        "headers": lambda: dict(connection.scope.get("headers", [])),
        "authorization": lambda: connection.headers.get("authorization"),
        "path": lambda: connection.url.path,
        "method": lambda: connection.scope.get("method", ""),
        "path_params": lambda: dict(connection.path_params),
        "query_params": lambda: dict(connection.query_params),
    }
    wanted = inspect.signature(handler).parameters
    unknown = sorted(set(wanted) - set(offered))
    if unknown:
        raise AuthConfigError(f"auth.authenticate: no parameter {unknown[0]!r} is offered")
    return {name: offered[name]() for name in wanted}


def _identity(found: Any) -> Identity:
    """The caller from what `@auth.authenticate` returned: an id, a dict or an object."""
    if isinstance(found, str):
        found = {"identity": found}
    elif not isinstance(found, Mapping):
        found = {
            name: getattr(found, name)
            for name in ("identity", "permissions", "display_name", "is_authenticated")
            if hasattr(found, name)
        }
    user = ProjectUser(found)
    identity = user.get("identity")
    if not isinstance(identity, str) or not identity:
        raise NotAuthorizedException("the project's authenticate handler gave no identity")
    user.setdefault("display_name", identity)
    user.setdefault("is_authenticated", True)
    user["permissions"] = list(user.get("permissions") or [])
    return Identity(
        user_id=identity,
        is_authenticated=bool(user["is_authenticated"]),
        permissions=tuple(user["permissions"]),
        user=user,
        shared=True,
    )


class HandlerAuthorizer:
    """The project's `@auth.on` handlers, for one caller."""

    def __init__(self, auth: Auth, identity: Identity) -> None:
        self._auth = auth
        self._identity = identity

    def _handler(self, resource: str, action: str) -> Callable[..., Any] | None:
        """The most specific handler registered for this resource and action."""
        for key in ((resource, action), (resource, "*"), ("*", action), ("*", "*")):
            handlers = self._auth._handlers.get(key)
            if handlers:
                return handlers[-1]
        return self._auth._global_handlers[-1] if self._auth._global_handlers else None

    async def authorize(self, resource: Resource, action: str, value: dict[str, Any]) -> Filter:
        handler = self._handler(resource, action)
        if handler is None:
            return {}
        user = ProjectUser(self._identity.user or {"identity": self._identity.user_id})
        context = AuthContext(
            permissions=list(self._identity.permissions),
            user=user,  # read by key or attribute, as LangGraph's own user object is
            resource=resource,
            action=action,  # type: ignore[arg-type]  # the actions the resource has
        )
        try:
            verdict = handler(ctx=context, value=value)
            if inspect.isawaitable(verdict):
                verdict = await verdict
        except ProjectHTTPException as exc:
            raise RefusedError(str(exc.detail), exc.status_code, dict(exc.headers or {})) from None
        except AssertionError:
            raise ForbiddenError("Forbidden") from None
        return _filter(verdict, resource, action)


def _filter(verdict: Any, resource: str, action: str) -> Filter:
    if verdict is None or verdict is True:
        return {}
    if verdict is False:
        raise ForbiddenError("Forbidden")
    if isinstance(verdict, dict):
        return verdict
    raise TypeError(f"auth handler for {resource}.{action} returned {type(verdict).__name__}")
