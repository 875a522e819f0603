"""A project's own auth, as the LangGraph templates write it: a bearer token names the user."""

from __future__ import annotations

from langgraph_sdk import Auth

auth = Auth()
USERS = {"token-alice": "alice", "token-bob": "bob"}


@auth.authenticate
async def authenticate(authorization: str | None) -> Auth.types.MinimalUserDict:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or token not in USERS:
        raise Auth.exceptions.HTTPException(status_code=401, detail="Invalid or missing token")
    return {"identity": USERS[token], "permissions": ["write"]}
