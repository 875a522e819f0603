"""OpenTelemetry traces, set up from the standard `OTEL_*` variables; off without an endpoint."""
