"""Auth that takes the SDK's `x-api-key` header or a bearer token, scoped by which it was."""

from __future__ import annotations

from typing import Any

from langgraph_sdk import Auth

auth = Auth()
KEYS = {"key-alice": "alice", "token-bob": "bob"}


@auth.authenticate
async def authenticate(
    authorization: str | None, headers: dict[bytes, bytes]
) -> tuple[list[str], dict[str, Any]]:
    api_key = headers.get(b"x-api-key", b"").decode()
    token = (authorization or "").removeprefix("Bearer ")
    user = KEYS.get(api_key) or KEYS.get(token)
    if user is None:
        raise Auth.exceptions.HTTPException(status_code=401, detail="Unknown key")
    via = "key" if api_key else "token"
    return [f"via:{via}"], {"identity": user, "via": via}


@auth.on.threads.create
async def stamp(ctx: Auth.types.AuthContext, value: dict[str, Any]) -> None:
    value["metadata"]["seen"] = {
        "identity": ctx.user.identity,
        "via": ctx.user.via,
        "permissions": list(ctx.permissions),
    }
