"""Auth that returns a user object of the project's own class, as BaseUser describes."""

from __future__ import annotations

from typing import Any

from langgraph_sdk import Auth

auth = Auth()


class TeamUser:
    def __init__(self, name: str, team: str) -> None:
        self.identity = name
        self.team = team
        self.permissions = ["threads:write"]

    @property
    def display_name(self) -> str:
        return f"{self.identity} ({self.team})"


@auth.authenticate
async def authenticate(authorization: str | None) -> TeamUser:
    if not authorization:
        raise Auth.exceptions.HTTPException(status_code=401, detail="No token")
    return TeamUser(authorization.removeprefix("Bearer "), team="blue")


@auth.on.threads.create
async def stamp(ctx: Auth.types.AuthContext, value: dict[str, Any]) -> None:
    value["metadata"]["seen"] = {
        "identity": ctx.user.identity,
        "display_name": ctx.user.display_name,
        "is_authenticated": ctx.user.is_authenticated,
        "team": ctx.user.team,
        "permissions": list(ctx.permissions),
        "keys": sorted(ctx.user.keys()),
    }
