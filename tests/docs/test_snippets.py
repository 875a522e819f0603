"""Every fenced block of the README and of docs/ is checked as its language says
(tests/support/snippets.py): none is passed over without a marker saying why."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.snippets import (
    Snippet,
    all_snippets,
    check,
    check_assignments,
    shell_commands,
    snippets,
)

SNIPPETS = all_snippets()


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[s.where for s in SNIPPETS])
def test_each_block_is_what_its_language_says(snippet: Snippet, tmp_path: Path) -> None:
    assert check(snippet, tmp_path)


@pytest.mark.parametrize("page", sorted({s.page for s in SNIPPETS}))
def test_every_langstar_assignment_on_a_page_names_a_setting(page: str) -> None:
    text = (Path(__file__).resolve().parents[2] / page).read_text()
    assert check_assignments(text) == []


def test_a_planted_broken_snippet_fails(tmp_path: Path) -> None:
    page = tmp_path / "planted.md"
    page.write_text(
        "```python\nfrom langgraph_sdk import get_client\n"
        "await get_client().threads.create()\n```\n"
        "```bash\nuv run langstar serve --port\n```\n"
        "```bash\nLANGSTAR_SERVER__PROT=1 uv run langstar serve\n```\n"
        "```toml\n[server]\nprot = 1\n```\n"
        '<!-- file: my/langgraph.json -->\n```json\n{"graphs": {}, "auth": {"path": 1}}\n```\n'
        "```\nno language\n```\n"
        "```bash\nmake docs\n```\n"
    )
    failures = []
    for snippet in snippets(page):
        with pytest.raises(Exception) as caught:  # noqa: PT011  # each its own error
            check(snippet, tmp_path)
        failures.append(type(caught.value).__name__)
    assert len(failures) == 7, failures


def test_the_pages_hold_each_kind_of_block_the_checker_knows() -> None:
    kinds = {(s.lang, s.kind) for s in SNIPPETS}
    assert {("python", ""), ("python", "file"), ("python", "run"), ("json", "file")} <= kinds
    assert {("bash", ""), ("bash", "run"), ("toml", ""), ("yaml", ""), ("text", "")} <= kinds


def test_every_langstar_command_the_pages_show_answers_its_help() -> None:
    commands = {
        tuple(word for word in words[words.index("langstar") + 1 :] if word.isalpha())[:2]
        for snippet in SNIPPETS
        if snippet.lang in {"bash", "sh"}
        for words in shell_commands(snippet.code)
        if "langstar" in words
    }
    assert ("serve",) in commands
    for command in sorted(commands):
        result = subprocess.run(
            [sys.executable, "-m", "langstar", *command, "--help"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, (command, result.stderr)
        assert "usage: langstar" in result.stdout
