"""An assistant as an MCP tool: its name made a valid tool name, its input schema simplified.

The rules are those of LangGraph's Agent Server, so a client sees the same tools there and
here: whitespace becomes `_`, other characters outside `[A-Za-z0-9_.-]` are dropped, and a
list of LangChain messages is offered as one string, the user's message.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

TOOL_NAME_MAX = 128
_WHITESPACE = re.compile(r"\s+")
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9_.-]")
_DEFS = "#/$defs/"

USER_MESSAGE = "The user message to send to the agent."
MESSAGE_TYPES = frozenset(
    f"{kind}Message{chunk}"
    for kind in ("AI", "Human", "Chat", "System", "Function", "Tool")
    for chunk in ("", "Chunk")
)


def tool_name(name: str) -> str:
    """The assistant's name as a tool name; empty when nothing of it is allowed."""
    return _NOT_ALLOWED.sub("", _WHITESPACE.sub("_", name.strip()))[:TOOL_NAME_MAX]


def tool_schema(input_schema: dict[str, Any]) -> tuple[dict[str, Any], frozenset[str]]:
    """The tool's `inputSchema`, and the properties in it offered as one user message.

    A property that lists LangChain messages becomes a string; the message types'
    `$defs` go with it (any that something else still refers to stay).
    """
    schema = copy.deepcopy(input_schema)
    properties = schema.get("properties")
    defs = schema.get("$defs")
    as_text: list[str] = []
    if isinstance(properties, dict) and isinstance(defs, dict):
        for key, prop in properties.items():
            if _lists_messages(prop):
                title = prop.get("title", key)
                properties[key] = {"type": "string", "title": title, "description": USER_MESSAGE}
                as_text.append(key)
        if as_text:
            _prune_defs(schema, defs)
    schema.setdefault("type", "object")
    return schema, frozenset(as_text)


def as_input(arguments: dict[str, Any], as_text: frozenset[str]) -> dict[str, Any]:
    """A tool call's arguments as the graph's input: a user message becomes a message list."""
    return {
        key: [{"role": "user", "content": value}]
        if key in as_text and isinstance(value, str)
        else value
        for key, value in arguments.items()
    }


def _lists_messages(prop: Any) -> bool:
    if not isinstance(prop, dict) or prop.get("type") != "array":
        return False
    items = prop.get("items")
    if not isinstance(items, dict):
        return False
    choices = items.get("oneOf") or items.get("anyOf") or []
    return any(
        isinstance(choice, dict) and choice.get("$ref", "").removeprefix(_DEFS) in MESSAGE_TYPES
        for choice in choices
    )


def _prune_defs(schema: dict[str, Any], defs: dict[str, Any]) -> None:
    """Keep only the `$defs` the schema still refers to, directly or through another."""
    kept: set[str] = set()
    wanted = set(_refs({k: v for k, v in schema.items() if k != "$defs"}))
    while wanted:
        name = wanted.pop()
        if name in defs and name not in kept:
            kept.add(name)
            wanted.update(_refs(defs[name]))
    for name in list(defs):
        if name not in kept:
            del defs[name]
    if not defs:
        del schema["$defs"]


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_DEFS):
            yield ref.removeprefix(_DEFS)
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)
