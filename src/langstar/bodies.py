"""The base of every JSON request body: read as LangGraph's Agent Server reads it."""

from __future__ import annotations

import msgspec


class RequestBody(msgspec.Struct, kw_only=True):
    """A JSON request body.

    A field it does not declare is ignored, as the Agent Server ignores what its OpenAPI
    schema does not name, so that a client written for it works here unchanged. A field
    the Agent Server knows and langstar cannot honour is declared all the same, and
    refused by name where the body is used: it is never silently dropped.
    """
