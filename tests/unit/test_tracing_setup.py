"""Tracing is on only when an OTLP endpoint is set, and costs the app nothing when off."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from langstar.app import create_app
from langstar.settings import Settings, SettingsError
from langstar.tracing import setup
from langstar.tracing.asgi import RequestSpans

ENDPOINT = "http://127.0.0.1:4318"


@pytest.mark.parametrize(
    ("env", "on"),
    [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "x", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": ENDPOINT + "/v1/traces"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "  "}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT, "OTEL_SDK_DISABLED": "TRUE"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT, "OTEL_SDK_DISABLED": "false"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT, "OTEL_TRACES_EXPORTER": "none"}, False),
    ],
)
def test_traces_are_wanted_only_with_an_endpoint(env: dict[str, str], on: bool) -> None:
    assert setup.wanted(env) is on


def test_without_an_endpoint_nothing_is_installed(settings: Settings) -> None:
    assert setup.configure({}) is False
    assert not setup.tracing_on()
    assert not isinstance(trace.get_tracer_provider(), TracerProvider)
    assert isinstance(setup.tracer(), trace.NoOpTracer)
    app = create_app(settings)
    assert RequestSpans not in app.middleware


def test_a_protocol_other_than_http_protobuf_is_a_configuration_error() -> None:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
    with pytest.raises(SettingsError, match="OTEL_EXPORTER_OTLP_PROTOCOL"):
        setup.configure(env)
    assert not setup.tracing_on()
