"""A LangGraph project's own `langgraph_sdk.Auth`, run as LangGraph's server runs it.

`@auth.authenticate` turns a request into the caller; it may take any of `request`,
`headers`, `authorization`, `path`, `method`, `path_params`, `query_params` and `scope`,
and return a user id, a dict with `identity`, an object with one, or a
`(permissions, user)` tuple. The `@auth.on` handlers decide each action on threads, runs
(through their thread), assistants and the store: the most specific handler registered
runs, `False` refuses (403), a returned dict filters by metadata, and a store handler may
move the namespace. With such a project, access is the handlers' to decide, as on
LangGraph's server, not langstar's per-user ownership.

In studio mode (`auth.studio_mode`, for development), a request from this machine that
carries LangGraph Studio's `x-auth-scheme: langsmith` skips `@auth.authenticate` and is
LangGraph's `StudioUser` in the handlers, as under `langgraph dev`, which lets it in from
anywhere; from another address langstar refuses it.
"""

from __future__ import annotations

import inspect
import ipaddress
import logging
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from langgraph_sdk import Auth
from langgraph_sdk.auth.exceptions import HTTPException as ProjectHTTPException
from langgraph_sdk.auth.types import AuthContext, StudioUser
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException

from langstar.access import Filter, Resource
from langstar.auth.authenticators import AuthConfigError, refused
from langstar.errors import ForbiddenError, RefusedError
from langstar.identity import Identity
from langstar.objects import LoadError, load_object

log = logging.getLogger(__name__)

Offered = dict[str, Callable[[ASGIConnection[Any, Any, Any, Any]], Any]]
# What `@auth.authenticate` may ask for, by parameter name, as LangGraph's server names it.
OFFERED: Offered = {
    "request": lambda connection: Request(connection.scope, connection.receive),
    "headers": lambda connection: dict(connection.scope.get("headers", [])),
    "authorization": lambda connection: connection.headers.get("authorization"),
    "path": lambda connection: connection.url.path,
    "method": lambda connection: connection.scope.get("method", "GET"),
    "path_params": lambda connection: dict(connection.path_params),
    "query_params": lambda connection: dict(connection.query_params),
    "scope": lambda connection: connection.scope,
}


class ProjectUser(dict[str, Any]):
    """The caller as handlers and graphs read it: by key or by attribute (nested dicts
    too), and through the attributes of the user object the project returned, if any."""

    def __init__(self, fields: Mapping[str, Any], source: object = None) -> None:
        super().__init__(fields)
        self.__dict__["_source"] = source

    def __getattr__(self, name: str) -> Any:
        if name in self:
            found = self[name]
            return ProjectUser(found) if type(found) is dict else found
        source = self.__dict__.get("_source")
        if source is not None and not name.startswith("__"):
            return getattr(source, name)
        raise AttributeError(name)

    def __reduce__(self) -> tuple[type[ProjectUser], tuple[dict[str, Any]]]:
        # Copies and pickles keep the fields only: the project's object stays in-process.
        return ProjectUser, (dict(self),)


# What LangGraph Studio sends instead of credentials, and who it is under `langgraph dev`.
STUDIO_HEADER, STUDIO_SCHEME = "x-auth-scheme", "langsmith"
STUDIO_USER = "langgraph-studio-user"


class StudioCaller(StudioUser, Mapping[str, Any]):
    """LangGraph Studio's user as `langgraph dev` hands it to a project's handlers: a
    `StudioUser` (unauthenticated, without permissions) that reads by key too."""

    __slots__ = ()

    def _fields(self) -> dict[str, Any]:
        return {
            "kind": "StudioUser",
            "identity": self.identity,
            "display_name": self.display_name,
            "is_authenticated": self.is_authenticated,
            "permissions": list(self.permissions),
        }

    def __getitem__(self, key: str) -> Any:
        return self._fields()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields())

    def __len__(self) -> int:
        return len(self._fields())


def studio_identity(connection: ASGIConnection[Any, Any, Any, Any]) -> Identity:
    """Studio's user, for a request from this machine: the address the connection came
    from, never a forwarded header, says so."""
    if not _from_this_machine(connection):
        where = connection.client.host if connection.client else "an unknown address"
        raise refused(
            f"{STUDIO_HEADER}: {STUDIO_SCHEME} (LangGraph Studio) is honoured only from this "
            f"machine (auth.studio_mode); this request came from {where}"
        )
    studio = StudioCaller(STUDIO_USER)
    return Identity(
        user_id=STUDIO_USER,
        is_authenticated=False,
        user=ProjectUser(studio, source=studio),
        shared=True,
    )


def _from_this_machine(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    if connection.client is None:
        return False
    try:
        address = ipaddress.ip_address(connection.client.host)
    except ValueError:
        return False
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return (mapped or address).is_loopback


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
    """Runs the project's `@auth.authenticate` handler (everyone in, without one); in
    studio mode, lets LangGraph Studio in from this machine first."""

    def __init__(self, auth: Auth, *, studio_mode: bool = False) -> None:
        self.auth = auth
        self.studio_mode = studio_mode
        handler = auth._authenticate_handler
        self._wanted = _wanted_arguments(handler) if handler is not None else []

    async def authenticate(self, connection: ASGIConnection[Any, Any, Any, Any]) -> Identity:
        if self.studio_mode and connection.headers.get(STUDIO_HEADER) == STUDIO_SCHEME:
            return studio_identity(connection)
        handler = self.auth._authenticate_handler
        if handler is None:
            return Identity(is_authenticated=False, shared=True)
        try:
            found: Any = handler(**{name: OFFERED[name](connection) for name in self._wanted})
            if inspect.isawaitable(found):
                found = await found
            return _identity(found)
        except ProjectHTTPException as exc:
            headers = dict(exc.headers or {})
            raise HTTPException(
                status_code=exc.status_code, detail=str(exc.detail), headers=headers
            ) from None
        except AssertionError as exc:
            # As a failed assert in an `@auth.on` handler is: the caller may not go on.
            raise HTTPException(status_code=403, detail=str(exc) or "Forbidden") from None
        except ValueError as exc:
            # Not the message: it may quote the credential it could not read.
            log.warning("the project's authenticate handler raised %s: answered 400", type(exc))
            raise HTTPException(status_code=400, detail=str(exc)) from None


def _wanted_arguments(handler: Callable[..., Any]) -> list[str]:
    """The parameters of `handler` to pass; one that is not offered must have a default."""
    wanted = inspect.signature(handler).parameters
    unknown = [
        name
        for name, parameter in wanted.items()
        if name not in OFFERED and parameter.default is parameter.empty
    ]
    if unknown:
        raise AuthConfigError(
            f"auth.authenticate: no parameter {unknown[0]!r} is offered; it may take "
            + ", ".join(OFFERED)
        )
    return [name for name in wanted if name in OFFERED]


def _identity(found: Any) -> Identity:
    """The caller from what `@auth.authenticate` returned, split as LangGraph's server
    splits it: a `(permissions, user)` tuple, or a user that may carry `permissions`."""
    if isinstance(found, tuple):
        if len(found) != 2:
            raise ValueError(
                f"the authenticate handler returned a tuple of {len(found)}: "
                "expected two elements (permissions, user)"
            )
        permissions, user = found
    elif hasattr(found, "permissions"):
        permissions, user = found.permissions, found
    elif isinstance(found, Mapping) and "permissions" in found:
        permissions, user = found["permissions"], found
    else:
        permissions, user = [], found
    caller = _user(user)
    return Identity(
        user_id=str(caller["identity"]),
        is_authenticated=bool(caller["is_authenticated"]),
        permissions=tuple(permissions or ()),
        user=caller,
        shared=True,
    )


def _user(user: Any) -> ProjectUser:
    """The user's fields: `identity`, `is_authenticated` (True unless it says otherwise),
    `display_name` (its identity unless it has one) and whatever else it holds."""
    if isinstance(user, str):
        return ProjectUser({"identity": user, "is_authenticated": True, "display_name": user})
    if hasattr(user, "identity"):
        identity = user.identity
        fields = {
            "identity": identity,
            "is_authenticated": getattr(user, "is_authenticated", True),
            "display_name": getattr(user, "display_name", identity),
        }
        dump = getattr(user, "model_dump", None) or getattr(user, "dict", None)
        return ProjectUser({**fields, **(dump() if callable(dump) else {})}, source=user)
    if isinstance(user, Mapping) and "identity" in user:
        identity = user["identity"]
        defaults = {"is_authenticated": True, "display_name": identity}
        return ProjectUser({"identity": identity, **defaults, **user})
    raise ValueError(
        "the authenticate handler returned no user: expected a user id, a dict with "
        f"'identity', an object with an identity, or (permissions, user); got {type(user)}"
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
        context = AuthContext(
            permissions=list(self._identity.permissions),
            user=caller_of(self._identity),
            resource=resource,
            action=action,  # type: ignore[arg-type]  # the actions the resource has
        )
        try:
            verdict = handler(ctx=context, value=value)
            if inspect.isawaitable(verdict):
                verdict = await verdict
        except ProjectHTTPException as exc:
            raise RefusedError(str(exc.detail), exc.status_code, dict(exc.headers or {})) from None
        except AssertionError as exc:
            raise ForbiddenError(str(exc) or "Forbidden") from None
        return _filter(verdict, resource, action)


def caller_of(identity: Identity) -> Any:
    """The caller as a project's handlers get it: read by key or attribute, as LangGraph's
    own user object is, and a `StudioUser` for Studio."""
    user: Any = identity.user
    if not isinstance(user, ProjectUser):
        user = ProjectUser(user or {"identity": identity.user_id})
    if isinstance(user.__dict__.get("_source"), StudioCaller):
        user = user.__dict__["_source"]  # so that `isinstance(ctx.user, StudioUser)`
    return user


def _filter(verdict: Any, resource: str, action: str) -> Filter:
    if verdict is None or verdict is True:
        return {}
    if verdict is False:
        raise ForbiddenError("Forbidden")
    if isinstance(verdict, dict):
        return verdict
    raise TypeError(f"auth handler for {resource}.{action} returned {type(verdict).__name__}")
