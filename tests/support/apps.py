"""The type of the `make_app` fixture, for the tests that build apps of their own."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol

import httpx
from dishka import Provider
from litestar import Litestar

from langstar.settings import Settings


class MakeApp(Protocol):
    def __call__(self, settings: Settings | None = None, /, *extra: Provider) -> Litestar:
        """An app on `settings` (the `settings` fixture's when None) with the providers of
        the `di_overrides` fixture, then `extra`, which override those in their turn."""
        ...


# `serving(settings, *overrides)`: a started app's client; `await startup_error(settings)`.
Serving = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
StartupError = Callable[[Settings], Awaitable[BaseException]]
