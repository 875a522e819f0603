"""A custom authenticator for tests: it trusts an `x-user` header, as behind an auth proxy."""

from __future__ import annotations

from typing import Any

from dishka import Provider, Scope, provide
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException

from langstar.auth.authenticators import Authenticator
from langstar.identity import Identity


class HeaderAuth:
    """Whoever the `x-user` header names; a request without one is refused."""

    async def authenticate(self, connection: ASGIConnection[Any, Any, Any, Any]) -> Identity:
        user = connection.headers.get("x-user")
        if not user:
            raise NotAuthorizedException("no x-user header")
        return Identity(user_id=user, is_authenticated=True)


class HeaderAuthProvider(Provider):
    """Swaps the configured Authenticator for `HeaderAuth`."""

    authenticator = provide(HeaderAuth, provides=Authenticator, scope=Scope.APP, override=True)
