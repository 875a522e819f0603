"""Tokens naming a user and their tenant, as a multi-tenant project's auth returns them."""

from __future__ import annotations

from langgraph_sdk import Auth

auth = Auth()
USERS = {
    "token-alice": {"identity": "alice", "tenant": "acme"},
    "token-bob": {"identity": "bob", "tenant": "globex"},
}


@auth.authenticate
async def authenticate(authorization: str | None) -> Auth.types.MinimalUserDict:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or token not in USERS:
        raise Auth.exceptions.HTTPException(status_code=401, detail="Invalid or missing token")
    return USERS[token]  # type: ignore[return-value]
