"""Auth that answers with the user's id alone, read from the raw headers."""

from __future__ import annotations

from typing import Any

from langgraph_sdk import Auth

auth = Auth()


@auth.authenticate
async def authenticate(headers: dict[bytes, bytes]) -> str:
    user = headers.get(b"x-user")
    if not user:
        raise Auth.exceptions.HTTPException(status_code=401, detail="Who are you?")
    return user.decode()


@auth.on.threads.create
async def stamp(ctx: Auth.types.AuthContext, value: dict[str, Any]) -> None:
    value["metadata"]["seen"] = {
        "identity": ctx.user.identity,
        "display_name": ctx.user.display_name,
        "is_authenticated": ctx.user.is_authenticated,
        "permissions": list(ctx.permissions),
        "keys": sorted(ctx.user.keys()),
    }
