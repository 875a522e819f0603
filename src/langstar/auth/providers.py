"""The configured Authenticator (APP), and each request's Identity and Authorizer."""

from __future__ import annotations

import logging
from pathlib import Path

from dishka import Provider, Scope, provide
from litestar import Request
from litestar.exceptions import NotAuthorizedException

from langstar.access import Authorizer, OpenAccess
from langstar.auth.authenticators import (
    ApiKeyAuth,
    AuthConfigError,
    Authenticator,
    JwtAuth,
    NoAuth,
    effective_mode,
)
from langstar.auth.project import HandlerAuthorizer, ProjectAuthenticator, load_auth
from langstar.db.pool import Pool
from langstar.identity import Identity
from langstar.settings import Settings

log = logging.getLogger(__name__)


class AuthProvider(Provider):
    """The configured Authenticator, and who is calling, as the middleware found them."""

    @provide(scope=Scope.APP)
    def provide_authenticator(self, settings: Settings, pool: Pool) -> Authenticator:
        mode = effective_mode(settings)
        say_studio_mode(settings, mode)
        if mode == "none":
            return NoAuth()
        if mode == "api_key":
            return ApiKeyAuth(pool)
        if mode == "jwt":
            return JwtAuth(settings.auth)
        if mode == "project":
            auth = load_auth(settings.auth.project_auth, Path.cwd())
            return ProjectAuthenticator(auth, studio_mode=settings.auth.studio_mode)
        raise AuthConfigError(
            f"auth.mode is 'custom' but {settings.auth.provider} does not provide an Authenticator"
        )

    @provide(scope=Scope.REQUEST)
    def provide_identity(
        self,
        request: Request,  # type: ignore[type-arg]  # Dishka keys on the bare class
    ) -> Identity:
        user = request.scope.get("user")
        if not isinstance(user, Identity):
            # Only public routes skip authentication, and they never ask who is calling.
            raise NotAuthorizedException("This route is not authenticated")
        return user

    @provide(scope=Scope.REQUEST)
    def provide_authorizer(self, authenticator: Authenticator, identity: Identity) -> Authorizer:
        return authorizer_for(authenticator, identity)


def say_studio_mode(settings: Settings, mode: str) -> None:
    """What `auth.studio_mode` does, in the log: it opens a way past a project's own Auth."""
    if not settings.auth.studio_mode:
        return
    if mode == "project":
        log.warning(
            "auth.studio_mode is on: a request from this machine carrying x-auth-scheme: "
            "langsmith skips the project's authenticate and is LangGraph Studio's user"
        )
    else:
        log.warning(
            "auth.studio_mode does nothing: auth.mode is %r; it lets LangGraph Studio past "
            "a project's own Auth (auth.mode 'project')",
            mode,
        )


def authorizer_for(authenticator: Authenticator, identity: Identity) -> Authorizer:
    """A project's own handlers decide access; otherwise ownership alone does."""
    if isinstance(authenticator, ProjectAuthenticator):
        return HandlerAuthorizer(authenticator.auth, identity)
    return OpenAccess()
