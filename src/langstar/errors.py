"""What can go wrong, in langstar's own words; each entry point says it in its protocol.

Services, records, the executor and `db/` raise only these. HTTP turns them into status
codes (`langstar.http_errors`), the thread protocol into its error codes.
"""

from __future__ import annotations

import uuid


class LangstarError(Exception):
    """An error a client is told about; `detail` is the sentence it reads."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFoundError(LangstarError):
    """No such `resource` with this `key`, or it belongs to another user."""

    def __init__(self, resource: str, key: object, detail: str | None = None) -> None:
        super().__init__(detail or f"{resource.capitalize()} {key} not found")
        self.resource = resource
        self.key = key


class ConflictError(LangstarError):
    """The request clashes with what exists: an id taken, or a thread busy with a run."""


class ForbiddenError(LangstarError):
    """The caller may not do this; a project's authorization handler said no."""


class RefusedError(LangstarError):
    """A project's own handler refused with a status of its choosing (and headers)."""

    def __init__(self, detail: str, status: int, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.headers = headers or {}


class InvalidError(LangstarError):
    """A value of the request that the server cannot accept; `field` names it.

    The client reads "field: message", unless `detail` words it otherwise.
    """

    def __init__(self, field: str, message: str, *, detail: str | None = None) -> None:
        super().__init__(detail or f"{field}: {message}")
        self.field = field
        self.message = message


class MalformedError(InvalidError):
    """A request body that is not of the shape its protocol defines at all."""


class TooManyError(LangstarError):
    """A limit on what one user may hold at once; retry after `retry_after` seconds."""

    def __init__(self, detail: str, retry_after: float = 1.0) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class UnavailableError(LangstarError):
    """The server cannot take this on now (it is shutting down, say); `retry_after` if known."""

    def __init__(self, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class CheckpointReadError(LangstarError):
    """A stored checkpoint value the server will not or cannot read back as configured:
    pickled while reading pickles is off, encrypted with another key, or with no key set.
    `detail` names the value's type or the setting to change."""


class JsonEncryptionError(LangstarError):
    """The project's JSON encryption handlers failed or broke their contract, or stored JSON
    is encrypted and cannot be decrypted as configured; `detail` names the handler."""


class CheckpointWriteError(LangstarError):
    """A state value that can be stored neither as msgpack nor pickled."""


class NotSupportedError(LangstarError):
    """What the server, as configured, cannot do: a project's own checkpointer or store
    lacks the method it takes, say. The detail names what is missing."""


MAX_PAGE = 1000


def check_page(limit: int, offset: int = 0) -> None:
    """Every listing takes `limit` in 1..MAX_PAGE and a non-negative `offset`."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidError("limit", f"must be between 1 and {MAX_PAGE}")
    if offset < 0:
        raise InvalidError("offset", "must not be negative")


def selected_fields(select: list[str] | None, fields: tuple[str, ...]) -> list[str]:
    """The fields a `select` asks for, in their usual order; all of them when it is empty."""
    wanted = [field for field in select or [] if field]
    if not wanted:
        return list(fields)
    unknown = sorted(set(wanted) - set(fields))
    if unknown:
        raise InvalidError("select", f"unknown field {unknown[0]!r}")
    return [field for field in fields if field in wanted]


def refuse_if_given(name: str, value: object) -> None:
    """A query parameter the server does not act on is refused, not silently ignored."""
    if value not in (None, "", [], False):
        raise InvalidError(name, "not supported by this server")


def parse_uuid(value: str, field: str) -> uuid.UUID:
    """An id from a path or a body; a malformed one is `InvalidError`, not a missing resource."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidError(field, f"{value!r} is not a UUID") from None
