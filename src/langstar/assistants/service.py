"""Assistants: each graph's default one, and those users make with their own config."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import msgspec
from langgraph.pregel import Pregel
from psycopg.types.json import Jsonb

from langstar.access import Authorizer, OpenAccess, filter_sql
from langstar.assistants.introspection import graph_drawing, graph_schemas
from langstar.assistants.schemas import (
    ASSISTANT_FIELDS,
    Assistant,
    AssistantCount,
    AssistantCreate,
    AssistantPatch,
    AssistantSearch,
    AssistantVersionsSearch,
    GraphSchemas,
)
from langstar.db.json_encryption import ASSISTANT_FIELDS as SEALED_FIELDS
from langstar.db.json_encryption import JsonCipher
from langstar.db.pool import Pool
from langstar.errors import ConflictError, NotFoundError, check_page, selected_fields
from langstar.graphs.config import check_config
from langstar.graphs.registry import GraphRegistry, RegisteredGraph
from langstar.identity import Identity
from langstar.limits import check_metadata
from langstar.settings import LimitSettings, RunSettings

# Default assistants belong to no user: everyone may read them, nobody may change them.
SYSTEM_OWNER = ""
_COLUMNS = ", ".join(ASSISTANT_FIELDS)


async def sync_default_assistants(pool: Pool, registry: GraphRegistry) -> None:
    """Make sure every served graph has its default assistant row."""
    async with pool.connection() as conn:
        for graph in registry.graphs.values():
            await conn.execute(
                "INSERT INTO assistants (assistant_id, owner, graph_id, name, description, "
                "metadata) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (assistant_id) "
                "DO UPDATE SET description = EXCLUDED.description, updated_at = now() "
                "WHERE assistants.description IS DISTINCT FROM EXCLUDED.description",
                (
                    graph.assistant_id,
                    SYSTEM_OWNER,
                    graph.graph_id,
                    graph.graph_id,
                    graph.description,
                    Jsonb({"created_by": "system"}),
                ),
            )
            await conn.execute(
                "INSERT INTO assistant_versions (assistant_id, version, graph_id, name, "
                "description, config, context, metadata) SELECT assistant_id, version, "
                "graph_id, name, description, config, context, metadata FROM assistants "
                "WHERE assistant_id = %s ON CONFLICT DO NOTHING",
                (graph.assistant_id,),
            )


class AssistantService:
    """Assistants visible to one caller: the defaults and their own."""

    def __init__(
        self,
        pool: Pool,
        identity: Identity,
        registry: GraphRegistry,
        settings: RunSettings,
        limits: LimitSettings | None = None,
        access: Authorizer | None = None,
        cipher: JsonCipher | None = None,
    ) -> None:
        self._cipher = cipher or JsonCipher()  # the project's JSON encryption, if any
        self._limits = limits or LimitSettings()
        self._pool = pool
        self._identity = identity
        self._owner = identity.owner
        self._access = access or OpenAccess()
        self._registry = registry
        self._settings = settings

    def _id(self, assistant_id: str) -> uuid.UUID:
        graph = self._registry.find(assistant_id)
        if graph is not None:
            return graph.assistant_id
        try:
            return uuid.UUID(assistant_id)
        except ValueError:
            raise NotFoundError("assistant", assistant_id) from None

    def _graph(self, graph_id: str) -> RegisteredGraph:
        graph = self._registry.graphs.get(graph_id)
        if graph is None:
            raise NotFoundError("graph", graph_id)
        return graph

    async def _row(self, assistant_id: str, action: str = "read") -> dict[str, Any]:
        key = self._id(assistant_id)
        value = {"assistant_id": key}
        allowed, params = filter_sql(await self._access.authorize("assistants", action, value))
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {_COLUMNS}, owner FROM assistants "
                f"WHERE assistant_id = %s AND owner IN (%s, %s) AND {allowed}",
                [key, SYSTEM_OWNER, self._owner, *params],
            )
            row = await cur.fetchone()
        if row is None:
            raise NotFoundError("assistant", assistant_id)
        return await self._opened(dict(row))

    async def _opened(self, row: dict[str, Any]) -> dict[str, Any]:
        return await self._cipher.open_fields("assistant", row, SEALED_FIELDS)

    async def _assistant(self, row: dict[str, Any]) -> Assistant:
        return Assistant(**await self._opened(row))

    async def _sealed(self, field: str, value: Any) -> Jsonb:
        return Jsonb(await self._cipher.seal("assistant", field, value))

    async def _owned(self, assistant_id: str, action: str) -> dict[str, Any]:
        row = await self._row(assistant_id, action)
        if row["owner"] == SYSTEM_OWNER:
            raise ConflictError(
                f"Assistant {assistant_id} is the default assistant of graph "
                f"{row['graph_id']!r} and cannot be changed; create an assistant instead"
            )
        return row

    async def get(self, assistant_id: str) -> Assistant:
        row = await self._row(assistant_id)
        row.pop("owner")
        return Assistant(**row)

    async def resolve(self, assistant_id: str) -> RegisteredGraph:
        """The graph a run on this assistant executes, with the assistant's own config."""
        graph = self._registry.find(assistant_id)
        if graph is not None:
            return graph
        row = await self._row(assistant_id)
        return dataclasses.replace(
            self._graph(row["graph_id"]),
            assistant_id=row["assistant_id"],
            config=row["config"],
            context=row["context"],
        )

    async def create(self, body: AssistantCreate) -> Assistant:
        check_metadata(body.metadata, self._limits)
        graph = self._graph(body.graph_id)
        check_config(body.config, graph, self._settings)
        assistant_id = body.assistant_id or uuid.uuid4()
        value = {"assistant_id": assistant_id, "graph_id": body.graph_id, "config": body.config,
                 "context": body.context, "metadata": dict(body.metadata or {}),
                 "if_exists": body.if_exists, "name": body.name}  # fmt: skip
        await self._access.authorize("assistants", "create", value)
        values = (
            assistant_id,
            self._owner,
            body.graph_id,
            body.name or body.graph_id,
            body.description,
            await self._sealed("config", body.config),
            await self._sealed("context", body.context),
            await self._sealed("metadata", value["metadata"]),
        )
        async with self._pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                f"INSERT INTO assistants (assistant_id, owner, graph_id, name, description, "
                f"config, context, metadata) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
                f"ON CONFLICT (assistant_id) DO NOTHING RETURNING {_COLUMNS}",
                values,
            )
            row = await cur.fetchone()
            if row is not None:
                await self._record_version(conn, assistant_id)
                return await self._assistant(row)
        if body.if_exists == "do_nothing":
            return await self.get(str(assistant_id))
        raise ConflictError(f"Assistant {assistant_id} already exists")

    async def _record_version(self, conn: Any, assistant_id: uuid.UUID) -> None:
        await conn.execute(
            "INSERT INTO assistant_versions (assistant_id, version, graph_id, name, description, "
            "config, context, metadata) SELECT assistant_id, version, graph_id, name, "
            "description, config, context, metadata FROM assistants WHERE assistant_id = %s",
            (assistant_id,),
        )

    async def patch(self, assistant_id: str, body: AssistantPatch) -> Assistant:
        check_metadata(body.metadata, self._limits)
        """Every change makes a new version, which becomes the current one."""
        row = await self._owned(assistant_id, "update")
        graph_id = body.graph_id or row["graph_id"]
        config = body.config if body.config is not None else row["config"]
        check_config(config, self._graph(graph_id), self._settings)
        async with self._pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                f"UPDATE assistants SET version = (SELECT max(version) + 1 FROM "
                f"assistant_versions WHERE assistant_id = %(id)s), graph_id = %(graph)s, "
                f"config = %(config)s, context = coalesce(%(context)s, context), "
                f"metadata = metadata || %(metadata)s, name = coalesce(%(name)s, name), "
                f"description = coalesce(%(description)s, description), updated_at = now() "
                f"WHERE assistant_id = %(id)s RETURNING {_COLUMNS}",
                {
                    "id": row["assistant_id"],
                    "graph": graph_id,
                    "config": await self._sealed("config", config),
                    "context": None
                    if body.context is None
                    else await self._sealed("context", body.context),
                    "metadata": await self._sealed("metadata", body.metadata or {}),
                    "name": body.name,
                    "description": body.description,
                },
            )
            updated = await cur.fetchone()
            assert updated is not None
            await self._record_version(conn, row["assistant_id"])
        return await self._assistant(updated)

    async def delete(self, assistant_id: str) -> None:
        row = await self._owned(assistant_id, "delete")
        async with self._pool.connection() as conn:
            await conn.execute(
                "DELETE FROM assistants WHERE assistant_id = %s", (row["assistant_id"],)
            )

    async def _filters(self, body: AssistantCount) -> tuple[str, list[Any]]:
        value = {"graph_id": body.graph_id, "metadata": body.metadata}
        allowed, allowed_params = filter_sql(
            await self._access.authorize("assistants", "search", value)
        )
        clauses = ["owner IN (%s, %s)", allowed]
        params: list[Any] = [SYSTEM_OWNER, self._owner, *allowed_params]
        if body.metadata:
            clauses.append("metadata @> %s")
            params.append(Jsonb(body.metadata))
        if body.graph_id is not None:
            clauses.append("graph_id = %s")
            params.append(body.graph_id)
        if body.name is not None:
            clauses.append("name = %s")
            params.append(body.name)
        return " AND ".join(clauses), params

    async def search(self, body: AssistantSearch) -> list[dict[str, Any]]:
        check_page(body.limit, body.offset)
        columns = selected_fields(body.select, ASSISTANT_FIELDS)
        where, params = await self._filters(body)
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {', '.join(columns)} FROM assistants WHERE {where} "
                f"ORDER BY {body.sort_by} {body.sort_order.upper()}, assistant_id "
                f"LIMIT %s OFFSET %s",
                [*params, body.limit, body.offset],
            )
            rows = await cur.fetchall()
        return [await self._opened(row) for row in rows]

    async def count(self, body: AssistantCount) -> int:
        where, params = await self._filters(body)
        async with self._pool.connection() as conn:
            cur = await conn.execute(f"SELECT count(*) AS n FROM assistants WHERE {where}", params)
            row = await cur.fetchone()
        return int(row["n"]) if row else 0

    async def versions(self, assistant_id: str, body: AssistantVersionsSearch) -> list[Assistant]:
        check_page(body.limit, body.offset)
        row = await self._row(assistant_id)
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT assistant_id, version, graph_id, name, description, config, context, "
                "metadata, created_at, created_at AS updated_at FROM assistant_versions "
                "WHERE assistant_id = %s AND metadata @> %s "
                "ORDER BY version DESC LIMIT %s OFFSET %s",
                (row["assistant_id"], Jsonb(body.metadata or {}), body.limit, body.offset),
            )
            rows = await cur.fetchall()
        return [await self._assistant(r) for r in rows]

    async def set_latest(self, assistant_id: str, version: int) -> Assistant:
        row = await self._owned(assistant_id, "update")
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"UPDATE assistants a SET version = v.version, graph_id = v.graph_id, "
                f"name = v.name, description = v.description, config = v.config, "
                f"context = v.context, metadata = v.metadata, updated_at = now() "
                f"FROM assistant_versions v WHERE a.assistant_id = %s "
                f"AND v.assistant_id = a.assistant_id AND v.version = %s "
                f"RETURNING {', '.join('a.' + c for c in ASSISTANT_FIELDS)}",
                (row["assistant_id"], version),
            )
            updated = await cur.fetchone()
        if updated is None:
            raise NotFoundError(
                "assistant", assistant_id, f"Assistant {assistant_id} has no version {version}"
            )
        return await self._assistant(updated)

    async def graph(self, assistant_id: str, xray: bool | int) -> dict[str, Any]:
        resolved = await self.resolve(assistant_id)
        async with resolved.built("assistants.read", self._identity) as graph:
            return graph_drawing(graph, xray)

    async def subgraphs(
        self, assistant_id: str, namespace: str | None, recurse: bool
    ) -> dict[str, dict[str, Any]]:
        resolved = await self.resolve(assistant_id)
        found: dict[str, dict[str, Any]] = {}
        async with resolved.built("assistants.read", self._identity) as graph:
            async for name, subgraph in graph.aget_subgraphs(namespace=namespace, recurse=recurse):
                if not isinstance(subgraph, Pregel):
                    continue  # a remote subgraph has no local schemas
                schemas = msgspec.to_builtins(graph_schemas(name, subgraph))
                schemas.pop("graph_id")
                found[name] = schemas
        return found

    async def schemas(self, assistant_id: str) -> GraphSchemas:
        resolved = await self.resolve(assistant_id)
        async with resolved.built("assistants.read", self._identity) as graph:
            return graph_schemas(resolved.graph_id, graph)
