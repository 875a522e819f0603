"""The per-request A2A service."""

from __future__ import annotations

from dishka import Provider, Scope, provide

from langstar.a2a.service import A2AService
from langstar.assistants.service import AssistantService
from langstar.auth.authenticators import effective_mode
from langstar.runs.service import RunService
from langstar.settings import Settings
from langstar.threads.service import ThreadService


class A2AProvider(Provider):
    """The A2A endpoint's service, per request, for the caller."""

    @provide(scope=Scope.REQUEST)
    def provide_a2a_service(
        self,
        assistants: AssistantService,
        runs: RunService,
        threads: ThreadService,
        settings: Settings,
    ) -> A2AService:
        return A2AService(assistants, runs, threads, auth_mode=effective_mode(settings))
