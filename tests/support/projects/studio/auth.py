"""A project's own auth as public projects write it: a bearer token or nothing, owners
stamped on what users make, and LangGraph Studio's user let through without one."""

from __future__ import annotations

from typing import Any

from langgraph_sdk import Auth

auth = Auth()
USERS = {"token-alice": "alice"}


@auth.authenticate
async def authenticate(authorization: str | None) -> Auth.types.MinimalUserDict:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or token not in USERS:
        raise Auth.exceptions.HTTPException(status_code=401, detail="Invalid or missing token")
    return {"identity": USERS[token]}


@auth.on
async def owner_or_studio(ctx: Auth.types.AuthContext, value: Any) -> Auth.types.FilterType | None:
    if isinstance(ctx.user, Auth.types.StudioUser):
        # A developer in Studio sees everything; what they make says so.
        if ctx.resource == "threads" and ctx.action == "create":
            value["metadata"]["made_in"] = f"studio, as {ctx.user.identity}"
        return None
    if isinstance(value, dict) and isinstance(value.get("metadata"), dict):
        value["metadata"]["owner"] = ctx.user.identity
    return {"owner": ctx.user.identity}


@auth.on.store
async def own_namespace(ctx: Auth.types.AuthContext, value: Any) -> None:
    if not isinstance(ctx.user, Auth.types.StudioUser):
        value["namespace"] = (ctx.user.identity, *(value.get("namespace") or ()))
