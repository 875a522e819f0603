"""Whom a run acts for, as its row (or its cron's) keeps it, so any server can run it."""

from __future__ import annotations

from typing import Any

from langstar.db.encryption import current_context
from langstar.identity import Identity
from langstar.serde import to_jsonable


def identity_record(identity: Identity) -> dict[str, Any]:
    """The identity as a row keeps it, with the encryption context of the request."""
    return {
        "user_id": identity.user_id,
        "is_authenticated": identity.is_authenticated,
        "permissions": list(identity.permissions),
        "user": to_jsonable(dict(identity.user)),
        "shared": identity.shared,
        # Its checkpoints are encrypted under the context its request gave.
        "encryption_context": current_context(),
    }


def identity_of(record: dict[str, Any] | None) -> Identity:
    """The identity a row keeps."""
    record = record or {}
    return Identity(
        user_id=str(record.get("user_id") or "anonymous"),
        is_authenticated=bool(record.get("is_authenticated")),
        permissions=tuple(record.get("permissions") or ()),
        user=dict(record.get("user") or {}),
        shared=bool(record.get("shared")),
    )
