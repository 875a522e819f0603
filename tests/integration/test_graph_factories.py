"""A graph factory that takes a config is called for each run with that run's config."""

from __future__ import annotations

from typing import Any

import msgspec

from langstar.settings import Settings
from tests.support import graphs
from tests.support.apps import MakeApp
from tests.support.asgi import asgi_client

FACTORIES = {"per_run": "tests.support.graphs:per_run", "managed": "tests.support.graphs:managed"}


def ask(assistant: str, user: str) -> dict[str, Any]:
    return {
        "assistant_id": assistant,
        "input": {"messages": [{"role": "user", "content": "who are you for?"}]},
        "config": {"configurable": {"user_id": user}},
    }


async def test_a_factory_builds_each_runs_graph_from_its_config(
    settings: Settings, make_app: MakeApp
) -> None:
    app = make_app(msgspec.structs.replace(settings, graphs=FACTORIES))
    async with asgi_client(app) as client:
        for user in ("ada", "bob"):
            answer = await client.post("/runs/wait", json=ask("per_run", user))
            assert answer.status_code == 200, answer.text
            assert answer.json()["messages"][-1]["content"] == f"built for {user}"


async def test_a_context_manager_factory_is_entered_for_a_run_and_exited_after(
    settings: Settings, make_app: MakeApp
) -> None:
    app = make_app(msgspec.structs.replace(settings, graphs=FACTORIES))
    async with asgi_client(app) as client:
        before = dict(graphs.OPENED)
        answer = await client.post("/runs/wait", json=ask("managed", "cy"))
        assert answer.json()["messages"][-1]["content"] == "built for cy"
        assert graphs.OPENED["entered"] == before["entered"] + 1
        assert graphs.OPENED["exited"] == before["exited"] + 1
