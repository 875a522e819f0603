"""The configured Authenticator (APP), and each request's Identity (REQUEST)."""

from __future__ import annotations

from dishka import Provider, Scope, provide
from litestar import Request
from litestar.exceptions import NotAuthorizedException

from langstar.auth.authenticators import (
    ApiKeyAuth,
    AuthConfigError,
    Authenticator,
    JwtAuth,
    NoAuth,
    effective_mode,
)
from langstar.db.pool import Pool
from langstar.identity import Identity
from langstar.settings import Settings


class AuthProvider(Provider):
    """The configured Authenticator, and who is calling, as the middleware found them."""

    @provide(scope=Scope.APP)
    def provide_authenticator(self, settings: Settings, pool: Pool) -> Authenticator:
        mode = effective_mode(settings)
        if mode == "none":
            return NoAuth()
        if mode == "api_key":
            return ApiKeyAuth(pool)
        if mode == "jwt":
            return JwtAuth(settings.auth)
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
