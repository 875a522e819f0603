"""The README and the documentation say what the code does."""

from __future__ import annotations

import re
import tomllib

import yaml

from tests.support.readme import (
    DIFFERENCES,
    PROJECT_KEYS,
    ROOT,
    differences_table,
    page_table,
    project_keys_table,
)
from tests.support.reference import (
    CONFIG,
    cli_reference,
    config_comments,
    fill,
    http_api_reference,
    setting_names,
)

README = ROOT / "README.md"
STALE = "stale: run `uv run python -m tests.support.readme`"


def test_differences_table_matches_the_list_the_comparison_tests_skip() -> None:
    assert page_table(DIFFERENCES) == differences_table(), f"docs/differences.md is {STALE}"


def test_the_langgraph_json_keys_listed_as_refused_or_ignored_are_the_codes() -> None:
    assert page_table(PROJECT_KEYS) == project_keys_table(), f"docs/tutorial.md is {STALE}"


def test_readme_starts_with_the_two_commands() -> None:
    text = README.read_text()
    first_screen = text[: text.index("## ", text.index("## ") + 1)]
    assert "uv run langstar serve" in first_screen
    assert "uv run pytest" in first_screen


def test_readme_stays_short_and_leaves_the_rest_to_the_docs() -> None:
    assert len(README.read_text().splitlines()) < 250


def test_every_relative_link_in_the_readme_leads_to_a_file() -> None:
    links = re.findall(r"\]\(((?!https?:|#)[^)#]+)(?:#[^)]*)?\)", README.read_text())
    assert links, "the README links into docs/"
    assert [link for link in links if not (ROOT / link).is_file()] == []


def test_every_page_in_docs_is_in_the_sites_navigation() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())

    def listed(entries: object) -> set[str]:
        if isinstance(entries, str):
            return {entries}
        items = entries.values() if isinstance(entries, dict) else entries
        return set().union(*(listed(item) for item in items))  # type: ignore[union-attr]

    pages = {str(p.relative_to(ROOT / "docs")) for p in (ROOT / "docs").rglob("*.md")}
    assert listed(config["nav"]) == pages


def test_every_setting_is_in_the_reference_with_its_meaning() -> None:
    comments = config_comments()
    names = [key for key, _, _ in setting_names()]
    assert [key for key in names if not comments.get(key)] == [], (
        "every setting needs a comment in config/langstar.toml"
    )
    in_file = {
        f"{section}.{key}" if isinstance(table, dict) else section
        for section, table in tomllib.loads(CONFIG.read_text()).items()
        for key in (table if isinstance(table, dict) else [section])
    }
    assert in_file <= set(names), "config/langstar.toml names keys the settings tree lacks"
    filled = fill("<!-- reference:settings -->")
    assert all(f"`{env}`<br>" in filled for _, env, _ in setting_names())
    assert "| `port` | `8123` | `LANGSTAR_SERVER__PORT`<br>TCP port" in filled
    assert '| `url` | `""` | `DATABASE_URL`<br>' in filled


def test_the_cli_reference_shows_every_command_with_its_options() -> None:
    text = cli_reference()
    for command in ("serve", "db upgrade", "db current", "db check", "keys create"):
        assert f"## `langstar {command}`" in text
    assert "--langgraph-json PATH" in text
    assert "--workers N" in text


def test_the_http_api_reference_lists_the_apps_routes() -> None:
    text = http_api_reference()
    assert "| `POST` | `/threads` |" in text
    assert "| `POST` | `/threads/{thread_id}/runs/wait` |" in text
    assert "| `GET` | `/ok` |" in text
