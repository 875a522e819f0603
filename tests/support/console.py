"""A langstar process serving the test graphs, and a Chromium page on its console."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, ToolMessage
from langgraph.graph import END, START, MessagesState, StateGraph
from playwright.sync_api import Browser, sync_playwright

from tests.support.browser import CHROMIUM_ARGS, chromium_path
from tests.support.graphs import TEST_GRAPHS
from tests.support.server import ServerProcess

REPO = Path(__file__).resolve().parents[2]


def console_env(database_url: str, **extra: str) -> dict[str, str]:
    """The test graphs by name, the offline model slowed so its tokens arrive one by one."""
    env = {
        "DATABASE_URL": database_url,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        "LANGSTAR_MODEL__OFFLINE_TOKEN_DELAY_SECONDS": "0.15",
        "LANGSTAR_LOG_LEVEL": "warning",
    }
    graphs = {**TEST_GRAPHS, "tools": "tests.support.console:tools"}
    env.update({f"LANGSTAR_GRAPHS__{name.upper()}": spec for name, spec in graphs.items()})
    env.update(extra)
    return env


def _look_up(state: MessagesState) -> dict[str, Any]:
    asked = state["messages"][-1].text
    call = {"name": "look_up", "args": {"query": asked}, "id": "call-1", "type": "tool_call"}
    return {
        "messages": [
            AIMessage("", tool_calls=[call]),
            ToolMessage(f"found 3 pages on {asked}", tool_call_id="call-1", name="look_up"),
            AIMessage(f"Here is what I found on {asked}."),
        ]
    }


# A graph that calls a tool, so the console has a call and its result to show.
tools = StateGraph(MessagesState)
tools.add_node("look_up", _look_up)
tools.add_edge(START, "look_up")
tools.add_edge("look_up", END)


@contextmanager
def console_server(env: Mapping[str, str], cwd: Path) -> Iterator[ServerProcess]:
    server = ServerProcess(env, cwd).start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
