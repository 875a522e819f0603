"""Authentication: API keys, JWTs (HMAC secret, JWKS file, JWKS URL), a custom provider, a
project's own `@auth.authenticate` and the parameters it may take, and a server that
refuses to start open on a database it was pointed at."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from langstar.auth.authenticators import AuthConfigError
from langstar.auth.keys import create_key, list_keys, revoke_key
from langstar.db.schema import SchemaNotAtHeadError
from langstar.settings import AuthSettings, Settings
from tests.support.apps import Serving, StartupError
from tests.support.auth import HeaderAuthProvider
from tests.support.server import ServerProcess
from tests.support.settings import settings_for

SECRET = "a-test-secret-that-is-long-enough-for-hs256"


def with_auth(settings: Settings, **auth: Any) -> Settings:
    return msgspec.structs.replace(settings, auth=AuthSettings(**auth))


def token(key: Any, algorithm: str, **claims: Any) -> str:
    claims = {"sub": "alice", "exp": int(time.time()) + 300, **claims}
    headers = {"kid": "k1"} if algorithm != "HS256" else None
    return jwt.encode(claims, key, algorithm=algorithm, headers=headers)


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


async def assert_refused(client: httpx.AsyncClient, headers: dict[str, str], why: str) -> None:
    response = await client.post("/threads", json={}, headers=headers)
    assert response.status_code == 401, response.text
    assert why in response.json()["detail"]
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_api_keys_authenticate_by_header_and_stop_at_revocation(
    settings: Settings, migrated_url: str, serving: Serving
) -> None:
    key_id, key = await create_key(migrated_url, "alice", "laptop")
    other_id, other = await create_key(migrated_url, "bob")
    listed = {k.key_id: k for k in await list_keys(migrated_url)}
    assert listed[key_id].user_id == "alice"
    assert listed[key_id].prefix == key[:10]
    assert key not in repr(listed[key_id])  # only a hash is kept
    async with serving(with_auth(settings, mode="api_key")) as client:
        await assert_refused(client, {}, "Missing credentials")
        await assert_refused(client, {"x-api-key": key + "x"}, "Invalid")
        made = await client.post("/threads", json={}, headers={"x-api-key": key})
        assert made.status_code == 200
        thread = made.json()["thread_id"]
        assert (await client.get(f"/threads/{thread}", headers=bearer(key))).status_code == 200
        # Bob's key works, but Alice's thread is not his to see.
        theirs = await client.get(f"/threads/{thread}", headers={"x-api-key": other})
        assert theirs.status_code == 404
        # Health checks and the API description need no key.
        for path in ("/ok", "/info", "/openapi.json", "/docs"):
            assert (await client.get(path)).status_code == 200, path
        assert await revoke_key(migrated_url, key_id)
        assert not await revoke_key(migrated_url, key_id)
        await assert_refused(client, {"x-api-key": key}, "revoked")
    assert await revoke_key(migrated_url, other_id)


async def test_hs256_tokens(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, serving: Serving
) -> None:
    monkeypatch.setenv("LANGSTAR_JWT_SECRET", SECRET)
    async with serving(with_auth(settings, mode="jwt", jwt_audience="langstar")) as client:
        good = token(SECRET, "HS256", aud="langstar")
        made = await client.post("/threads", json={}, headers=bearer(good))
        assert made.status_code == 200
        thread = made.json()["thread_id"]
        bob = token(SECRET, "HS256", aud="langstar", sub="bob")
        assert (await client.get(f"/threads/{thread}", headers=bearer(bob))).status_code == 404
        await assert_refused(client, {}, "Missing credentials")
        await assert_refused(client, {"x-api-key": good}, "Missing credentials")
        await assert_refused(client, bearer("not-a-token"), "Malformed")
        await assert_refused(
            client, bearer(token(SECRET, "HS256", aud="langstar", exp=1)), "expired"
        )
        await assert_refused(client, bearer(token("x" * 40, "HS256", aud="langstar")), "Invalid")
        await assert_refused(client, bearer(token(SECRET, "HS256", aud="other")), "Invalid")
        await assert_refused(client, bearer(token(SECRET, "HS256", aud="langstar", sub="")), "sub")
        no_expiry = jwt.encode({"sub": "alice", "aud": "langstar"}, SECRET, algorithm="HS256")
        await assert_refused(client, bearer(no_expiry), "exp")
        unsigned = jwt.encode({"sub": "alice", "exp": time.time() + 60}, None, algorithm="none")
        await assert_refused(client, bearer(unsigned), "not accepted")


def jwks(public_key: Any, algorithm: str) -> dict[str, Any]:
    family = jwt.algorithms.RSAAlgorithm if algorithm == "RS256" else jwt.algorithms.ECAlgorithm
    key = json.loads(family.to_jwk(public_key))
    return {"keys": [{**key, "kid": "k1", "alg": algorithm, "use": "sig"}]}


async def test_rs256_tokens_from_a_jwks_file(
    settings: Settings, tmp_path: Path, serving: Serving
) -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks(private.public_key(), "RS256")))
    async with serving(with_auth(settings, mode="jwt", jwt_jwks=str(path))) as client:
        good = await client.post("/threads", json={}, headers=bearer(token(private, "RS256")))
        assert good.status_code == 200
        stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        await assert_refused(client, bearer(token(stranger, "RS256")), "Invalid")
        # No HMAC secret is configured, so an HS256 token cannot be checked: refused.
        await assert_refused(client, bearer(token(SECRET, "HS256")), "HMAC")


@pytest.fixture
def jwks_server() -> Iterator[tuple[str, ec.EllipticCurvePrivateKey]]:
    private = ec.generate_private_key(ec.SECP256R1())
    body = json.dumps(jwks(private.public_key(), "ES256")).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json", private
    server.shutdown()


async def test_es256_tokens_from_a_jwks_url(
    settings: Settings, jwks_server: tuple[str, ec.EllipticCurvePrivateKey], serving: Serving
) -> None:
    url, private = jwks_server
    configured = with_auth(settings, mode="jwt", jwt_jwks=url, jwt_user_claim="email")
    async with serving(configured) as client:
        signed = token(private, "ES256", email="ada@example.com")
        made = await client.post("/threads", json={}, headers=bearer(signed))
        assert made.status_code == 200
        await assert_refused(client, bearer(token(private, "ES256")), "'email'")


async def test_a_custom_authenticator_is_a_dishka_provider(
    settings: Settings, serving: Serving
) -> None:
    async with serving(settings, HeaderAuthProvider()) as client:
        assert (await client.post("/threads", json={})).status_code == 401
        made = await client.post("/threads", json={}, headers={"x-user": "carol"})
        thread = made.json()["thread_id"]
        mine = await client.get(f"/threads/{thread}", headers={"x-user": "carol"})
        assert mine.status_code == 200
        theirs = await client.get(f"/threads/{thread}", headers={"x-user": "dave"})
        assert theirs.status_code == 404


async def test_custom_mode_loads_the_named_provider(settings: Settings, serving: Serving) -> None:
    spec = "tests.support.auth:HeaderAuthProvider"
    async with serving(with_auth(settings, mode="custom", provider=spec)) as client:
        assert (await client.post("/threads", json={})).status_code == 401
        made = await client.post("/threads", json={}, headers={"x-user": "erin"})
        assert made.status_code == 200


async def test_an_open_server_on_a_named_database_must_be_chosen(
    settings: Settings, startup_error: StartupError
) -> None:
    error = await startup_error(with_auth(settings))
    assert isinstance(error, AuthConfigError)
    assert "LANGSTAR_AUTH__MODE=none" in str(error)


async def test_the_schema_check_comes_before_the_auth_check(
    empty_database: str, tmp_path: Path, startup_error: StartupError
) -> None:
    error = await startup_error(with_auth(settings_for(empty_database, tmp_path)))
    assert isinstance(error, SchemaNotAtHeadError)


async def test_jwt_mode_without_keys_refuses_to_start(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, startup_error: StartupError
) -> None:
    monkeypatch.delenv("LANGSTAR_JWT_SECRET", raising=False)
    error = await startup_error(with_auth(settings, mode="jwt"))
    assert isinstance(error, AuthConfigError)
    monkeypatch.setenv("LANGSTAR_JWT_SECRET", "short")
    error = await startup_error(with_auth(settings, mode="jwt"))
    assert isinstance(error, AuthConfigError)
    assert "32 bytes" in str(error)


def test_langstar_serve_takes_the_hs256_secret_from_langstar_jwt_secret(
    migrated_url: str, tmp_path: Path
) -> None:
    """As the README says: LANGSTAR_AUTH__MODE=jwt and the secret in $LANGSTAR_JWT_SECRET."""
    env = {
        "DATABASE_URL": migrated_url,
        "LANGSTAR_AUTH__MODE": "jwt",
        "LANGSTAR_JWT_SECRET": SECRET,
    }
    server = ServerProcess(env, tmp_path).start()
    try:
        good = httpx.post(
            server.url + "/threads", json={}, headers=bearer(token(SECRET, "HS256")), timeout=10
        )
        missing = httpx.post(server.url + "/threads", json={}, timeout=10)
    finally:
        server.stop()
    assert good.status_code == 200, good.text
    assert missing.status_code == 401


def project_auth(settings: Settings, folder: Path, authenticate: str) -> Settings:
    """Settings serving a project whose auth module defines `authenticate` as given."""
    module = folder / "project_auth.py"
    module.write_text(
        "from langgraph_sdk import Auth\n\nauth = Auth()\n\n\n@auth.authenticate\n" + authenticate
    )
    return with_auth(settings, mode="project", project_auth=f"{module}:auth")


async def test_a_project_authenticate_handler_may_take_the_scope_and_optional_extras(
    settings: Settings, tmp_path: Path, serving: Serving
) -> None:
    takes_scope = (
        "async def authenticate(scope, authorization, hint=None):\n"
        "    assert hint is None\n"
        "    return authorization.removeprefix('Bearer ') + '@' + scope['type']\n"
    )
    async with serving(project_auth(settings, tmp_path, takes_scope)) as client:
        made = await client.post("/threads", json={}, headers=bearer("zoe"))
        assert made.status_code == 200, made.text


async def test_a_project_authenticate_handler_asking_for_what_is_not_offered_stops_start_up(
    settings: Settings, tmp_path: Path, startup_error: StartupError
) -> None:
    wants_token = "async def authenticate(token):\n    return token\n"
    error = await startup_error(project_auth(settings, tmp_path, wants_token))
    assert isinstance(error, AuthConfigError)
    assert "'token'" in str(error)
