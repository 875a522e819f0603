"""Auth that lets everyone in as LangGraph's `StudioUser`."""

from __future__ import annotations

from typing import Any

from langgraph_sdk import Auth

auth = Auth()


@auth.authenticate
async def authenticate() -> Auth.types.StudioUser:
    return Auth.types.StudioUser("studio-dev")


@auth.on.threads.create
async def stamp(ctx: Auth.types.AuthContext, value: dict[str, Any]) -> None:
    value["metadata"]["seen"] = {
        "identity": ctx.user.identity,
        "display_name": ctx.user.display_name,
        "is_authenticated": ctx.user.is_authenticated,
        "permissions": list(ctx.permissions),
        "keys": sorted(ctx.user.keys()),
    }
