"""The README's examples run as written against `langstar serve`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

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
