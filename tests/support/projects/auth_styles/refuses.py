"""Auth that refuses with LangGraph's own HTTPException (401 with a challenge, 403, 429), or
answers with what is not a user, or fails to parse a token."""

from __future__ import annotations

from typing import Any

from langgraph_sdk import Auth

auth = Auth()


@auth.authenticate
async def authenticate(authorization: str | None) -> Any:
    token = (authorization or "").removeprefix("Bearer ")
    if token == "banned":
        raise Auth.exceptions.HTTPException(status_code=403, detail="You are banned")
    if token == "hasty":
        raise Auth.exceptions.HTTPException(
            status_code=429, detail="Slow down", headers={"Retry-After": "3"}
        )
    if token == "nameless":
        return {"name": "no identity here"}
    if token == "triple":
        return ["reader"], "someone", "extra"
    if token == "garbled":
        raise ValueError("token is not valid base64")
    if token != "good":
        raise Auth.exceptions.HTTPException(
            status_code=401,
            detail="Token expired",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    return "good-user"
