"""Every request but health checks and API docs passes the configured Authenticator."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.middleware.base import DefineMiddleware

from langstar.auth.authenticators import Authenticator
from langstar.auth.project import caller_of
from langstar.db.encryption import CONTEXT_HEADER, ProjectEncryption, use_context
from langstar.identity import ACTING_FOR, LOOPBACK_ROOT
from langstar.logs import USER

# Routes marked with this opt key answer without credentials.
PUBLIC = "exclude_from_auth"


class AuthenticationMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        acting_for = ACTING_FOR.get()
        if acting_for is not None and connection.scope.get("root_path") == LOOPBACK_ROOT:
            # A graph calling its own server in-process: it acts for its run's user.
            return AuthenticationResult(user=acting_for, auth=None)
        authenticator = await connection.app.state.dishka_container.get(Authenticator)
        identity = await authenticator.authenticate(connection)
        USER.set(identity.user_id)  # for the lines logged while the request is served
        encryption = await connection.app.state.dishka_container.get(ProjectEncryption)
        if encryption.encryption is not None:
            # What the request writes is encrypted under the context its caller gives.
            header = connection.headers.get(CONTEXT_HEADER)
            use_context(await encryption.request_context(caller_of(identity), header))
        return AuthenticationResult(user=identity, auth=None)


def authentication_middleware() -> DefineMiddleware:
    return DefineMiddleware(
        AuthenticationMiddleware,
        exclude=["^/docs", "^/swagger"],
        exclude_from_auth_key=PUBLIC,
        exclude_http_methods=["OPTIONS"],
    )
