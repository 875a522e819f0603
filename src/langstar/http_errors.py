"""How errors leave over HTTP: JSON `{"detail": ...}` with the status codes the SDK maps.

langstar's own errors (`langstar.errors`) are mapped here once, as are Litestar's and the
database's.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from langgraph.store.base import InvalidNamespaceError
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, SerializationException, ValidationException
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_403_FORBIDDEN,
    HTTP_404_NOT_FOUND,
    HTTP_409_CONFLICT,
    HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_429_TOO_MANY_REQUESTS,
    HTTP_500_INTERNAL_SERVER_ERROR,
    HTTP_501_NOT_IMPLEMENTED,
    HTTP_503_SERVICE_UNAVAILABLE,
)
from psycopg import DataError, OperationalError
from psycopg_pool import PoolTimeout

from langstar.errors import (
    ConflictError,
    ForbiddenError,
    InvalidError,
    LangstarError,
    MalformedError,
    NotFoundError,
    NotSupportedError,
    RefusedError,
    TooManyError,
    UnavailableError,
)
from langstar.limits import body_too_large

log = logging.getLogger(__name__)

# Most specific first: a `MalformedError` is an `InvalidError` too.
STATUS_OF: tuple[tuple[type[LangstarError], int], ...] = (
    (NotFoundError, HTTP_404_NOT_FOUND),
    (ConflictError, HTTP_409_CONFLICT),
    (ForbiddenError, HTTP_403_FORBIDDEN),
    (MalformedError, HTTP_400_BAD_REQUEST),
    (InvalidError, HTTP_422_UNPROCESSABLE_ENTITY),
    (TooManyError, HTTP_429_TOO_MANY_REQUESTS),
    (UnavailableError, HTTP_503_SERVICE_UNAVAILABLE),
    (NotSupportedError, HTTP_501_NOT_IMPLEMENTED),
)


def status_of(exc: LangstarError) -> int:
    if isinstance(exc, RefusedError):
        return exc.status
    return next((status for kind, status in STATUS_OF if isinstance(exc, kind)), 500)


def langstar_error_handler(request: Request[Any, Any, Any], exc: LangstarError) -> Response[Any]:
    headers: dict[str, str] = dict(getattr(exc, "headers", None) or {})
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(math.ceil(retry_after))
    return Response(
        {"detail": exc.detail},
        status_code=status_of(exc),
        headers=headers or None,
        media_type=MediaType.JSON,
    )


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


def _invalid_json(exc: HTTPException) -> str | None:
    """Why the body is not JSON at all, if that is what `exc` says."""
    if isinstance(exc.__cause__, SerializationException):
        return str(exc.detail)
    # Litestar leaves an empty body out of the handler's `data`, then finds `data` missing.
    if str(exc.__cause__) == "Object missing required field `data`":
        return "the body is empty"
    return None


def http_exception_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if (reason := _invalid_json(exc)) is not None:
        # As the Agent Server answers it: refused like any other invalid body.
        return Response(
            {"detail": f"Invalid JSON in request body: {reason}"},
            status_code=HTTP_422_UNPROCESSABLE_ENTITY,
            media_type=MediaType.JSON,
        )
    if isinstance(exc, ValidationException):
        return Response(
            {"detail": _validation_detail(exc)},
            status_code=HTTP_422_UNPROCESSABLE_ENTITY,
            media_type=MediaType.JSON,
        )
    detail = exc.detail
    if exc.status_code == HTTP_413_REQUEST_ENTITY_TOO_LARGE:
        detail = body_too_large(request.route_handler.resolve_request_max_body_size())
    return Response(
        {"detail": detail},
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
    LangstarError: langstar_error_handler,
    OperationalError: database_unavailable_handler,
    PoolTimeout: database_unavailable_handler,
    HTTPException: http_exception_handler,
    InvalidNamespaceError: invalid_namespace_handler,
    DataError: data_error_handler,
    HTTP_500_INTERNAL_SERVER_ERROR: internal_error_handler,
}
