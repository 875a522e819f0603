"""The process's tracer provider: installed once, and only when an OTLP endpoint is set."""

from __future__ import annotations

import os
from collections.abc import Mapping
from importlib.metadata import version

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from langstar.settings import SettingsError

ENDPOINTS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
PROTOCOLS = ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")

# The process's provider once installed: a tracer provider is global to a process, and the
# CLI and the app factory both ask for it.
_provider: TracerProvider | None = None


def wanted(env: Mapping[str, str]) -> bool:
    """Whether the environment asks for traces: an endpoint set, and the SDK not disabled."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if env.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return False
    return any(env.get(name, "").strip() for name in ENDPOINTS)


def configure(env: Mapping[str, str] | None = None) -> bool:
    """Install the OTLP/HTTP tracer provider if the environment asks for it; True when on.

    Idempotent. Without an endpoint nothing is installed, and tracing costs nothing.
    """
    global _provider
    if _provider is not None:
        return True
    env = os.environ if env is None else env
    if not wanted(env):
        return False
    for name in PROTOCOLS:
        protocol = env.get(name, "").strip()
        if protocol and protocol != "http/protobuf":
            raise SettingsError(name, f"{protocol!r}: langstar exports traces as http/protobuf")
    named = "OTEL_SERVICE_NAME" in env or "service.name=" in env.get("OTEL_RESOURCE_ATTRIBUTES", "")
    resource = Resource.create({} if named else {SERVICE_NAME: "langstar"})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _provider = provider
    return True


def tracing_on() -> bool:
    return _provider is not None


def tracer() -> trace.Tracer:
    """langstar's tracer (a no-op one while tracing is off)."""
    if _provider is None:
        return trace.NoOpTracer()
    return _provider.get_tracer("langstar", version("langstar"))
