"""Liveness, readiness, server info and the OpenAPI document."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

from dishka.integrations.litestar import FromDishka
from litestar import MediaType, Request, Response, get

from langstar.db.pool import Pool
from langstar.db.schema import schema_status
from langstar.runs.executor import RunExecutor
from langstar.settings import Settings
from langstar.system.openapi import PROJECT_OPENAPI, merged_openapi


@get("/ok", tags=["System"], summary="Liveness", exclude_from_auth=True)
async def ok() -> dict[str, bool]:
    return {"ok": True}


@get(
    "/ready",
    tags=["System"],
    summary="Readiness: the database answers and is at head, and the server is not stopping",
    exclude_from_auth=True,
)
async def ready(
    pool: FromDishka[Pool], settings: FromDishka[Settings], executor: FromDishka[RunExecutor]
) -> Response[dict[str, Any]]:
    if executor.draining:
        # Shutting down: load balancers stop sending work here; requests still in flight
        # are served, and the runs are finished or handed off.
        return Response({"detail": "shutting down"}, status_code=503)
    try:
        async with pool.connection(timeout=settings.database.pool_timeout_seconds) as conn:
            status = await schema_status(conn, settings)
    except Exception as exc:
        return Response({"detail": f"database unavailable: {exc}"}, status_code=503)
    if not status.ok:
        return Response({"detail": status.reason}, status_code=503)
    return Response({"ok": True}, status_code=200)


@get("/info", tags=["System"], summary="Server information", exclude_from_auth=True)
async def info(settings: FromDishka[Settings]) -> dict[str, Any]:
    return {
        "version": version("langstar"),
        "langgraph_py_version": version("langgraph"),
        "flags": {
            "assistants": True,
            "crons": not settings.http.disable_crons,
            "langsmith": False,
        },
    }


@get("/openapi.json", include_in_schema=False, media_type=MediaType.JSON, exclude_from_auth=True)
async def openapi_json(request: Request[Any, Any, Any]) -> dict[str, Any]:
    document = request.app.openapi_schema.to_schema()
    project = request.app.state.get(PROJECT_OPENAPI)
    return merged_openapi(document, project) if project else document


system_handlers = [ok, ready, info, openapi_json]
