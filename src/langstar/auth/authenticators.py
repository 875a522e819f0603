"""Who is calling: an Authenticator turns a request's credentials into an Identity.

The built-in ones are `NoAuth`, `ApiKeyAuth` and `JwtAuth`. Anything else is a Dishka
provider that provides `Authenticator` (see docs/how-to/authentication.md).
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import json
import os
import secrets
from pathlib import Path
from typing import Any, Protocol

import jwt
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException

from langstar.db.pool import Pool
from langstar.identity import Identity
from langstar.settings import AuthSettings, Settings

KEY_PREFIX = "lsk_"
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="langstar"'}


class AuthConfigError(RuntimeError):
    """Authentication is not set up in a way the server may start with."""


class Authenticator(Protocol):
    """Turns a request's credentials into an Identity; what `auth.mode = "custom"` provides."""

    async def authenticate(self, connection: ASGIConnection[Any, Any, Any, Any]) -> Identity:
        """The caller's identity; raise `NotAuthorizedException` (401) when there is none."""
        ...


def refused(detail: str) -> NotAuthorizedException:
    return NotAuthorizedException(detail=detail, headers=CHALLENGE)


def credential(connection: ASGIConnection[Any, Any, Any, Any], *, api_key: bool) -> str:
    """The token from `Authorization: Bearer`, or (for API keys) from `x-api-key`."""
    if api_key:
        key = connection.headers.get("x-api-key", "").strip()
        if key:
            return key
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    where = "an x-api-key header or " if api_key else ""
    raise refused(f"Missing credentials: send {where}an Authorization: Bearer header")


def effective_mode(settings: Settings) -> str:
    """The auth mode to run with; refuses an open server that is not a loopback dev setup."""
    mode = settings.auth.mode
    if mode:
        return mode
    if settings.uses_embedded_database and _is_loopback(settings.server.host):
        return "none"
    raise AuthConfigError(
        "authentication is not configured: set auth.mode to 'api_key', 'jwt', 'custom' or "
        "'project', "
        "or run without authentication on purpose with LANGSTAR_AUTH__MODE=none"
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class NoAuth:
    """Everyone is the same anonymous user."""

    async def authenticate(self, connection: ASGIConnection[Any, Any, Any, Any]) -> Identity:
        return Identity()


def hash_key(key: str) -> str:
    # Keys are 256-bit random strings, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


class ApiKeyAuth:
    """Keys made with `langstar keys create`; only their hashes are stored."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def authenticate(self, connection: ASGIConnection[Any, Any, Any, Any]) -> Identity:
        key = credential(connection, api_key=True)
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT user_id FROM api_keys WHERE key_hash = %s AND revoked_at IS NULL",
                (hash_key(key),),
            )
            row = await cur.fetchone()
        if row is None:
            raise refused("Invalid or revoked API key")
        return Identity(user_id=str(row["user_id"]), is_authenticated=True)


class JwtAuth:
    """Bearer JWTs: the signature (HS* secret, or RS256/ES256 keys from a JWKS) and expiry."""

    def __init__(self, settings: AuthSettings, env: dict[str, str] | None = None) -> None:
        env = dict(os.environ) if env is None else env
        self._settings = settings
        self._algorithms = list(settings.jwt_algorithms)
        secret = env.get(settings.jwt_secret_env, "")
        hmac = [a for a in self._algorithms if a.startswith("HS")]
        if hmac and secret and len(secret.encode()) < 32:
            raise AuthConfigError(f"${settings.jwt_secret_env} is shorter than 32 bytes")
        self._secret = secret if hmac else ""
        self._jwks_client: jwt.PyJWKClient | None = None
        self._jwks: jwt.PyJWKSet | None = None
        source = settings.jwt_jwks
        if source.startswith(("https://", "http://")):
            self._jwks_client = jwt.PyJWKClient(source, cache_keys=True, lifespan=300, timeout=10)
        elif source:
            try:
                self._jwks = jwt.PyJWKSet.from_json(Path(source).read_text())
            except (OSError, json.JSONDecodeError, jwt.PyJWKSetError) as exc:
                raise AuthConfigError(f"auth.jwt_jwks: cannot read {source}: {exc}") from None
        if not self._secret and not source:
            raise AuthConfigError(
                f"mode 'jwt' needs ${settings.jwt_secret_env} (HS* tokens) or auth.jwt_jwks"
            )

    async def _key(self, token: str, header: dict[str, Any]) -> Any:
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in self._algorithms:
            raise refused(f"Token algorithm {algorithm!r} is not accepted")
        if algorithm.startswith("HS"):
            if not self._secret:
                raise refused("HMAC-signed tokens are not accepted")
            return self._secret
        if self._jwks_client is not None:
            client = self._jwks_client
            try:
                found = await asyncio.to_thread(client.get_signing_key_from_jwt, token)
            except jwt.PyJWKClientError as exc:
                raise refused(f"No signing key for this token: {exc}") from None
            return found.key
        if self._jwks is not None:
            kid = header.get("kid")
            for candidate in self._jwks.keys:
                if kid is None or candidate.key_id == kid:
                    return candidate.key
        raise refused("No signing key for this token")

    async def authenticate(self, connection: ASGIConnection[Any, Any, Any, Any]) -> Identity:
        token = credential(connection, api_key=False)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise refused("Malformed token") from None
        key = await self._key(token, header)
        settings = self._settings
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[header["alg"]],
                audience=settings.jwt_audience or None,
                issuer=settings.jwt_issuer or None,
                leeway=settings.jwt_leeway_seconds,
                options={"require": ["exp"], "verify_aud": bool(settings.jwt_audience)},
            )
        except jwt.ExpiredSignatureError:
            raise refused("Token expired") from None
        except jwt.InvalidTokenError as exc:
            raise refused(f"Invalid token: {exc}") from None
        user = claims.get(settings.jwt_user_claim)
        if not isinstance(user, str | int) or isinstance(user, bool) or str(user) == "":
            raise refused(f"Token has no {settings.jwt_user_claim!r} claim")
        return Identity(user_id=str(user), is_authenticated=True)
