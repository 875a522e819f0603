"""The MCP service of a request, over its assistant and run services."""

from __future__ import annotations

from dishka import Provider, Scope, provide

from langstar.assistants.service import AssistantService
from langstar.mcp.service import McpService
from langstar.runs.service import RunService


class McpProvider(Provider):
    """The per-request MCP service: the caller's assistants as tools."""

    @provide(scope=Scope.REQUEST)
    def provide_mcp_service(self, assistants: AssistantService, runs: RunService) -> McpService:
        return McpService(assistants, runs)
