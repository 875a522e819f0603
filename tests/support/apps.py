"""The type of the `make_app` fixture, for the tests that build apps of their own."""

from __future__ import annotations

from typing import Protocol

from dishka import Provider
from litestar import Litestar

from langstar.settings import Settings


class MakeApp(Protocol):
    def __call__(self, settings: Settings | None = None, /, *extra: Provider) -> Litestar:
        """An app on `settings` (the `settings` fixture's when None) with the providers of
        the `di_overrides` fixture, then `extra`, which override those in their turn."""
        ...
