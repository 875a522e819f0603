"""`langstar serve` that cannot serve a project says why in a line or two, once, and fast."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.server import free_port

GRAPH = """\
from langgraph.graph import END, START, MessagesState, StateGraph

builder = StateGraph(MessagesState)
builder.add_node("echo", lambda state: {"messages": []})
builder.add_edge(START, "echo")
builder.add_edge("echo", END)
graph = builder.compile()
"""
BROKEN = "from langgraph.graph import StateGraph\n\ndef make(:\n    pass\n"


@dataclass(frozen=True)
class Refused:
    code: int
    output: str
    seconds: float

    @property
    def lines(self) -> list[str]:
        return self.output.splitlines()


def serve(cwd: Path, *args: str, port: int | None = None, **env: str) -> Refused:
    """`langstar serve` in `cwd`, which must stop by itself."""
    given = {k: v for k, v in os.environ.items() if not k.startswith(("LANGSTAR_", "OPENAI_"))}
    given.pop("DATABASE_URL", None)
    given.update({"LANGSTAR_AUTH__MODE": "none", "LANGSTAR_SERVER__WORKERS": "1", **env})
    command = [sys.executable, "-m", "langstar", "serve", "--port", str(port or free_port())]
    started = time.monotonic()
    done = subprocess.run(
        [*command, *args],
        env=given,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=120,
    )
    return Refused(done.returncode, done.stdout, time.monotonic() - started)


def assert_refused(refused: Refused, *named: str, code: int = 2, within: float = 10) -> None:
    assert refused.code == code, refused.output
    for text in named:
        assert text in refused.output, refused.output
    assert "langstar API" not in refused.output  # no banner for a server that never served
    assert "Traceback" not in refused.output
    assert len(refused.lines) <= 3, refused.output
    assert refused.seconds < within, refused.output


def project(folder: Path, graphs: dict[str, str], **keys: object) -> Path:
    (folder / "graph.py").write_text(GRAPH)
    path = folder / "langgraph.json"
    path.write_text(json.dumps({"graphs": graphs, **keys}))
    return path


def test_a_typo_in_a_langgraph_json_graph_path_names_the_graph_and_the_missing_file(
    tmp_path: Path,
) -> None:
    project(tmp_path, {"g": "./grpah.py:graph"})
    refused = serve(tmp_path, "--langgraph-json", "langgraph.json")
    assert_refused(
        refused, "graph 'g'", "graphs.g", str(tmp_path / "grpah.py"), "did you mean graph.py?"
    )


def test_a_syntax_error_in_a_graph_file_names_the_setting_and_its_file_and_line(
    tmp_path: Path,
) -> None:
    (tmp_path / "echo.py").write_text(BROKEN)
    refused = serve(tmp_path, LANGSTAR_GRAPHS__ECHO="./echo.py:make")
    assert_refused(
        refused, "graph 'echo'", "LANGSTAR_GRAPHS__ECHO", f"{tmp_path / 'echo.py'}:3", "SyntaxError"
    )


def test_a_graph_file_without_the_attribute_named_says_which(tmp_path: Path) -> None:
    project(tmp_path, {"g": "./graph.py:grph"})
    refused = serve(tmp_path, "--langgraph-json", "langgraph.json")
    assert_refused(refused, "graph 'g'", "./graph.py", "no attribute 'grph'")


def test_the_openai_provider_without_its_key_names_the_variable(tmp_path: Path) -> None:
    refused = serve(tmp_path, LANGSTAR_MODEL__PROVIDER="openai")
    assert_refused(refused, "model.api_key_env", "OPENAI_API_KEY")


def test_a_bad_auth_path_in_langgraph_json_names_the_key_and_the_file(tmp_path: Path) -> None:
    project(tmp_path, {"g": "./graph.py:graph"}, auth={"path": "./auth.py:auth"})
    refused = serve(tmp_path, "--langgraph-json", "langgraph.json", LANGSTAR_AUTH__MODE="")
    assert_refused(refused, "auth.path", str(tmp_path / "auth.py"))


def test_a_bad_custom_app_path_names_the_setting_and_the_file(tmp_path: Path) -> None:
    refused = serve(tmp_path, LANGSTAR_HTTP__APP="./webapp.py:app")
    assert_refused(refused, "http.app", "LANGSTAR_HTTP__APP", str(tmp_path / "webapp.py"))


def test_a_port_already_in_use_names_the_port_and_how_to_change_it(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        refused = serve(tmp_path, port=port)
    assert_refused(refused, f"port {port}", "in use", "--port", "LANGSTAR_SERVER__PORT")


def test_two_workers_say_a_graph_failed_once(tmp_path: Path) -> None:
    project(tmp_path, {"g": "./grpah.py:graph"})
    refused = serve(tmp_path, "--langgraph-json", "langgraph.json", "--workers", "2")
    assert_refused(refused, "graph 'g'")
    assert refused.output.count("grpah.py") == 1, refused.output


def test_a_graph_factory_that_raises_in_two_workers_is_said_once_naming_the_graph(
    tmp_path: Path, migrated_url: str
) -> None:
    (tmp_path / "made.py").write_text('def graph(config):\n    raise RuntimeError("no key")\n')
    refused = serve(
        tmp_path,
        "--workers",
        "2",
        "--log-level",
        "warning",
        DATABASE_URL=migrated_url,
        LANGSTAR_GRAPHS__MADE="./made.py:graph",
    )
    # Each worker imports the whole server before it builds the graph: allow for that.
    where = f"{tmp_path / 'made.py'}:2"
    assert_refused(refused, "graph 'made'", where, "RuntimeError: no key", code=3, within=30)
    assert refused.output.count("no key") == 1, refused.output
