"""A project's own `langgraph_sdk.Encryption` (langgraph.json `encryption.path`): its blob
handlers applied to checkpoint blobs and pending writes as LangGraph's server applies them
(its JSON handlers are applied by `json_encryption`).

Each encrypted value carries the encryption context it was written under (what the
project's `@encryption.context` handler, or the `X-Encryption-Context` header, gave for
the request or run that wrote it), so that decrypting it hands the handler that same
context, whoever reads it later.
"""

from __future__ import annotations

import base64
import json
import logging
import struct
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from langgraph_sdk import Encryption, EncryptionContext
from langgraph_sdk.encryption.types import DecryptResult

from langstar.db.json_encryption import JsonCipher
from langstar.errors import CheckpointReadError, CheckpointWriteError, InvalidError
from langstar.objects import LoadError, load_object
from langstar.settings import SettingsError

log = logging.getLogger(__name__)

SETTING = "langgraph.json encryption.path (database.encryption)"
# The type of a value the project's blob handlers encrypted ends with this.
SUFFIX = "+encryption"
CONTEXT_HEADER = "x-encryption-context"
# A blob: the length of its context's JSON, that JSON, then the project's ciphertext.
_LENGTH = struct.Struct(">I")

# The encryption context of the request, or of the run, being served.
_CONTEXT: ContextVar[Mapping[str, Any] | None] = ContextVar(
    "langstar_encryption_context", default=None
)


def current_context() -> dict[str, Any]:
    """The encryption context values written now are encrypted under."""
    return dict(_CONTEXT.get() or {})


def use_context(context: Mapping[str, Any] | None) -> None:
    """Encrypt what this request or run writes under `context`."""
    _CONTEXT.set(dict(context or {}))


def header_context(value: str | None) -> dict[str, Any]:
    """The `X-Encryption-Context` header's context: base64 of a JSON object."""
    if not value:
        return {}
    try:
        found = json.loads(base64.b64decode(value.encode(), validate=True))
    except ValueError as exc:
        raise InvalidError("X-Encryption-Context", f"not base64 of JSON: {exc}") from None
    if not isinstance(found, dict):
        raise InvalidError("X-Encryption-Context", "expected base64 of a JSON object")
    return found


def load_encryption(spec: str, base: Path) -> Encryption:
    """The project's `Encryption`, refused at start-up where langstar cannot honour it."""
    try:
        found = load_object(spec, base)
    except LoadError as exc:
        raise SettingsError(SETTING, str(exc)) from None
    if not isinstance(found, Encryption):
        raise SettingsError(
            SETTING, f"{spec} is a {type(found).__name__}, not a langgraph_sdk.Encryption"
        )
    if (found._json_encryptor is None) != (found._json_decryptor is None):
        missing = "decrypt.json" if found._json_decryptor is None else "encrypt.json"
        raise SettingsError(
            SETTING, f"{spec} registers one JSON handler without the other: add @{missing}"
        )
    if (found._blob_encryptor is None) != (found._blob_decryptor is None):
        missing = "decrypt.blob" if found._blob_decryptor is None else "encrypt.blob"
        raise SettingsError(
            SETTING, f"{spec} registers one blob handler without the other: add @{missing}"
        )
    return found


class ProjectEncryption:
    """The project's `Encryption`, if it has one: the context each request's writes are
    encrypted under, and its blob handlers for the checkpointer."""

    def __init__(self, encryption: Encryption | None = None) -> None:
        self.encryption = encryption
        self.blobs = BlobEncryption(encryption) if encryption is not None else None
        self.json = JsonCipher(encryption, current_context)

    async def request_context(self, user: object, header: str | None) -> dict[str, Any]:
        """The header's context, as the project's `@encryption.context` handler makes it
        from the caller; as LangGraph's server does, a failing handler is logged and the
        header's context kept."""
        context = header_context(header)
        handler = None if self.encryption is None else self.encryption._context_handler
        if handler is None:
            return context
        try:
            derived = await handler(user, EncryptionContext(None, context))  # type: ignore[arg-type]
        except Exception:
            log.exception("the project's @encryption.context handler failed")
            return context
        if not isinstance(derived, dict):
            log.error("the project's @encryption.context handler returned %s, not a dict",
                      type(derived).__name__)  # fmt: skip
            return context
        return derived


class BlobEncryption:
    """The project's blob handlers over checkpoint values: each encrypted value's type
    gains `SUFFIX`, and its bytes carry the context it was encrypted under."""

    def __init__(self, encryption: Encryption) -> None:
        self.encryption = encryption
        self.enabled = encryption._blob_encryptor is not None

    async def encrypt(self, kind: str, blob: bytes | None) -> tuple[str, bytes | None]:
        if not self.enabled or blob is None or kind == "empty":
            return kind, blob
        context = current_context()
        handler = self.encryption._blob_encryptor
        assert handler is not None
        try:
            sealed = await handler(EncryptionContext("checkpoint", context), blob)
        except Exception as exc:
            raise CheckpointWriteError(
                f"the project's @encryption.encrypt.blob failed: {type(exc).__name__}: {exc}"
            ) from exc
        if not isinstance(sealed, bytes):
            raise CheckpointWriteError(
                f"the project's @encryption.encrypt.blob returned {type(sealed).__name__}, "
                "not bytes"
            )
        header = json.dumps(context, separators=(",", ":")).encode()
        return kind + SUFFIX, _LENGTH.pack(len(header)) + header + sealed

    async def decrypt(self, kind: str, blob: bytes | None) -> tuple[str, bytes | None]:
        if not kind.endswith(SUFFIX) or blob is None:
            return kind, blob
        handler = self.encryption._blob_decryptor
        if handler is None:
            raise CheckpointReadError(NOT_CONFIGURED)
        (size,) = _LENGTH.unpack_from(blob)
        context = json.loads(blob[_LENGTH.size : _LENGTH.size + size])
        try:
            opened = await handler(
                EncryptionContext("checkpoint", context), bytes(blob[_LENGTH.size + size :])
            )
        except Exception as exc:
            raise CheckpointReadError(
                f"a checkpoint value does not decrypt with the project's "
                f"@encryption.decrypt.blob ({type(exc).__name__}: {exc}): it was written "
                f"under another key or context, or altered"
            ) from exc
        if isinstance(opened, DecryptResult):
            # A replacement is not written back: see docs/how-to/postgresql.md.
            opened = opened.plaintext
        return kind.removesuffix(SUFFIX), opened


NOT_CONFIGURED = (
    "a checkpoint value is encrypted by a project's langgraph_sdk.Encryption, and none is "
    f"configured: set {SETTING} to it"
)
