"""Traced in the app itself: refused requests too, and a run's trace context only its owner's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from langstar.tracing import setup
from tests.support.apps import MakeApp
from tests.support.asgi import asgi_client
from tests.support.auth import HeaderAuthProvider

ALICE, BOB = {"x-user": "alice"}, {"x-user": "bob"}
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture
def exported(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """Tracing on for this test's apps, with a provider of its own (not the process's)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(setup, "_provider", provider)
    yield exporter
    provider.shutdown()


async def test_a_refused_request_is_traced_and_a_runs_context_stays_its_owners(
    make_app: MakeApp, exported: InMemorySpanExporter
) -> None:
    async with asgi_client(make_app(None, HeaderAuthProvider())) as client:
        refused = await client.post("/threads", json={}, headers={"traceparent": TRACEPARENT})
        assert refused.status_code == 401
        thread = (await client.post("/threads", json={}, headers=ALICE)).json()["thread_id"]
        body = {"assistant_id": "agent", "input": {"messages": [{"role": "user", "content": "x"}]}}
        headers = {**ALICE, "traceparent": TRACEPARENT}
        response = await client.post(f"/threads/{thread}/runs/wait", json=body, headers=headers)
        assert response.status_code == 200, response.text
        location = response.headers["content-location"]
        run = (await client.get(location, headers=ALICE)).json()
        assert (await client.get(location, headers=BOB)).status_code == 404
    spans = exported.get_finished_spans()
    first = next(s for s in spans if s.kind == SpanKind.SERVER)
    assert first.name == "POST /threads"
    assert (first.attributes or {})["http.response.status_code"] == 401
    assert first.status.is_ok  # the caller's mistake, not the server's
    request = next(s for s in spans if s.name == "POST /threads/{thread_id}/runs/wait")
    # The run keeps the request's context, which only those who may read the run see.
    trace_id, span_id = run["kwargs"]["traceparent"].split("-")[1:3]
    assert (int(trace_id, 16), int(span_id, 16)) == (
        request.context.trace_id,
        request.context.span_id,
    )
    agent = next(s for s in spans if s.name == "invoke_agent agent")
    assert agent.parent is not None
    assert agent.parent.span_id == request.context.span_id
