"""`extract` in thread search: values picked out of each thread by a path such as
`values.messages[-1].content`, checked and read as LangGraph's Agent Server does."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from langstar.errors import InvalidError

ROOTS = ("config", "interrupts", "metadata", "values")
MAX_PATHS = 10
# The Agent Server's thread fields: no alias may be one.
RESERVED = frozenset(
    {"thread_id", "created_at", "updated_at", "state_updated_at", "metadata", "config",
     "status", "values", "interrupts"}
)  # fmt: skip
_ALIAS = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_PARTS = re.compile(r"\.|\[")
_INT32 = 2**31

Step = str | int


def check_extract(extract: Mapping[str, str]) -> None:
    """Refuse what the Agent Server refuses, in its words."""

    def refuse(detail: str) -> InvalidError:
        return InvalidError("extract", detail, detail=detail)

    if len(extract) > MAX_PATHS:
        raise refuse(f"Maximum of {MAX_PATHS} extract paths allowed, got {len(extract)}")
    reserved = sorted(extract.keys() & RESERVED)
    if reserved:
        raise refuse(f"Extract keys cannot use reserved field names: {reserved}")
    for alias, path in extract.items():
        if not _ALIAS.fullmatch(alias):
            raise refuse(
                f"Extract key '{alias}' must be a valid identifier (letters, digits, underscores)"
            )
        if not path:
            raise refuse(f"Extract path for '{alias}' must be a non-empty string")
        if _PARTS.split(path, maxsplit=1)[0] not in ROOTS:
            raise refuse(f"Extract path '{path}' must start with one of: {', '.join(ROOTS)}")


def steps_of(path: str) -> list[Step] | None:
    """The keys and list indexes after the path's root; None where it can name nothing (a
    private `_key`, an index that is not a number)."""
    steps: list[Step] = []
    for part in _PARTS.split(path)[1:]:
        if not part:
            continue
        if part.startswith("_") or "\x00" in part:
            return None
        if not part.endswith("]"):
            steps.append(part)
            continue
        try:
            index = int(part.rstrip("]"))
        except ValueError:
            return None
        if not -_INT32 < index < _INT32:
            return None
        steps.append(index)
    return steps


def jsonpath_of(steps: list[Step]) -> str:
    """A strict SQL/JSON path: a key of an object, an index of an array, nothing else."""
    path = "strict $"
    for step in steps:
        if isinstance(step, str):
            path += "." + json.dumps(step, ensure_ascii=False)
        elif step >= 0:
            path += f"[{step}]"
        else:
            path += f"[last - {-step - 1}]"
    return path


def walk(value: Any, steps: list[Step]) -> Any:
    """What `steps` name in a JSON value, or None."""
    for step in steps:
        if isinstance(step, int):
            if not isinstance(value, list) or not -len(value) <= step < len(value):
                return None
            value = value[step]
        elif isinstance(value, dict):
            value = value.get(step)
        else:
            return None
    return value


class Extraction:
    """One search's `extract`: the paths into `values`, `metadata` and `config` are read in
    SQL, so a `select` that leaves `values` out never loads it; those into `interrupts`
    are read from the interrupts as the thread shows them."""

    def __init__(self, extract: Mapping[str, str]) -> None:
        check_extract(extract)
        self._paths = {
            alias: (_PARTS.split(path, maxsplit=1)[0], steps_of(path))
            for alias, path in extract.items()
        }

    @property
    def reads_interrupts(self) -> bool:
        return any(root == "interrupts" for root, _ in self._paths.values())

    def roots(self) -> tuple[str, ...]:
        """The thread fields the paths read."""
        return tuple(sorted({root for root, _ in self._paths.values()}))

    def extracted_from(self, roots: Mapping[str, Any]) -> dict[str, Any]:
        """Every alias, in the order asked, with its value read from `roots` (each thread
        field the paths read, as stored)."""
        return {
            alias: None if steps is None else walk(roots.get(root), steps)
            for alias, (root, steps) in self._paths.items()
        }

    def sql(self) -> tuple[str, list[Any]]:
        """A jsonb object of each alias read in SQL and its value (null when missing)."""
        items, params = [], []
        for alias, (root, steps) in self._paths.items():
            if root == "interrupts" or steps is None:
                continue
            items.append(
                f"%s::text, jsonb_path_query_first(\"{root}\", %s::jsonpath, '{{}}', true)"
            )
            params += [alias, jsonpath_of(steps)]
        return f"jsonb_build_object({', '.join(items)})", params

    def extracted(self, from_sql: Mapping[str, Any], interrupts: Any) -> dict[str, Any]:
        """Every alias, in the order asked, with its value."""
        found: dict[str, Any] = {}
        for alias, (root, steps) in self._paths.items():
            if steps is None:
                found[alias] = None
            elif root == "interrupts":
                found[alias] = walk(interrupts, steps)
            else:
                found[alias] = from_sql.get(alias)
        return found
