"""Auth as public projects write it with scopes: `return scopes, user`."""

from __future__ import annotations

from typing import Any

from langgraph_sdk import Auth

auth = Auth()
TOKENS = {
    "token-alice": ("alice", ["threads:write", "threads:read"]),
    "token-viewer": ("viewer", ["threads:read"]),
}


@auth.authenticate
async def authenticate(authorization: str | None) -> tuple[list[str], dict[str, Any]]:
    token = (authorization or "").removeprefix("Bearer ")
    if token not in TOKENS:
        raise Auth.exceptions.HTTPException(status_code=401, detail="Invalid token")
    identity, scopes = TOKENS[token]
    return scopes, {"identity": identity, "display_name": identity.title(), "org": {"id": "acme"}}


@auth.on.threads.create
async def writers_only(ctx: Auth.types.AuthContext, value: dict[str, Any]) -> bool:
    if "threads:write" not in ctx.permissions:
        return False
    value["metadata"]["seen"] = {
        "identity": ctx.user.identity,
        "display_name": ctx.user.display_name,
        "is_authenticated": ctx.user.is_authenticated,
        "org": ctx.user.org.id,
        "org_by_key": ctx.user["org"]["id"],
        "permissions": list(ctx.permissions),
        "keys": sorted(ctx.user.keys()),
    }
    return True
