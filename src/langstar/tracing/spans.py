"""A run's span, the trace context it is admitted under, and how it ended."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from opentelemetry import context, trace
from opentelemetry.trace import Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from langstar.tracing.setup import tracer, tracing_on

W3C = TraceContextTextMapPropagator()


def current_traceparent() -> str | None:
    """The W3C `traceparent` of the current span (the request's), or None when untraced."""
    if not tracing_on() or not trace.get_current_span().get_span_context().is_valid:
        return None
    carrier: dict[str, str] = {}
    W3C.inject(carrier)
    return carrier.get("traceparent")


class TracedRun(Protocol):
    """What a run's span names: a run's record."""

    run_id: uuid.UUID
    thread_id: uuid.UUID
    assistant_id: uuid.UUID
    kwargs: dict[str, Any]


@contextmanager
def run_span(run: TracedRun, graph_id: str) -> Iterator[None]:
    """The run's `invoke_agent` span, the child of the request that admitted the run.

    The request's context comes from the run's record (`kwargs["traceparent"]`), so a run
    that starts later still joins its caller's trace.
    """
    if not tracing_on():
        yield
        return
    traceparent = run.kwargs.get("traceparent")
    parent = W3C.extract({"traceparent": traceparent}) if traceparent else None
    span = tracer().start_span(
        f"invoke_agent {graph_id}",
        context=parent,
        kind=trace.SpanKind.INTERNAL,
        attributes={
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": graph_id,
            "gen_ai.agent.id": str(run.assistant_id),
            "gen_ai.conversation.id": str(run.thread_id),
            "langstar.run_id": str(run.run_id),
        },
    )
    token = context.attach(trace.set_span_in_context(span))
    try:
        yield
    finally:
        context.detach(token)
        span.end()


def run_failed(error: dict[str, str] | None, exc: BaseException | None = None) -> None:
    """Mark the current run span failed, with the exception when there is one."""
    span = trace.get_current_span()
    if error is None or not span.is_recording():
        return
    if exc is not None:
        span.record_exception(exc)
    span.set_attribute("error.type", error.get("error", "error"))
    span.set_status(Status(StatusCode.ERROR, error.get("message")))
