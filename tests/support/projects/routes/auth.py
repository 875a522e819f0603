"""A project's own auth, as the LangGraph templates write it: tokens, then owners."""

from __future__ import annotations

from typing import Any

from langgraph_sdk import Auth

auth = Auth()
USERS = {"token-alice": "alice", "token-bob": "bob"}


@auth.authenticate
async def authenticate(authorization: str | None) -> Auth.types.MinimalUserDict:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or token not in USERS:
        raise Auth.exceptions.HTTPException(status_code=401, detail="Invalid or missing token")
    return {"identity": USERS[token], "permissions": ["write"]}


@auth.on
async def owner_only(ctx: Auth.types.AuthContext, value: Any) -> Auth.types.FilterType:
    """Everything a user makes is stamped with them; they see only what is stamped so."""
    if isinstance(value, dict):
        metadata = value.setdefault("metadata", {})
        if isinstance(metadata, dict):
            metadata["owner"] = ctx.user.identity
    return {"owner": ctx.user.identity}


@auth.on.store
async def own_namespace(ctx: Auth.types.AuthContext, value: Any) -> None:
    """Each user's memories live under their own first namespace label."""
    value["namespace"] = (ctx.user.identity, *(value.get("namespace") or ()))
