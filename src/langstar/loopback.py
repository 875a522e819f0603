"""`get_client()` with no URL, inside a graph, reaches this server in-process.

LangGraph templates schedule background runs that way. The SDK then sends its requests
through an in-process ASGI transport under the root path `/noauth`; they act for the
user whose run made them (`ACTING_FOR`), as on LangGraph's server, and need no
credentials. Nothing outside this process can send such a request: the root path is set
by the transport, not by anything a client sends, and the user comes from the run.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import httpx
from langgraph_sdk._async import client as sdk_client
from langgraph_sdk._shared.utilities import _registered_transports
from langgraph_sdk.client import configure_loopback_transports

from langstar.identity import LOOPBACK_ROOT

# The SDK defers an in-process transport made while the server starts until the server
# hands it the app (`configure_loopback_transports`).
DEFER = "__LANGGRAPH_DEFER_LOOPBACK_TRANSPORT"

# The SDK's async client looks this factory up when it makes a client with no URL.
_HOOK = "get_asgi_transport"
_apps: list[Any] = []
_original = getattr(sdk_client, _HOOK)


def _transport_class() -> Callable[..., httpx.ASGITransport]:
    def make(app: Any = None, root_path: str = LOOPBACK_ROOT) -> httpx.ASGITransport:
        # The SDK keeps every transport it defers, for the server to configure; the ones
        # made here need nothing more, so the list does not grow with every client.
        _registered_transports[:] = [t for t in _registered_transports if t.app is None]
        return httpx.ASGITransport(app=app or _apps[-1], root_path=root_path)

    return make


def install(app: Any) -> Callable[[], None]:
    """Route the SDK's in-process transports to `app`; returns the undo, for shutdown."""
    deferred = DEFER not in os.environ
    os.environ.setdefault(DEFER, "true")
    _apps.append(app)
    # A transport made after start-up would wait for the server forever: the SDK only
    # hands it the app through this factory, which now knows it.
    setattr(sdk_client, _HOOK, _transport_class)
    # Any transport deferred before now (a client made before the server started).
    configure_loopback_transports(app)

    def uninstall() -> None:
        _apps.remove(app)
        if not _apps:
            setattr(sdk_client, _HOOK, _original)
            if deferred:
                os.environ.pop(DEFER, None)

    return uninstall
