"""The per-request protocol service."""

from __future__ import annotations

from dishka import Provider, Scope, provide

from langstar.protocol.service import ProtocolService


class ProtocolProvider(Provider):
    """The thread protocol's service, per request."""

    service = provide(ProtocolService, scope=Scope.REQUEST)
