"""The README's examples run as written against `langstar serve`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.server import ServerProcess

ROOT = Path(__file__).resolve().parents[2]


def run_example(section: str, tmp_path: Path) -> list[str]:
    """What the first Python example under the README's `section` prints, run against a
    fresh `langstar serve` on the embedded database."""
    readme = (ROOT / "README.md").read_text()
    example = re.search(r"```python\n(.*?)```", readme[readme.index(section) :], re.S)
    assert example is not None
    server = ServerProcess(
        {"LANGSTAR_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": ""}, tmp_path
    ).start()
    try:
        code = example[1].replace("http://127.0.0.1:8123", server.url)
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
        )
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_the_sdk_example_in_the_readme_runs(tmp_path: Path) -> None:
    assert run_example("## The API", tmp_path) == [
        "Noted. You said: My name is Ada.",
        "paused before: ['respond']",
        "You told me: My name is Ada.",
        "streamed: You told me: My name is Ada.",
    ]


def test_the_mcp_example_in_the_readme_runs(tmp_path: Path) -> None:
    assert run_example("## MCP", tmp_path) == ["['agent']", "Noted. You said: My name is Ada."]


def test_the_provider_swap_example_in_the_readme_runs(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### Swapping a provider in your own tests") :]
    example = re.search(r"```python\n(.*?)```", section, re.S)
    assert example is not None
    (tmp_path / "test_agent.py").write_text(example[1])
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


def test_the_custom_authenticator_example_in_the_readme_runs(
    tmp_path: Path, migrated_url: str
) -> None:
    readme = (ROOT / "README.md").read_text()
    custom = readme[readme.index("- **`custom`.**") :]
    example = re.search(r"```python\n(.*?)```", custom, re.S)
    assert example is not None
    code = "\n".join(line.removeprefix("  ") for line in example[1].splitlines())
    (tmp_path / "myauth.py").write_text(code)
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


def test_the_first_sdk_snippet_in_the_readme_runs(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    example = re.search(r"```python\n(.*?)```", readme, re.S)  # the first one: top-level await
    assert example is not None
    server = ServerProcess(
        {"LANGSTAR_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": ""}, tmp_path
    ).start()
    try:
        code = example[1].replace("http://127.0.0.1:8123", server.url)
        # As in an asyncio REPL (`python -m asyncio`), where top-level await works.
        result = subprocess.run(
            [sys.executable, "-m", "asyncio"], input=code, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip
    finally:
        server.stop()
    assert "Noted. You said: My name is Ada." in result.stdout + result.stderr, result.stderr
