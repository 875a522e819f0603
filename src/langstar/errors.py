"""Every error leaves as JSON `{"detail": ...}` with the status codes the SDK maps."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from langgraph.store.base import InvalidNamespaceError
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, SerializationException, ValidationException
from litestar.status_codes import (
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_500_INTERNAL_SERVER_ERROR,
    HTTP_503_SERVICE_UNAVAILABLE,
)
from psycopg import DataError, OperationalError
from psycopg_pool import PoolTimeout

log = logging.getLogger(__name__)


class UnprocessableEntity(HTTPException):
    status_code = HTTP_422_UNPROCESSABLE_ENTITY


class Conflict(HTTPException):
    status_code = 409


MAX_PAGE = 1000


def check_page(limit: int, offset: int = 0) -> None:
    """Every listing takes `limit` in 1..MAX_PAGE and a non-negative `offset`."""
    if not 1 <= limit <= MAX_PAGE:
        raise UnprocessableEntity(f"limit: must be between 1 and {MAX_PAGE}")
    if offset < 0:
        raise UnprocessableEntity("offset: must not be negative")


def selected_fields(select: list[str] | None, fields: tuple[str, ...]) -> list[str]:
    """The fields a `select` asks for, in their usual order; all of them when it is empty."""
    wanted = [field for field in select or [] if field]
    if not wanted:
        return list(fields)
    unknown = sorted(set(wanted) - set(fields))
    if unknown:
        raise UnprocessableEntity(f"select: unknown field {unknown[0]!r}")
    return [field for field in fields if field in wanted]


def refuse_if_given(name: str, value: object) -> None:
    """A query parameter the server does not act on is refused, not silently ignored."""
    if value not in (None, "", [], False):
        raise UnprocessableEntity(f"{name}: not supported by this server")


def parse_uuid(value: str, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise UnprocessableEntity(f"{field}: {value!r} is not a UUID") from None


def _validation_detail(exc: ValidationException) -> str:
    messages = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if not isinstance(item, dict):
            messages.append(str(item))
            continue
        key, message = item.get("key"), str(item.get("message", ""))
        # Litestar names the whole body "data"; msgspec's message then names the field.
        messages.append(f"{key}: {message}" if key and key != "data" else message)
    return "; ".join(messages) or str(exc.detail)


def http_exception_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if isinstance(exc.__cause__, SerializationException):
        # A body that is not JSON at all is refused like any other invalid body.
        return Response(
            {"detail": f"Invalid JSON in request body: {exc.detail}"},
            status_code=HTTP_422_UNPROCESSABLE_ENTITY,
            media_type=MediaType.JSON,
        )
    if isinstance(exc, ValidationException):
        return Response(
            {"detail": _validation_detail(exc)},
            status_code=HTTP_422_UNPROCESSABLE_ENTITY,
            media_type=MediaType.JSON,
        )
    return Response(
        {"detail": exc.detail},
        status_code=exc.status_code,
        headers=exc.headers,
        media_type=MediaType.JSON,
    )


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return Response(
        {"detail": "internal server error"},
        status_code=HTTP_500_INTERNAL_SERVER_ERROR,
        media_type=MediaType.JSON,
    )


def invalid_namespace_handler(
    request: Request[Any, Any, Any], exc: InvalidNamespaceError
) -> Response[Any]:
    return Response(
        {"detail": f"namespace: {exc}"},
        status_code=HTTP_422_UNPROCESSABLE_ENTITY,
        media_type=MediaType.JSON,
    )


def data_error_handler(request: Request[Any, Any, Any], exc: DataError) -> Response[Any]:
    # PostgreSQL refuses some values that JSON allows, such as "\u0000" inside a string.
    reason = exc.diag.message_primary or type(exc).__name__
    return Response(
        {"detail": f"the request holds a value the database cannot store: {reason}"},
        status_code=HTTP_422_UNPROCESSABLE_ENTITY,
        media_type=MediaType.JSON,
    )


def database_unavailable_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    # The database went away (a restart, a failover) or every connection is busy.
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
    return Response(
        {"detail": f"database unavailable, retry shortly: {type(exc).__name__}"},
        status_code=HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": "1"},
        media_type=MediaType.JSON,
    )


exception_handlers: dict[type[Exception] | int, Any] = {
    OperationalError: database_unavailable_handler,
    PoolTimeout: database_unavailable_handler,
    HTTPException: http_exception_handler,
    InvalidNamespaceError: invalid_namespace_handler,
    DataError: data_error_handler,
    HTTP_500_INTERNAL_SERVER_ERROR: internal_error_handler,
}
