"""A project's own authentication: a bearer token names the user."""

from __future__ import annotations

from langgraph_sdk import Auth

auth = Auth()
TOKENS = {"token-alice": "alice"}


@auth.authenticate
async def authenticate(authorization: str | None) -> Auth.types.MinimalUserDict:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or token not in TOKENS:
        raise Auth.exceptions.HTTPException(status_code=401, detail="Invalid or missing token")
    return {"identity": TOKENS[token]}
