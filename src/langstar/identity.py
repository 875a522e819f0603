"""Who is calling: every thread, run and memory a request creates belongs to them."""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

ANONYMOUS = "anonymous"
# The owner of every object when a project's own authorization handlers decide who sees
# what, as on LangGraph's server: objects are then not kept apart per user.
SHARED = "*"
# The root path of requests a graph makes to its own server, in-process (`get_client()`).
LOOPBACK_ROOT = "/noauth"


@dataclass(frozen=True, slots=True)
class Identity:
    """The caller, and whose threads, runs and assistants they may see."""

    user_id: str = ANONYMOUS
    is_authenticated: bool = False
    permissions: tuple[str, ...] = ()
    # The user as a project's langgraph_sdk.Auth returned them, for its handlers and graphs.
    user: Mapping[str, Any] = field(default_factory=dict)
    shared: bool = False

    @property
    def owner(self) -> str:
        """What the caller's threads, runs and assistants are kept under."""
        return SHARED if self.shared else self.user_id


# Whose run is executing here: the in-process requests its graph makes act for them.
ACTING_FOR: ContextVar[Identity | None] = ContextVar("langstar_acting_for", default=None)
