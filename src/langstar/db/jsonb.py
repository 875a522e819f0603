"""JSONB parameters for what graphs hold: LangChain messages and other objects."""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb

from langstar.serde import dumps


def jsonb(value: Any) -> Jsonb:
    """`value` as a JSONB parameter, encoded as every JSON langstar sends is."""
    return Jsonb(value, dumps=dumps)


def jsonb_encoded(encoded: bytes) -> Jsonb:
    """JSON that is encoded already, as a JSONB parameter, so it is not encoded twice."""
    return Jsonb(encoded, dumps=_as_is)


def _as_is(encoded: bytes) -> bytes:
    return encoded
