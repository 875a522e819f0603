"""The Python programs of the README and of docs/ run as written against a real
`langstar serve`: on the embedded database as a reader first starts it, or serving the
project a page builds from its file blocks (the tutorial's `langgraph.json`)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.server import ServerProcess
from tests.support.snippets import ROOT, Snippet, all_snippets, is_program

SNIPPETS = all_snippets()
PROJECT_PAGES = {s.page for s in SNIPPETS if s.value.endswith("langgraph.json")}
PROGRAMS = [s for s in SNIPPETS if is_program(s) and s.page not in PROJECT_PAGES]
PROJECT_PROGRAMS = [s for s in SNIPPETS if is_program(s) and s.page in PROJECT_PAGES]
# What some programs print, by page and the program's place among the page's programs.
PRINTS = {
    ("README.md", 0): ["Noted. You said: My name is Ada."],
    ("docs/quickstart.md", 0): ["Noted. You said: My name is Ada."],
    ("docs/quickstart.md", 1): [
        "Noted. You said: My name is Ada.",
        "paused before: ['respond']",
        "You told me: My name is Ada.",
        "streamed: You told me: My name is Ada.",
    ],
    ("docs/how-to/mcp-a2a.md", 0): ["['agent']", "Noted. You said: My name is Ada."],
    ("docs/tutorial.md", 0): ["Hello, Ada.", "bob gets 404"],
}


def run(program: Snippet, url: str) -> list[str]:
    code = program.code.replace("http://127.0.0.1:8123", url)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"{program.where}:\n{result.stderr}"
    return result.stdout.splitlines()


def place(program: Snippet) -> tuple[str, int]:
    same_page = [s for s in SNIPPETS if is_program(s) and s.page == program.page]
    return program.page, same_page.index(program)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """`uv run langstar serve` as the quick start runs it: the embedded database, fresh."""
    folder = tmp_path_factory.mktemp("serve")
    env = {"LANGSTAR_DATA_DIR": str(folder / "data"), "DATABASE_URL": ""}
    server = ServerProcess(env, folder).start()
    yield server
    server.stop()


@pytest.mark.parametrize("program", PROGRAMS, ids=[s.where for s in PROGRAMS])
def test_each_program_runs_against_langstar_serve(program: Snippet, server: ServerProcess) -> None:
    printed = run(program, server.url)
    assert printed == PRINTS.get(place(program), printed)
    assert printed, f"{program.where} printed nothing"


SHELL = [s for s in SNIPPETS if s.kind == "run" and s.value == "shell"]


@pytest.mark.parametrize("block", SHELL, ids=[s.where for s in SHELL])
def test_each_shell_block_marked_to_run_runs_against_langstar_serve(
    block: Snippet, server: ServerProcess
) -> None:
    code = block.code.replace("localhost:8123", f"127.0.0.1:{server.port}")
    result = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"{block.where}:\n{result.stderr}"
    assert result.stdout.count("Noted. You said: My name is Ada.") == 2, result.stdout


def write_files(page: str, folder: Path) -> None:
    for snippet in SNIPPETS:
        if snippet.page == page and snippet.kind == "file":
            path = folder / snippet.value
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(snippet.code)


@pytest.mark.parametrize("program", PROJECT_PROGRAMS, ids=[s.where for s in PROJECT_PROGRAMS])
def test_a_pages_project_serves_and_its_programs_run(
    program: Snippet, tmp_path: Path, migrated_url: str
) -> None:
    write_files(program.page, tmp_path)
    project = next(
        s.value for s in SNIPPETS if s.page == program.page and s.value.endswith("langgraph.json")
    )
    env = {"DATABASE_URL": migrated_url, "LANGSTAR_AUTH__MODE": ""}
    server = ServerProcess(env, tmp_path, "--langgraph-json", str(tmp_path / project)).start()
    try:
        printed = run(program, server.url)
    finally:
        server.stop()
    assert printed == PRINTS.get(place(program), printed)


def test_the_provider_swap_example_runs_as_a_pytest_file(tmp_path: Path) -> None:
    (example,) = [s for s in SNIPPETS if s.kind == "run" and s.value == "pytest"]
    (tmp_path / "test_agent.py").write_text(example.code)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "test_agent.py", "-q", "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={**os.environ, "DATABASE_URL": ""},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_the_custom_authenticator_example_serves(tmp_path: Path, migrated_url: str) -> None:
    (example,) = [s for s in SNIPPETS if s.value == "myauth.py"]
    (tmp_path / "myauth.py").write_text(example.code)
    env = {"DATABASE_URL": migrated_url, "LANGSTAR_AUTH__MODE": "custom",
           "LANGSTAR_AUTH__PROVIDER": "myauth:ProxyAuth", "PYTHONPATH": str(tmp_path)}  # fmt: skip
    server = ServerProcess(env, tmp_path).start()
    try:
        refused = httpx.post(server.url + "/threads", json={}, timeout=10)
        made = httpx.post(
            server.url + "/threads", json={}, headers={"x-forwarded-user": "ada"}, timeout=10
        )
    finally:
        server.stop()
    assert refused.status_code == 401
    assert made.status_code == 200, made.text


def test_every_python_block_is_run_by_one_of_these_tests() -> None:
    python = [s for s in SNIPPETS if s.lang == "python" and s.kind != "not-run"]
    ran = {*PROGRAMS, *PROJECT_PROGRAMS}
    ran |= {s for s in python if s.value in {"pytest", "myauth.py"}}
    ran |= {s for s in python if s.kind == "file" and s.page in PROJECT_PAGES}
    assert [s.where for s in python if s not in ran] == []
    assert ROOT.is_dir()
