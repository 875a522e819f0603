"""The OpenAPI document with a project's own routes in it, merged as LangGraph's server does."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

# Where `with_custom_routes` leaves the OpenAPI document of a project's own app.
PROJECT_OPENAPI = "project_openapi"

# How the items of a top-level list are told apart: a later one with the same identity wins.
LISTS: dict[str, Callable[[Any], Any]] = {
    "servers": lambda server: (server.get("url"), server.get("description")),
    "security": lambda requirement: requirement,
    "tags": lambda tag: tag.get("name"),
}


def merged_openapi(api: dict[str, Any], project: dict[str, Any]) -> dict[str, Any]:
    """`api` with `project` in it; where both describe the same thing, the project's wins,
    down to a path's single method."""
    merged = {**api, **project}
    merged["info"] = {**api.get("info", {}), **project.get("info", {})}
    merged["paths"] = _merged_paths(api.get("paths", {}), project.get("paths", {}))
    ours, theirs = api.get("components", {}), project.get("components", {})
    if ours or theirs:
        merged["components"] = {
            kind: {**ours.get(kind, {}), **theirs.get(kind, {})} for kind in {**ours, **theirs}
        }
    for key, identity in LISTS.items():
        if key in api or key in project:
            merged[key] = _merged_list(api.get(key, []), project.get(key, []), identity)
    return merged


def _merged_paths(api: dict[str, Any], project: dict[str, Any]) -> dict[str, Any]:
    paths = {path: dict(operations) for path, operations in api.items()}
    for path, operations in project.items():
        into = paths.setdefault(path, {})
        for method, operation in operations.items():
            if method == "parameters":
                into[method] = _merged_list(
                    into.get(method, []), operation, lambda p: (p.get("name"), p.get("in"))
                )
            else:
                into[method.lower()] = operation
    return paths


def _merged_list(first: list[Any], second: list[Any], identity: Callable[[Any], Any]) -> list[Any]:
    items = {json.dumps(identity(item), sort_keys=True): item for item in first}
    items.update((json.dumps(identity(item), sort_keys=True), item) for item in second)
    return list(items.values())
