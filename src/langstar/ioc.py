"""The composition root: the one place that lists every provider."""

from __future__ import annotations

from dishka import Provider, Scope, from_context
from dishka.integrations.litestar import LitestarProvider

from langstar.a2a.providers import A2AProvider
from langstar.assistants.providers import AssistantsProvider
from langstar.auth.providers import AuthProvider
from langstar.crons.providers import CronsProvider
from langstar.db.providers import DatabaseProvider
from langstar.graphs.providers import GraphProvider
from langstar.mcp.providers import McpProvider
from langstar.models.providers import ModelProvider
from langstar.protocol.providers import ProtocolProvider
from langstar.runs.providers import RunsProvider
from langstar.settings import Settings
from langstar.store.providers import StoreProvider
from langstar.threads.providers import ThreadsProvider
from langstar.webhooks.providers import WebhooksProvider


class SettingsProvider(Provider):
    """The settings `create_app` was given, to every provider that asks for them."""

    settings = from_context(provides=Settings, scope=Scope.APP)


def get_providers() -> list[Provider]:
    """Every provider of the server, in one list; tests append overrides to it."""
    return [
        SettingsProvider(),
        LitestarProvider(),
        DatabaseProvider(),
        AuthProvider(),
        ModelProvider(),
        GraphProvider(),
        AssistantsProvider(),
        ThreadsProvider(),
        RunsProvider(),
        ProtocolProvider(),
        StoreProvider(),
        CronsProvider(),
        WebhooksProvider(),
        A2AProvider(),
        McpProvider(),
    ]
