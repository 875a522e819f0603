"""Each entry point says langstar's errors in its own protocol, the same way every time."""

from __future__ import annotations

import uuid

import pytest

from langstar.errors import (
    ConflictError,
    InvalidError,
    LangstarError,
    MalformedError,
    NotFoundError,
    NotSupportedError,
    TooManyError,
    UnavailableError,
)
from langstar.http_errors import status_of
from langstar.protocol.service import error_code

THREAD = uuid.UUID(int=1)


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (NotFoundError("thread", THREAD), 404, "no_such_run"),
        (NotFoundError("run", THREAD), 404, "no_such_run"),
        (NotFoundError("checkpoint", "c1"), 404, "no_such_checkpoint"),
        (NotFoundError("assistant", "nope"), 404, "invalid_argument"),
        (ConflictError("Thread is busy"), 409, "unknown_error"),
        (InvalidError("limit", "too big"), 422, "invalid_argument"),
        (MalformedError("channels", "required"), 400, "invalid_argument"),
        (TooManyError("20 runs already"), 429, "unknown_error"),
        (UnavailableError("shutting down"), 503, "unknown_error"),
        (NotSupportedError("aprune is not implemented"), 501, "unknown_error"),
    ],
)
def test_each_error_has_one_status_and_one_protocol_code(
    error: LangstarError, status: int, code: str
) -> None:
    assert status_of(error) == status
    assert error_code(error) == code


def test_errors_name_what_is_missing_or_wrong() -> None:
    assert NotFoundError("thread", THREAD).detail == f"Thread {THREAD} not found"
    assert InvalidError("limit", "must be between 1 and 1000").detail == (
        "limit: must be between 1 and 1000"
    )
    assert InvalidError("channels", "required", detail="channels is required").detail == (
        "channels is required"
    )
