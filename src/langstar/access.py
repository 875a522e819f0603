"""Who may do what to which object, beyond ownership: the hook a project's handlers fill.

A project served with its `langgraph_sdk.Auth` decides, per resource and action, whether
a request may go on, and may return a filter on the object's metadata: an object outside
it is answered as if it did not exist. Without one, `OpenAccess` lets everything through
and costs nothing.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from psycopg.types.json import Jsonb

from langstar.errors import InvalidError

Resource = Literal["threads", "assistants", "crons", "store"]
Filter = dict[str, Any]


class Authorizer(Protocol):
    """Decides one request's access to one kind of object."""

    async def authorize(self, resource: Resource, action: str, value: dict[str, Any]) -> Filter:
        """Nothing to filter by (`{}`), or the metadata the object must match.

        Raises `ForbiddenError` to refuse. A handler may change `value` (to stamp an
        owner into new metadata, or to move a store namespace); callers use it after.
        """
        ...


class OpenAccess:
    """Everything is allowed; ownership alone keeps users apart."""

    async def authorize(self, resource: Resource, action: str, value: dict[str, Any]) -> Filter:
        return {}


def filter_sql(found: Filter, column: str = "metadata") -> tuple[str, list[Any]]:
    """SQL (and its parameters) matching `found` on a JSONB column.

    `{"k": v}` and `{"k": {"$eq": v}}` match a value; `{"k": {"$contains": v}}` a list
    holding v (or every item of v); `{"$or": [f1, f2]}` either filter. Keys combine with AND.
    """
    clauses: list[str] = []
    params: list[Any] = []
    for key, wanted in found.items():
        if key == "$or":
            if not isinstance(wanted, list) or len(wanted) < 2:
                raise InvalidError("filter.$or", "needs a list of at least two filters")
            parts = [filter_sql(part, column) for part in wanted]
            clauses.append("(" + " OR ".join(sql for sql, _ in parts) + ")")
            params += [param for _, part_params in parts for param in part_params]
        elif isinstance(wanted, dict) and set(wanted) == {"$contains"}:
            items = wanted["$contains"]
            clauses.append(f"{column} -> %s @> %s")
            params += [key, Jsonb(items if isinstance(items, list) else [items])]
        else:
            value = wanted["$eq"] if isinstance(wanted, dict) and set(wanted) == {"$eq"} else wanted
            clauses.append(f"{column} @> %s")
            params.append(Jsonb({key: value}))
    return " AND ".join(clauses) or "true", params
