"""Auth that returns LangGraph's `MinimalUserDict`, with a field of its own."""

from __future__ import annotations

from typing import Any

from langgraph_sdk import Auth

auth = Auth()


@auth.authenticate
async def authenticate(authorization: str | None) -> Auth.types.MinimalUserDict:
    if authorization != "Bearer secret":
        raise Auth.exceptions.HTTPException(status_code=401, detail="Bad token")
    user: dict[str, Any] = {
        "identity": "user-1",
        "display_name": "Ada",
        "is_authenticated": True,
        "permissions": ["threads:write"],
        "email": "ada@example.com",
        "org": {"name": "Analytical Engines"},
    }
    return Auth.types.MinimalUserDict(**user)  # type: ignore[typeddict-item]


@auth.on
async def stamp_and_own(ctx: Auth.types.AuthContext, value: Any) -> dict[str, str]:
    if ctx.resource == "threads" and ctx.action == "create":
        value["metadata"]["seen"] = {
            "identity": ctx.user.identity,
            "email": ctx.user.email,
            "email_by_key": ctx.user["email"],
            "org": ctx.user.org.name,
            "user_permissions": ctx.user["permissions"],
            "permissions": list(ctx.permissions),
            "keys": sorted(ctx.user.keys()),
        }
        value["metadata"]["owner"] = ctx.user.identity
    return {"owner": ctx.user.identity}
