"""The project's own checkpointer, written as LangGraph's docs and the deepagents CLI write
one: an async context manager the server enters once and leaves at shutdown."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from langgraph.checkpoint.memory import InMemorySaver


@asynccontextmanager
async def saver() -> AsyncIterator[InMemorySaver]:
    yield InMemorySaver()
