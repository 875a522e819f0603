"""A clock tests move by hand, swapped in for the system clock."""

from __future__ import annotations

from datetime import datetime, timedelta

from dishka import Provider, Scope, provide

from langstar.clock import Clock


class FakeClock:
    """Stands still until a test moves it."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> datetime:
        self.current += timedelta(**delta)
        return self.current


class FakeClockProvider(Provider):
    """Every app built with it reads `clock`: replicas in one test share one time."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self._clock = clock

    @provide(scope=Scope.APP, override=True)
    def provide_clock(self) -> Clock:
        return self._clock
