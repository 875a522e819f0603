"""The project's own long-term store, yielded by an async context manager."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from langgraph.store.memory import InMemoryStore


@asynccontextmanager
async def store() -> AsyncIterator[InMemoryStore]:
    yield InMemoryStore()
