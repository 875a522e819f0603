"""The documentation's reference pages, made from the code when the site is built: every
setting (the settings tree, with config/langstar.toml's defaults and comments), the CLI
(its argparse parser) and the HTTP API (the app's OpenAPI document).

`tests/support/mkdocs_hooks.py` puts them where a page says `<!-- reference:NAME -->`;
nothing generated is committed, so they cannot drift from the code.
"""

from __future__ import annotations

import argparse
import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

from langstar.settings import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config" / "langstar.toml"
# Read as they are by langstar, though they are not keys of the settings tree.
NOT_SETTINGS = {
    "LANGSTAR_CONFIG": "the TOML file to read instead of config/langstar.toml",
}


def setting_names() -> Iterator[tuple[str, str, Any]]:
    """Every key of the settings tree as (`section.key`, environment variable, default),
    in the tree's order; `graphs` by the names config/langstar.toml gives."""
    defaults = Settings()
    for field in msgspec.structs.fields(Settings):
        value = getattr(defaults, field.name)
        if isinstance(value, msgspec.Struct):
            for sub in msgspec.structs.fields(type(value)):
                yield (
                    f"{field.name}.{sub.name}",
                    env_name(field.name, sub.name),
                    getattr(value, sub.name),
                )
        elif isinstance(value, dict):
            for name, spec in value.items():
                yield f"{field.name}.{name}", env_name(field.name, name), spec
        else:
            yield field.name, env_name(field.name), value


def env_name(section: str, key: str = "") -> str:
    if (section, key) == ("database", "url"):
        return "DATABASE_URL"
    return f"{ENV_PREFIX}{section.upper()}__{key.upper()}" if key else ENV_PREFIX + section.upper()


def config_comments() -> dict[str, str]:
    """The comment above each key of config/langstar.toml, by `section.key`."""
    comments: dict[str, str] = {}
    section, comment = "", []
    for line in CONFIG.read_text().splitlines():
        if line.startswith("# "):
            comment.append(line[2:])
        elif header := re.fullmatch(r"\[(\w+)\]", line):
            section, comment = header[1], []
        elif "=" in line:
            key = line.split("=", 1)[0].strip()
            comments[f"{section}.{key}" if section else key] = " ".join(comment)
            comment = []
        elif not line.strip():
            comment = []
    return comments


def config_defaults() -> dict[str, Any]:
    """The values config/langstar.toml gives, by `section.key`."""
    flat: dict[str, Any] = {}
    for key, value in tomllib.loads(CONFIG.read_text()).items():
        if isinstance(value, dict):
            flat.update({f"{key}.{sub}": item for sub, item in value.items()})
        else:
            flat[key] = value
    return flat


def settings_table() -> str:
    """One table per section, one row per setting: its key, its default, its environment
    variable and what it does."""
    comments, defaults = config_comments(), config_defaults()
    sections: dict[str, list[str]] = {}
    for key, env, value in setting_names():
        section, _, name = key.rpartition(".")
        shown = json.dumps(defaults.get(key, msgspec.to_builtins(value)))
        meaning = comments.get(key, "").replace("|", "\\|")
        sections.setdefault(section, []).append(f"| `{name}` | `{shown}` | `{env}`<br>{meaning} |")
    return "\n\n".join(
        f"## {f'[{section}]' if section else 'Top level'}\n\n"
        "| key | default | environment variable, and what it does |\n|---|---|---|\n"
        + "\n".join(rows)
        for section, rows in sections.items()
    )


def cli_reference() -> str:
    """Every command of `langstar`, with the usage and options argparse prints."""
    from langstar.cli import _parser

    return "\n\n".join(
        f"## `{' '.join(path)}`\n\n```text\n{parser.format_help().rstrip()}\n```"
        for path, parser in _commands(_parser(), ["langstar"])
    )


def _commands(
    parser: argparse.ArgumentParser, path: list[str]
) -> Iterator[tuple[list[str], argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, [*path, name])


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document of an app on the default settings; building it needs no
    database."""
    from langstar.app import create_app

    document: dict[str, Any] = create_app(Settings()).openapi_schema.to_schema()
    return document


def http_api_reference() -> str:
    """Every path and method of the OpenAPI document, with its summary, by tag."""
    document = openapi_document()
    by_tag: dict[str, list[str]] = {}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in {"get", "put", "post", "patch", "delete", "head", "options"}:
                continue
            tag = (operation.get("tags") or ["Other"])[0]
            summary = (operation.get("summary") or operation.get("operationId") or "").strip()
            summary = summary.replace("|", "\\|")
            row = f"| `{method.upper()}` | `{path}` | {summary} |"
            by_tag.setdefault(tag, []).append(row)
    sections = [
        f"## {tag}\n\n| method | path | summary |\n|---|---|---|\n" + "\n".join(rows)
        for tag, rows in by_tag.items()
    ]
    info = document.get("info", {})
    title = f"{info.get('title', '')} {info.get('version', '')}".strip()
    return f"OpenAPI {document.get('openapi', '')}: {title}.\n\n" + "\n\n".join(sections)


REFERENCES = {
    "settings": settings_table,
    "cli": cli_reference,
    "http-api": http_api_reference,
}


def fill(markdown: str) -> str:
    """`markdown` with each `<!-- reference:NAME -->` replaced by that reference."""
    return re.sub(
        r"<!-- reference:([\w-]+) -->",
        lambda match: REFERENCES[match[1]](),
        markdown,
    )
