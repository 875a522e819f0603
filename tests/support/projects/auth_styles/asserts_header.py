"""Auth that asserts, as LangGraph's own tutorial does: a header is there, a thread is named."""

from __future__ import annotations

from typing import Any

from langgraph_sdk import Auth

auth = Auth()


@auth.authenticate
async def authenticate(authorization: str | None) -> str:
    assert authorization
    return authorization.removeprefix("Bearer ")


@auth.on.threads.create
async def named_threads_only(ctx: Auth.types.AuthContext, value: dict[str, Any]) -> None:
    assert value["metadata"].get("title"), "a thread needs a title"
