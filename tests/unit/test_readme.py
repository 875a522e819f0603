"""The README says what the code does."""

from __future__ import annotations

from tests.support.readme import (
    DIFFERENCES,
    PROJECT_KEYS,
    ROOT,
    config_table,
    differences_table,
    project_keys_table,
    readme_table,
)


def test_configuration_table_matches_the_config_file() -> None:
    assert readme_table() == config_table(), (
        "README's table is stale: run `uv run python -m tests.support.readme`"
    )


def test_differences_table_matches_the_list_the_comparison_tests_skip() -> None:
    assert readme_table(DIFFERENCES) == differences_table(), (
        "README's differences are stale: run `uv run python -m tests.support.readme`"
    )


def test_the_langgraph_json_keys_listed_as_refused_or_ignored_are_the_codes() -> None:
    assert readme_table(PROJECT_KEYS) == project_keys_table(), (
        "README's langgraph.json keys are stale: run `uv run python -m tests.support.readme`"
    )


def test_readme_starts_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    first_screen = text[: text.index("## ", text.index("## ") + 1)]
    assert "uv run langstar serve" in first_screen
    assert "uv run pytest" in first_screen
